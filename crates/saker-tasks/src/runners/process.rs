//! `io.kestra.plugin.core.runner.Process`: runs script tasks as local processes on the worker.

use saker_task::prelude::*;

/// Properties of `Process`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

register_plugin! {
    type_name: "io.kestra.plugin.core.runner.Process",
    aliases: [],
    kind: PluginKind::TaskRunner,
    title: "Run scripts as processes on the worker host.",
    slots: [],
    params: Params,
}
