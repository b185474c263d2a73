//! `io.kestra.plugin.core.output.OutputValues`: renders each value of a map and returns them as outputs.

use saker_task::prelude::*;

/// Properties of `OutputValues`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Values to output; strings are rendered, other values keep their structure.
    pub values: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.output.OutputValues",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Output rendered values.",
    slots: [],
    params: Params,
}
