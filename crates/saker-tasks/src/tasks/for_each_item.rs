//! `io.kestra.plugin.core.flow.ForEachItem`: splits an internal-storage file into batches and starts one subflow execution per batch.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `errors`, `finally`.

use crate::shared::{Batch, Labels, RestartBehavior};
use saker_task::prelude::*;

/// Properties of `ForEachItem`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Internal-storage URI (`kestra://`) of the file to split.
    pub items: Property<String>,
    /// How to split the file (default one row per batch).
    pub batch: Option<Batch>,
    /// Namespace of the subflow.
    pub namespace: Property<String>,
    /// Id of the subflow.
    pub flow_id: Property<String>,
    /// Revision of the subflow (default: latest).
    pub revision: Option<Property<u32>>,
    /// Subflow inputs, rendered per batch (`{{ taskrun.items }}` is the batch URI).
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Labels of the subflow executions (no `system.*`).
    pub labels: Option<Labels>,
    /// Wait for the subflow executions to end (default true).
    pub wait: Option<Property<bool>>,
    /// Fail when a subflow execution fails (default true).
    pub transmit_failed: Option<Property<bool>>,
    /// Copy the parent's labels to the subflow executions (default false).
    pub inherit_labels: Option<Property<bool>>,
    /// Start the subflow executions at this date.
    pub schedule_date: Option<Property<String>>,
    /// What a restart of the parent does to the subflow executions.
    pub restart_behavior: Option<Property<RestartBehavior>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.ForEachItem",
    aliases: [
        "io.kestra.core.tasks.flows.ForEachItem",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Split a file into batches and start one subflow execution per batch.",
    slots: [
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}
