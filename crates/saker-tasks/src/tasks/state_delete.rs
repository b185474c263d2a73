//! `io.kestra.plugin.core.state.Delete`: deprecated: deletes a named state.

use saker_task::prelude::*;

/// Properties of `Delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// State name (default `default`).
    pub name: Option<Property<String>>,
    /// Share the state with the whole namespace instead of the flow (default false).
    pub namespace: Option<Property<bool>>,
    /// Isolate the state per `taskrun.value` (default true).
    pub taskrun_value: Option<Property<bool>>,
    /// Fail when the state is missing (default false).
    pub error_on_missing: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.state.Delete",
    aliases: [
        "io.kestra.core.tasks.states.Delete",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete a flow state (deprecated).",
    slots: [],
    params: Params,
}
