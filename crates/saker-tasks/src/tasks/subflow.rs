//! `io.kestra.plugin.core.flow.Subflow`: creates an execution of another flow and optionally waits for it.

use crate::shared::{Labels, RestartBehavior};
use saker_task::prelude::*;

/// Properties of `Subflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the subflow.
    pub namespace: Property<String>,
    /// Id of the subflow.
    pub flow_id: Property<String>,
    /// Revision of the subflow (default: latest).
    pub revision: Option<Property<u32>>,
    /// Subflow inputs (keys and values rendered).
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Labels of the subflow execution (no `system.*`).
    pub labels: Option<Labels>,
    /// Wait for the subflow execution to end (default true).
    pub wait: Option<Property<bool>>,
    /// With `wait`, propagate a FAILED/KILLED/WARNING child state (default true).
    pub transmit_failed: Option<Property<bool>>,
    /// Copy the parent's labels (default false).
    pub inherit_labels: Option<Property<bool>>,
    /// Create the subflow execution with this schedule date.
    pub schedule_date: Option<Property<String>>,
    /// What a restart of the parent does to the subflow execution.
    pub restart_behavior: Option<Property<RestartBehavior>>,
    /// Deprecated: expressions evaluated against the child execution.
    pub outputs: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Subflow",
    aliases: [
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    ],
    kind: PluginKind::Task(TaskKind::Executable),
    title: "Start an execution of another flow.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn namespace_and_flow_id_are_required() {
        let ty = "io.kestra.core.tasks.flows.Flow";
        assert_valid(
            ty,
            json!({"namespace": "a", "flowId": "b", "labels": {"k": 1}, "wait": "true"}),
        );
        assert_valid(
            ty,
            json!({"namespace": "a", "flowId": "b", "labels": [{"key": "k", "value": "v"}]}),
        );
        assert_invalid(
            ty,
            json!({"namespace": "a"}),
            "",
            "missing required property \"flowId\"",
        );
        assert_invalid(
            ty,
            json!({"namespace": "a", "flowId": "b", "wait": "maybe"}),
            "wait",
            "expected a boolean",
        );
    }
}
