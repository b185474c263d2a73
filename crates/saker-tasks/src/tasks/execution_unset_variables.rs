//! `io.kestra.plugin.core.execution.UnsetVariables`: removes keys from the execution variables.

use saker_task::prelude::*;

/// Properties of `UnsetVariables`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Names of the variables to remove.
    pub variables: Property<Vec<String>>,
    /// Do not fail when a variable is missing (default false).
    pub ignore_missing: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.UnsetVariables",
    aliases: [],
    kind: PluginKind::Task(TaskKind::ExecutionUpdating),
    title: "Remove execution variables.",
    slots: [],
    params: Params,
}
