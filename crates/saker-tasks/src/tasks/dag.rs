//! `io.kestra.plugin.core.flow.Dag`: starts each task once all the tasks it depends on have terminated.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `Dag`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Maximum number of tasks running at once (default 0 = unlimited).
    pub concurrent: Option<Property<u32>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Dag",
    aliases: [
        "io.kestra.core.tasks.flows.Dag",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks as a directed acyclic graph of dependencies.",
    slots: [
        Slot::DagTasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
