//! `io.kestra.plugin.core.execution.Count`: counts executions per flow and evaluates an expression on each count.

use crate::shared::{FlowRef, State};
use saker_task::prelude::*;

/// Properties of `Count`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Flows whose executions are counted.
    pub flows: Option<Vec<FlowRef>>,
    /// Namespaces whose executions are counted.
    pub namespaces: Option<Property<Vec<String>>>,
    /// Only executions in these states.
    pub states: Option<Property<Vec<State>>>,
    /// Only executions started after this date.
    pub start_date: Property<String>,
    /// Only executions started before this date.
    pub end_date: Option<Property<String>>,
    /// Evaluated per flow with `{{ count }}`; flows where it is truthy are kept.
    pub expression: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Count",
    aliases: [
        "io.kestra.core.tasks.executions.Counts",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Count executions matching filters.",
    slots: [],
    params: Params,
}
