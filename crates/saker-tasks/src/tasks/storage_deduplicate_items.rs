//! `io.kestra.plugin.core.storage.DeduplicateItems`: keeps the last item of each key computed by an expression.

use saker_task::prelude::*;

/// Properties of `DeduplicateItems`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the ION file.
    pub from: Property<String>,
    /// Expression computing the key of an item.
    pub expr: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.DeduplicateItems",
    aliases: [
        "io.kestra.core.tasks.storages.DeduplicateItems",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Remove duplicate items of an ION file.",
    slots: [],
    params: Params,
}
