//! `io.kestra.plugin.core.condition.ExecutionStatus`: true when the upstream execution state is in `in` and not in `notIn`.

use crate::shared::State;
use saker_task::prelude::*;

/// Properties of `ExecutionStatus`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Accepted states.
    pub r#in: Option<Property<Vec<State>>>,
    /// Rejected states.
    pub not_in: Option<Property<Vec<State>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.condition.ExecutionStatus",
    aliases: [
        "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
        "io.kestra.plugin.core.condition.ExecutionStatusCondition",
    ],
    kind: PluginKind::Condition,
    title: "True when the upstream execution state matches.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn in_and_not_in() {
        let ty = "io.kestra.core.models.conditions.types.ExecutionStatusCondition";
        assert_valid(ty, json!({"in": ["SUCCESS"], "notIn": ["FAILED"]}));
        assert_invalid(
            ty,
            json!({"in": ["DONE"]}),
            "in[0]",
            "unknown variant `DONE`",
        );
    }
}
