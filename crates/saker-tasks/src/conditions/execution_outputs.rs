//! `io.kestra.plugin.core.condition.ExecutionOutputs`: true when the upstream execution has outputs and the expression is true.

use saker_task::prelude::*;

/// Properties of `ExecutionOutputs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Expression on `trigger.outputs`.
    pub expression: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.ExecutionOutputs",
    aliases: [
        "io.kestra.core.models.conditions.types.ExecutionOutputsCondition",
        "io.kestra.plugin.core.condition.ExecutionOutputsCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when the upstream outputs satisfy an expression.",
    slots: [],
    params: Params,
}
