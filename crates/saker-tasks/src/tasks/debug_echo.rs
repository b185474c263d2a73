//! `io.kestra.plugin.core.debug.Echo`: deprecated: logs a rendered message, like `Log`.

use crate::shared::Level;
use saker_task::prelude::*;

/// Properties of `Echo`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Template rendered and logged.
    pub format: Property<String>,
    /// Log level (default `INFO`).
    pub level: Option<Property<Level>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.debug.Echo",
    aliases: [
        "io.kestra.core.tasks.debugs.Echo",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Log a rendered message (deprecated).",
    slots: [],
    params: Params,
}
