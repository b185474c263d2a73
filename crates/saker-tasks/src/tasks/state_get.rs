//! `io.kestra.plugin.core.state.Get`: deprecated: reads a named state.

use saker_task::prelude::*;

/// Properties of `Get`.
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
    type_name: "io.kestra.plugin.core.state.Get",
    aliases: [
        "io.kestra.core.tasks.states.Get",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Read a flow state (deprecated).",
    slots: [],
    params: Params,
}
