//! `io.kestra.plugin.core.condition.DayWeekInMonth`: true when the date is the first/second/third/fourth/last given weekday of its month.

use crate::shared::DayOfWeek;
use saker_task::prelude::*;

/// Properties of `DayWeekInMonth`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Date tested (default `{{ trigger.date }}`).
    pub date: Option<Property<String>>,
    /// The day.
    pub day_of_week: Property<DayOfWeek>,
    /// Which occurrence in the month.
    pub day_in_month: Property<DayInMonth>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.DayWeekInMonth",
    aliases: [
        "io.kestra.core.models.conditions.types.DayWeekInMonthCondition",
        "io.kestra.plugin.core.condition.DayWeekInMonthCondition",
    ],
    kind: PluginKind::Condition,
    title: "True on the n-th given weekday of the month.",
    slots: [],
    params: Params,
}

/// Which occurrence of a weekday in a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DayInMonth {
    /// First.
    First,
    /// Second.
    Second,
    /// Third.
    Third,
    /// Fourth.
    Fourth,
    /// Last.
    Last,
}
