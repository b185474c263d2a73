//! `io.kestra.plugin.core.execution.Exit`: ends the execution in a given state.

use saker_task::prelude::*;

/// Properties of `Exit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Final state (default `SUCCESS`).
    pub state: Option<Property<ExitState>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Exit",
    aliases: [],
    kind: PluginKind::Task(TaskKind::ExecutionUpdating),
    title: "End the execution in a given state.",
    slots: [],
    params: Params,
}

/// The state an `Exit` ends the execution in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExitState {
    /// Success (default).
    Success,
    /// Warning.
    Warning,
    /// Killed; also kills running task runs.
    Killed,
    /// Failed.
    Failed,
    /// Cancelled (state `CANCELLED`).
    Canceled,
}
