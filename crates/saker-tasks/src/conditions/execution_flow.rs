//! `io.kestra.plugin.core.condition.ExecutionFlow`: true when the upstream execution belongs to the given flow.

use saker_task::prelude::*;

/// Properties of `ExecutionFlow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the flow.
    pub namespace: Property<String>,
    /// Id of the flow.
    pub flow_id: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.ExecutionFlow",
    aliases: [
        "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
        "io.kestra.plugin.core.condition.ExecutionFlowCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when the upstream execution is of a given flow.",
    slots: [],
    params: Params,
}
