//! `io.kestra.plugin.core.trigger.Flow`: starts an execution when an execution of another flow reaches a matching state.

use crate::shared::{State, TimeWindow};
use saker_task::prelude::*;

/// Properties of `Flow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Upstream execution states considered (default: terminal states and `PAUSED`).
    pub states: Option<Property<Vec<State>>>,
    /// Execution inputs (rendered; `{{ trigger.outputs.* }}` are the upstream outputs).
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Flows and filters that must all be satisfied within a time window.
    pub preconditions: Option<Preconditions>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.trigger.Flow",
    aliases: [
        "io.kestra.core.models.triggers.types.Flow",
    ],
    kind: PluginKind::Trigger,
    title: "Start an execution when another flow's execution ends.",
    slots: [],
    params: Params,
}

/// Preconditions of a Flow trigger: sub-conditions remembered within a time window.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Preconditions {
    /// Id under which satisfied sub-conditions are remembered.
    pub id: Option<String>,
    /// The window within which all sub-conditions must be satisfied.
    pub time_window: Option<TimeWindow>,
    /// Forget satisfied sub-conditions after firing (default true).
    pub reset_on_success: Option<Property<bool>>,
    /// Upstream flows that must end in given states.
    pub flows: Option<Vec<UpstreamFlow>>,
    /// Execution filters.
    pub r#where: Option<Vec<Where>>,
}

/// One upstream flow of [`Preconditions`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpstreamFlow {
    /// Namespace of the flow.
    pub namespace: String,
    /// Id of the flow.
    pub flow_id: String,
    /// Accepted states (default `SUCCESS`).
    pub states: Option<Vec<State>>,
    /// Labels the upstream execution must have.
    pub labels: Option<Map<String, Value>>,
}

/// A group of execution filters of [`Preconditions`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Where {
    /// Id of the group.
    pub id: String,
    /// How the filters combine (default `AND`).
    pub operand: Option<Operand>,
    /// The filters.
    pub filters: Vec<Filter>,
}

/// How [`Where`] filters combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operand {
    /// All filters hold.
    And,
    /// Any filter holds.
    Or,
}

/// One execution filter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Filter {
    /// The execution field tested.
    pub field: FilterField,
    /// The comparison.
    pub r#type: FilterType,
    /// The compared value (rendered for `EXPRESSION`).
    pub value: Option<String>,
    /// The compared values (`IN`, `NOT_IN`).
    pub values: Option<Vec<String>>,
}

/// Fields a [`Filter`] can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterField {
    /// The flow id.
    FlowId,
    /// The namespace.
    Namespace,
    /// The execution state.
    State,
    /// An expression evaluated on the execution.
    Expression,
}

/// Comparisons of a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterType {
    /// Equal.
    EqualTo,
    /// Not equal.
    NotEqualTo,
    /// One of `values`.
    In,
    /// None of `values`.
    NotIn,
    /// Renders true.
    IsTrue,
    /// Renders false.
    IsFalse,
    /// Null.
    IsNull,
    /// Not null.
    IsNotNull,
    /// Starts with.
    StartsWith,
    /// Ends with.
    EndsWith,
    /// Matches a regex.
    Regex,
    /// Contains.
    Contains,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn preconditions_are_typed() {
        let ty = "io.kestra.plugin.core.trigger.Flow";
        assert_valid(
            ty,
            json!({"preconditions": {
                "id": "flow",
                "timeWindow": {"type": "SLIDING_WINDOW", "window": "PT1H"},
                "flows": [{"namespace": "a", "flowId": "b", "states": ["SUCCESS", "WARNING"]}],
                "where": [{"id": "f", "filters": [{"field": "NAMESPACE", "type": "STARTS_WITH", "value": "a"}]}]
            }}),
        );
        assert_invalid(
            ty,
            json!({"preconditions": {"flows": [{"namespace": "a", "flowId": "b", "states": ["DONE"]}]}}),
            "preconditions.flows[0].states[0]",
            "unknown variant `DONE`",
        );
    }
}
