//! `io.kestra.plugin.core.storage.Reverse`: writes the lines of a file in reverse order.

use saker_task::prelude::*;

/// Properties of `Reverse`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub from: Property<String>,
    /// Line separator (default `\n`).
    pub separator: Option<Property<String>>,
    /// Charset (default `UTF-8`).
    pub charset: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Reverse",
    aliases: [
        "io.kestra.core.tasks.storages.Reverse",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Reverse the lines of a file.",
    slots: [],
    params: Params,
}
