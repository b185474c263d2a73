//! `io.kestra.plugin.core.flow.AllowFailure`: like `Sequential`, but a failure of the children ends in WARNING.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `AllowFailure`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.AllowFailure",
    aliases: [
        "io.kestra.core.tasks.flows.AllowFailure",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks and turn their failure into a warning (legacy).",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
