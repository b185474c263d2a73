//! `io.kestra.plugin.core.storage.Delete`: deletes an internal-storage file.

use saker_task::prelude::*;

/// Properties of `Delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub uri: Property<String>,
    /// Fail when the file is missing (default false).
    pub error_on_missing: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Delete",
    aliases: [
        "io.kestra.core.tasks.storages.Delete",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete a file from internal storage.",
    slots: [],
    params: Params,
}
