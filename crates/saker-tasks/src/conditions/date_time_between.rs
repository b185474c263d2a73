//! `io.kestra.plugin.core.condition.DateTimeBetween`: true when the date is after `after` and before `before`.

use saker_task::prelude::*;

/// Properties of `DateTimeBetween`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Date tested (default `{{ trigger.date }}`).
    pub date: Option<Property<String>>,
    /// Lower bound (zoned date-time).
    pub after: Option<Property<String>>,
    /// Upper bound (zoned date-time).
    pub before: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.DateTimeBetween",
    aliases: [
        "io.kestra.core.models.conditions.types.DateTimeBetweenCondition",
        "io.kestra.plugin.core.condition.DateTimeBetweenCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when a date is between two date-times.",
    slots: [],
    params: Params,
}
