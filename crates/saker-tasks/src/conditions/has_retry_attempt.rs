//! `io.kestra.plugin.core.condition.HasRetryAttempt`: true when a task run of the execution has several attempts in the given states.

use crate::shared::State;
use saker_task::prelude::*;

/// Properties of `HasRetryAttempt`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Accepted attempt states.
    pub r#in: Option<Property<Vec<State>>>,
    /// Rejected attempt states.
    pub not_in: Option<Property<Vec<State>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.HasRetryAttempt",
    aliases: [
        "io.kestra.core.models.conditions.types.HasRetryAttemptCondition",
        "io.kestra.plugin.core.condition.HasRetryAttemptCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when a task run was retried.",
    slots: [],
    params: Params,
}
