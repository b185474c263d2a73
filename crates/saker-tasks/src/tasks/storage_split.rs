//! `io.kestra.plugin.core.storage.Split`: splits an internal-storage file by size, rows or number of partitions.

use saker_task::prelude::*;

/// Properties of `Split`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub from: Property<String>,
    /// Size of each part, e.g. `10MB`.
    pub bytes: Option<Property<String>>,
    /// Number of parts.
    pub partitions: Option<Property<u32>>,
    /// Rows per part.
    pub rows: Option<Property<u64>>,
    /// Row separator (default `\n`).
    pub separator: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Split",
    aliases: [
        "io.kestra.core.tasks.storages.Split",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Split a file into several.",
    slots: [],
    params: Params,
}
