//! `io.kestra.plugin.core.condition.ExecutionLabels`: true when the upstream execution has all the given labels.

use crate::shared::Labels;
use saker_task::prelude::*;

/// Properties of `ExecutionLabels`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Required labels (map or list of `{key, value}`).
    pub labels: Labels,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.ExecutionLabels",
    aliases: [
        "io.kestra.core.models.conditions.types.ExecutionLabelsCondition",
        "io.kestra.plugin.core.condition.ExecutionLabelsCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when the upstream execution has all the labels.",
    slots: [],
    params: Params,
}
