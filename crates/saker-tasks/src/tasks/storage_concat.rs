//! `io.kestra.plugin.core.storage.Concat`: concatenates internal-storage files into one.

use saker_task::prelude::*;

/// Properties of `Concat`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URIs of the files, or an expression rendering to a JSON list.
    pub files: Property<Vec<String>>,
    /// Written between files.
    pub separator: Option<Property<String>>,
    /// Extension of the result (default `.tmp`).
    pub extension: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Concat",
    aliases: [
        "io.kestra.core.tasks.storages.Concat",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Concatenate files.",
    slots: [],
    params: Params,
}
