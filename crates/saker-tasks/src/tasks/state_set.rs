//! `io.kestra.plugin.core.state.Set`: deprecated: deep-merges data into a named state stored in the KV store.

use saker_task::prelude::*;

/// Properties of `Set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// State name (default `default`).
    pub name: Option<Property<String>>,
    /// Share the state with the whole namespace instead of the flow (default false).
    pub namespace: Option<Property<bool>>,
    /// Isolate the state per `taskrun.value` (default true).
    pub taskrun_value: Option<Property<bool>>,
    /// Data merged into the state.
    pub data: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.state.Set",
    aliases: [
        "io.kestra.core.tasks.states.Set",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Merge data into a flow state (deprecated).",
    slots: [],
    params: Params,
}
