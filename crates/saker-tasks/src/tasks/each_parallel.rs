//! `io.kestra.plugin.core.flow.EachParallel`: deprecated: runs every (value, task) pair in parallel.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use crate::shared::ValuesSource;
use saker_task::prelude::*;

/// Properties of `EachParallel`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The values: a list, or a string rendering to a JSON array.
    pub value: ValuesSource,
    /// Maximum number of task runs at once (default 0 = unlimited).
    pub concurrent: Option<Property<u32>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.EachParallel",
    aliases: [
        "io.kestra.core.tasks.flows.EachParallel",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks for each value, in parallel (deprecated).",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
