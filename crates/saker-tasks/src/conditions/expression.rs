//! `io.kestra.plugin.core.condition.Expression`: true when the rendered expression is neither blank nor `false`.

use saker_task::prelude::*;

/// Properties of `Expression`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The expression.
    pub expression: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.Expression",
    aliases: [
        "io.kestra.core.models.conditions.types.ExpressionCondition",
        "io.kestra.plugin.core.condition.ExpressionCondition",
        "io.kestra.core.models.conditions.types.VariableCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when an expression renders true.",
    slots: [],
    params: Params,
}
