//! `io.kestra.plugin.core.trigger.ScheduleOnDates`: starts an execution at each of a list of dates.

use crate::shared::RecoverMissedSchedules;
use saker_task::prelude::*;

/// Properties of `ScheduleOnDates`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Zoned date-times of the executions.
    pub dates: Property<Vec<String>>,
    /// IANA time zone (default: server zone).
    pub timezone: Option<Property<String>>,
    /// Execution inputs (rendered).
    pub inputs: Option<Property<Map<String, Value>>>,
    /// How missed dates are caught up.
    pub recover_missed_schedules: Option<Property<RecoverMissedSchedules>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.trigger.ScheduleOnDates",
    aliases: [],
    kind: PluginKind::Trigger,
    title: "Start executions at given dates.",
    slots: [],
    params: Params,
}
