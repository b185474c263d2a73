//! `io.kestra.plugin.core.storage.Write`: writes a string to a new internal-storage file.

use saker_task::prelude::*;

/// Properties of `Write`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Content of the file.
    pub content: Property<String>,
    /// Extension of the file (default `.ion`).
    pub extension: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Write",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Write content to a file.",
    slots: [],
    params: Params,
}
