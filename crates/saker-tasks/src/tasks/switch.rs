//! `io.kestra.plugin.core.flow.Switch`: runs the task list of the case whose key equals the rendered `value`, else `defaults`.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `cases`, `defaults`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `Switch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Rendered and compared to the case keys.
    pub value: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Switch",
    aliases: [
        "io.kestra.core.tasks.flows.Switch",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run the tasks of the case matching a value.",
    slots: [
        Slot::TaskMap("cases"),
        Slot::Tasks("defaults"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
