//! `io.kestra.plugin.core.kv.Delete`: deletes a key of the namespace KV store.

use saker_task::prelude::*;

/// Properties of `Delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The key.
    pub key: Property<String>,
    /// Namespace of the KV store (default: the flow namespace).
    pub namespace: Option<Property<String>>,
    /// Fail when the key is missing (default false).
    pub error_on_missing: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.Delete",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete a key from the namespace KV store.",
    slots: [],
    params: Params,
}
