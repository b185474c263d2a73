//! `io.kestra.plugin.core.condition.ExecutionNamespace`: true when the upstream execution namespace matches.

use saker_task::prelude::*;

/// Properties of `ExecutionNamespace`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The namespace.
    pub namespace: Property<String>,
    /// How the namespace is compared (default `EQUALS`).
    pub comparison: Option<Property<Comparison>>,
    /// Shortcut for `comparison: PREFIX`.
    pub prefix: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.ExecutionNamespace",
    aliases: [
        "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
        "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when the upstream namespace matches.",
    slots: [],
    params: Params,
}

/// How `ExecutionNamespace` compares namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Comparison {
    /// Same namespace.
    Equals,
    /// The upstream namespace starts with it.
    Prefix,
    /// The upstream namespace ends with it.
    Suffix,
}
