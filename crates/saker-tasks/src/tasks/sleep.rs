//! `io.kestra.plugin.core.flow.Sleep`: blocks the worker for a duration.

use saker_task::prelude::*;

/// Properties of `Sleep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// How long to sleep.
    pub duration: Property<IsoDuration>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Sleep",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Wait for a duration.",
    slots: [],
    params: Params,
}
