//! `io.kestra.plugin.core.log.PurgeLogs`: deletes logs matching namespace, flow, execution, level and date filters.

use crate::shared::Level;
use saker_task::prelude::*;

/// Properties of `PurgeLogs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Only logs of this namespace.
    pub namespace: Option<Property<String>>,
    /// Only logs of this flow.
    pub flow_id: Option<Property<String>>,
    /// Only logs of this execution.
    pub execution_id: Option<Property<String>>,
    /// Only logs at these levels.
    pub log_levels: Option<Property<Vec<Level>>>,
    /// Only logs after this date.
    pub start_date: Option<Property<String>>,
    /// Only logs before this date.
    pub end_date: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.log.PurgeLogs",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete logs matching filters.",
    slots: [],
    params: Params,
}
