//! `io.kestra.plugin.core.flow.EachSequential`: deprecated predecessor of `ForEach` with `concurrencyLimit: 1`.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use crate::shared::ValuesSource;
use saker_task::prelude::*;

/// Properties of `EachSequential`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The values: a list, or a string rendering to a JSON array.
    pub value: ValuesSource,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.EachSequential",
    aliases: [
        "io.kestra.core.tasks.flows.EachSequential",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks for each value, sequentially (deprecated).",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
