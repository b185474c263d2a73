//! `io.kestra.plugin.core.condition.Weekend`: true when the date is a Saturday or a Sunday.

use saker_task::prelude::*;

/// Properties of `Weekend`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Date tested (default `{{ trigger.date }}`).
    pub date: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.Weekend",
    aliases: [
        "io.kestra.core.models.conditions.types.WeekendCondition",
        "io.kestra.plugin.core.condition.WeekendCondition",
    ],
    kind: PluginKind::Condition,
    title: "True on Saturdays and Sundays.",
    slots: [],
    params: Params,
}
