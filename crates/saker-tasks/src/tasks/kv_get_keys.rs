//! `io.kestra.plugin.core.kv.GetKeys`: lists the keys of the namespace KV store, optionally by prefix.

use saker_task::prelude::*;

/// Properties of `GetKeys`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Only keys starting with this prefix.
    pub prefix: Option<Property<String>>,
    /// Namespace of the KV store (default: the flow namespace).
    pub namespace: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.GetKeys",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "List the keys of the namespace KV store.",
    slots: [],
    params: Params,
}
