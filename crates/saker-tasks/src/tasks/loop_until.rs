//! `io.kestra.plugin.core.flow.LoopUntil`: runs its children repeatedly until `condition` renders truthy.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `LoopUntil`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Rendered after each iteration; truthy stops the loop.
    pub condition: Property<String>,
    /// Fail when `maxIterations` or `maxDuration` is reached (default false).
    pub fail_on_max_reached: Option<Property<bool>>,
    /// Limits and pace of the iterations.
    pub check_frequency: Option<CheckFrequency>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.LoopUntil",
    aliases: [
        "io.kestra.plugin.core.flow.WaitFor",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks repeatedly until a condition is true.",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}

/// Limits and pace of `LoopUntil` iterations.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckFrequency {
    /// Maximum number of iterations.
    pub max_iterations: Option<Property<u32>>,
    /// Maximum total duration.
    pub max_duration: Option<Property<IsoDuration>>,
    /// Delay between iterations (default `PT1M`).
    pub interval: Option<Property<IsoDuration>>,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn check_frequency_is_typed() {
        let ty = "io.kestra.plugin.core.flow.WaitFor";
        assert_valid(
            ty,
            json!({"condition": "{{ true }}", "checkFrequency": {"maxIterations": 3, "interval": "PT0.2S"}}),
        );
        assert_invalid(
            ty,
            json!({"condition": "x", "checkFrequency": {"maxIteration": 3}}),
            "checkFrequency.maxIteration",
            "Unrecognized field",
        );
    }
}
