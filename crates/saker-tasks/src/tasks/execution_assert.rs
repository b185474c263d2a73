//! `io.kestra.plugin.core.execution.Assert`: renders each condition and fails when any of them is falsy.

use saker_task::prelude::*;

/// Properties of `Assert`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Expressions that must all render truthy.
    pub conditions: Property<Vec<String>>,
    /// Message added to the failure.
    pub error_message: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Assert",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Fail when any condition is falsy.",
    slots: [],
    params: Params,
}
