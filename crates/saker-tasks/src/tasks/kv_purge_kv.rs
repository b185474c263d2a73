//! `io.kestra.plugin.core.kv.PurgeKV`: deletes keys matching patterns from one or several namespace KV stores.

use saker_task::prelude::*;

/// Properties of `PurgeKV`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Glob pattern of the keys to delete.
    pub key_pattern: Option<Property<String>>,
    /// Namespaces to purge.
    pub namespaces: Option<Property<Vec<String>>>,
    /// Glob pattern of the namespaces to purge.
    pub namespace_pattern: Option<Property<String>>,
    /// Delete only expired keys (default true).
    pub expired_only: Option<Property<bool>>,
    /// Include child namespaces (default true).
    pub include_child_namespaces: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.PurgeKV",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete keys from KV stores in bulk.",
    slots: [],
    params: Params,
}
