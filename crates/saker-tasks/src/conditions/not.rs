//! `io.kestra.plugin.core.condition.Not`: negates a list of conditions.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `conditions`.

use saker_task::prelude::*;

/// Properties of `Not`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.Not",
    aliases: [
        "io.kestra.core.models.conditions.types.NotCondition",
        "io.kestra.plugin.core.condition.NotCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when none of the conditions is true.",
    slots: [
        Slot::Typed { prop: "conditions", kind: PluginKind::Condition, many: true },
    ],
    params: Params,
}
