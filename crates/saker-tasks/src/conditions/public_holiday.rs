//! `io.kestra.plugin.core.condition.PublicHoliday`: true when the date is a public holiday.

use saker_task::prelude::*;

/// Properties of `PublicHoliday`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Date tested (default `{{ trigger.date }}`).
    pub date: Option<Property<String>>,
    /// ISO-3166 alpha-2 country code.
    pub country: Option<Property<String>>,
    /// Country subdivision.
    pub sub_division: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.PublicHoliday",
    aliases: [
        "io.kestra.core.models.conditions.types.PublicHolidayCondition",
        "io.kestra.plugin.core.condition.PublicHolidayCondition",
    ],
    kind: PluginKind::Condition,
    title: "True on public holidays.",
    slots: [],
    params: Params,
}
