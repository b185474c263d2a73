//! `io.kestra.plugin.core.trigger.Schedule`: starts an execution at every tick of a cron expression.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `scheduleConditions`.

use crate::shared::RecoverMissedSchedules;
use saker_task::prelude::*;

/// Properties of `Schedule`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Cron expression (5 fields, 6 with `withSeconds`) or a nickname such as `@daily`.
    pub cron: Property<String>,
    /// The cron has a leading seconds field (default false).
    pub with_seconds: Option<Property<bool>>,
    /// IANA time zone the cron is evaluated in (default: server zone).
    pub timezone: Option<Property<String>>,
    /// Execution inputs (rendered).
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Skip ticks older than this when evaluated late.
    pub late_maximum_delay: Option<Property<IsoDuration>>,
    /// How missed ticks are caught up (default: server config, `ALL`).
    pub recover_missed_schedules: Option<Property<RecoverMissedSchedules>>,
    /// Deprecated backfill declaration (`start`, `end`...).
    pub backfill: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.trigger.Schedule",
    aliases: [
        "io.kestra.core.models.triggers.types.Schedule",
    ],
    kind: PluginKind::Trigger,
    title: "Start executions on a cron schedule.",
    slots: [
        Slot::Typed { prop: "scheduleConditions", kind: PluginKind::Condition, many: true },
    ],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn schedule_props() {
        let ty = "io.kestra.plugin.core.trigger.Schedule";
        assert_valid(
            ty,
            json!({"cron": "0 9 * * MON-FRI", "timezone": "Europe/Paris", "recoverMissedSchedules": "LAST"}),
        );
        assert_valid(
            ty,
            json!({"cron": "@daily", "backfill": {"start": "2020-01-01T00:00:00+02:00"}}),
        );
        assert_invalid(
            ty,
            json!({"cron": "* * * * *", "interval": "PT1M"}),
            "interval",
            "Unrecognized field",
        );
        assert_invalid(ty, json!({}), "", "missing required property \"cron\"");
    }
}
