//! `io.kestra.plugin.core.storage.Size`: returns the size in bytes of an internal-storage file.

use saker_task::prelude::*;

/// Properties of `Size`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub uri: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Size",
    aliases: [
        "io.kestra.core.tasks.storages.Size",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Get the size of a file.",
    slots: [],
    params: Params,
}
