//! `io.kestra.plugin.core.execution.Fail`: fails the task, always or when `condition` renders truthy.

use saker_task::prelude::*;

/// Properties of `Fail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Fail only when this renders truthy.
    pub condition: Option<Property<String>>,
    /// Failure message (default `Task failure`).
    pub error_message: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Fail",
    aliases: [
        "io.kestra.core.tasks.executions.Fail",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Fail the task, optionally on a condition.",
    slots: [],
    params: Params,
}
