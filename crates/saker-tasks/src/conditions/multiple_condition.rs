//! `io.kestra.plugin.core.condition.MultipleCondition`: remembers each named condition once satisfied and is true when all are within the time window.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `conditions`.

use crate::shared::TimeWindow;
use saker_task::prelude::*;

/// Properties of `MultipleCondition`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Id under which satisfied conditions are remembered.
    pub id: Property<String>,
    /// The window within which all conditions must be satisfied.
    pub time_window: Option<TimeWindow>,
    /// Deprecated: window length (use `timeWindow`).
    pub window: Option<IsoDuration>,
    /// Deprecated: window start shift (use `timeWindow`).
    pub window_advance: Option<IsoDuration>,
    /// Forget satisfied conditions once true (default true).
    pub reset_on_success: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.MultipleCondition",
    aliases: [
        "io.kestra.core.models.conditions.types.MultipleCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when all named conditions were satisfied within a window.",
    slots: [
        Slot::Typed { prop: "conditions", kind: PluginKind::Condition, many: true },
    ],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn legacy_window_fields() {
        let ty = "io.kestra.plugin.core.condition.MultipleCondition";
        assert_valid(
            ty,
            json!({"id": "m", "window": "P1D", "windowAdvance": "P0D"}),
        );
        assert_valid(
            ty,
            json!({"id": "m", "timeWindow": {"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"}}),
        );
        assert_invalid(
            ty,
            json!({"window": "P1D"}),
            "",
            "missing required property \"id\"",
        );
    }
}
