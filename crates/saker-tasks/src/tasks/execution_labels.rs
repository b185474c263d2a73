//! `io.kestra.plugin.core.execution.Labels`: adds or overwrites labels of the current execution.

use crate::shared::Labels;
use saker_task::prelude::*;

/// Properties of `Labels`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// A map, a list of `{key, value}`, or an expression rendering to a JSON object.
    pub labels: Labels,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Labels",
    aliases: [
        "io.kestra.core.tasks.executions.Labels",
    ],
    kind: PluginKind::Task(TaskKind::ExecutionUpdating),
    title: "Add or overwrite execution labels.",
    slots: [],
    params: Params,
}
