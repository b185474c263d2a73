//! `io.kestra.plugin.core.flow.Sequential`: runs its child tasks one after another.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `Sequential`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Sequential",
    aliases: [
        "io.kestra.core.tasks.flows.Sequential",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks one after another.",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
