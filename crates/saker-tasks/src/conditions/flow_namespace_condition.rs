//! `io.kestra.plugin.core.condition.FlowNamespaceCondition`: legacy: true when the current flow namespace equals (or starts with) the given one.

use saker_task::prelude::*;

/// Properties of `FlowNamespaceCondition`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The namespace.
    pub namespace: Property<String>,
    /// Compare as a prefix (default false).
    pub prefix: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.FlowNamespaceCondition",
    aliases: [
        "io.kestra.core.models.conditions.types.FlowNamespaceCondition",
    ],
    kind: PluginKind::Condition,
    title: "True for a given namespace (legacy).",
    slots: [],
    params: Params,
}
