//! `io.kestra.plugin.core.flow.Pause`: pauses the execution until a manual resume or until `pauseDuration` elapses.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `onPause`, `tasks`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `Pause`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Resume automatically after this duration (legacy name `delay`).
    #[serde(alias = "delay")]
    pub pause_duration: Option<Property<IsoDuration>>,
    /// What happens when `pauseDuration` elapses (default `RESUME`).
    pub behavior: Option<Property<PauseBehavior>>,
    /// Inputs requested when resuming (same shape as flow inputs; checked by flow validation).
    pub on_resume: Option<Vec<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Pause",
    aliases: [
        "io.kestra.core.tasks.flows.Pause",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Pause the execution until it is resumed or a delay elapses.",
    slots: [
        Slot::Task("onPause"),
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}

/// What a `Pause` does when its `pauseDuration` elapses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum PauseBehavior {
    /// Resume: the task succeeds.
    Resume,
    /// The task ends in WARNING.
    Warn,
    /// The task fails.
    Fail,
    /// The execution is cancelled.
    Cancel,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn delay_is_the_legacy_name_of_pause_duration() {
        let ty = "io.kestra.plugin.core.flow.Pause";
        assert_valid(ty, json!({"delay": "PT1S"}));
        assert_valid(
            ty,
            json!({"pauseDuration": "PT1H", "behavior": "FAIL", "onResume": [{"id": "a", "type": "STRING"}]}),
        );
        assert_invalid(
            ty,
            json!({"pauseDuration": "1 hour"}),
            "pauseDuration",
            "invalid ISO-8601 duration",
        );
        assert_invalid(
            ty,
            json!({"behavior": "STOP"}),
            "behavior",
            "unknown variant `STOP`",
        );
    }
}
