//! `io.kestra.plugin.core.condition.DayWeek`: true when the date falls on the given day of the week.

use crate::shared::DayOfWeek;
use saker_task::prelude::*;

/// Properties of `DayWeek`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Date tested (default `{{ trigger.date }}`).
    pub date: Option<Property<String>>,
    /// The day.
    pub day_of_week: Property<DayOfWeek>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.DayWeek",
    aliases: [
        "io.kestra.core.models.conditions.types.DayWeekCondition",
        "io.kestra.plugin.core.condition.DayWeekCondition",
    ],
    kind: PluginKind::Condition,
    title: "True on a given day of the week.",
    slots: [],
    params: Params,
}
