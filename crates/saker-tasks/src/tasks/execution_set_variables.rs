//! `io.kestra.plugin.core.execution.SetVariables`: deep-merges variables into the execution variables (`vars.*`).

use saker_task::prelude::*;

/// Properties of `SetVariables`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Variables to set.
    pub variables: Property<Map<String, Value>>,
    /// Overwrite existing keys (default true).
    pub overwrite: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.SetVariables",
    aliases: [],
    kind: PluginKind::Task(TaskKind::ExecutionUpdating),
    title: "Set execution variables.",
    slots: [],
    params: Params,
}
