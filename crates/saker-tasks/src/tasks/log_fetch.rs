//! `io.kestra.plugin.core.log.Fetch`: fetches the logs of an execution into an ION file.

use crate::shared::Level;
use saker_task::prelude::*;

/// Properties of `Fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the execution (default: current).
    pub namespace: Option<Property<String>>,
    /// Flow of the execution (default: current).
    pub flow_id: Option<Property<String>>,
    /// Execution whose logs are fetched (default: current).
    pub execution_id: Option<Property<String>>,
    /// Only the logs of these task ids.
    pub tasks_id: Option<Property<Vec<String>>>,
    /// Minimum level fetched (default `INFO`).
    pub level: Option<Property<Level>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.log.Fetch",
    aliases: [
        "io.kestra.core.tasks.log.Fetch",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Fetch execution logs into an internal-storage file.",
    slots: [],
    params: Params,
}
