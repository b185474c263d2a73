//! `io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles`: deletes the current execution's internal-storage files.

use saker_task::prelude::*;

/// Properties of `PurgeCurrentExecutionFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    aliases: [
        "io.kestra.core.tasks.storages.PurgeExecution",
        "io.kestra.plugin.core.storage.PurgeExecution",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete the current execution's storage files.",
    slots: [],
    params: Params,
}
