//! `io.kestra.plugin.core.execution.PurgeExecutions`: deletes executions, logs, metrics and storage files matching filters.

use crate::shared::State;
use saker_task::prelude::*;

/// Properties of `PurgeExecutions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Only executions of this namespace.
    pub namespace: Option<Property<String>>,
    /// Only executions of this flow.
    pub flow_id: Option<Property<String>>,
    /// Only executions after this date.
    pub start_date: Option<Property<String>>,
    /// Only executions before this date.
    pub end_date: Property<String>,
    /// Only executions in these states.
    pub states: Option<Property<Vec<State>>>,
    /// Delete the executions (default true).
    pub purge_execution: Option<Property<bool>>,
    /// Delete their logs (default true).
    pub purge_log: Option<Property<bool>>,
    /// Delete their metrics (default true).
    pub purge_metric: Option<Property<bool>>,
    /// Delete their storage files (default true).
    pub purge_storage: Option<Property<bool>>,
    /// Executions deleted per batch (default 100).
    pub batch_size: Option<Property<u32>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.PurgeExecutions",
    aliases: [
        "io.kestra.core.tasks.storages.Purge",
        "io.kestra.plugin.core.storage.Purge",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete executions and their data.",
    slots: [],
    params: Params,
}
