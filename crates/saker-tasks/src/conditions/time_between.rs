//! `io.kestra.plugin.core.condition.TimeBetween`: true when the time of day of the date is between two offset times.

use saker_task::prelude::*;

/// Properties of `TimeBetween`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Date tested (default `{{ trigger.date }}`).
    pub date: Option<Property<String>>,
    /// Lower bound, e.g. `09:00:00+01:00`.
    pub after: Option<Property<String>>,
    /// Upper bound.
    pub before: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.TimeBetween",
    aliases: [
        "io.kestra.core.models.conditions.types.TimeBetweenCondition",
        "io.kestra.plugin.core.condition.TimeBetweenCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when the time of day is between two times.",
    slots: [],
    params: Params,
}
