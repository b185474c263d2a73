//! `io.kestra.plugin.core.condition.FlowCondition`: legacy: true when the current flow is the given one.

use saker_task::prelude::*;

/// Properties of `FlowCondition`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the flow.
    pub namespace: Property<String>,
    /// Id of the flow.
    pub flow_id: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.FlowCondition",
    aliases: [
        "io.kestra.core.models.conditions.types.FlowCondition",
    ],
    kind: PluginKind::Condition,
    title: "True for a given flow (legacy).",
    slots: [],
    params: Params,
}
