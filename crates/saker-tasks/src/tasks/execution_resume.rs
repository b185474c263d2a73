//! `io.kestra.plugin.core.execution.Resume`: resumes a paused execution, optionally with `onResume` inputs.

use saker_task::prelude::*;

/// Properties of `Resume`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Execution to resume (default: current).
    pub execution_id: Option<Property<String>>,
    /// Namespace of the execution (default: current).
    pub namespace: Option<Property<String>>,
    /// Flow of the execution (default: current).
    pub flow_id: Option<Property<String>>,
    /// Inputs for the paused task's `onResume`.
    pub inputs: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Resume",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Resume a paused execution.",
    slots: [],
    params: Params,
}
