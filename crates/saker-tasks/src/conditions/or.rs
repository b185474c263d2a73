//! `io.kestra.plugin.core.condition.Or`: true when any condition is true.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `conditions`.

use saker_task::prelude::*;

/// Properties of `Or`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.Or",
    aliases: [
        "io.kestra.core.models.conditions.types.OrCondition",
        "io.kestra.plugin.core.condition.OrCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when any of the conditions is true.",
    slots: [
        Slot::Typed { prop: "conditions", kind: PluginKind::Condition, many: true },
    ],
    params: Params,
}
