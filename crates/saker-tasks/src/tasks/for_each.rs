//! `io.kestra.plugin.core.flow.ForEach`: runs its child tasks once per value, with bounded concurrency.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use crate::shared::ValuesSource;
use saker_task::prelude::*;

/// Properties of `ForEach`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The values: a list, or a string rendering to a JSON array.
    pub values: ValuesSource,
    /// Number of values processed at once (default 1; 0 = unlimited).
    pub concurrency_limit: Option<Property<u32>>,
    /// What to do with the remaining values when an iteration fails (newer Kestra versions).
    pub child_failure_policy: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.ForEach",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks for each value of a list.",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn values_accept_lists_json_and_expressions() {
        let ty = "io.kestra.plugin.core.flow.ForEach";
        assert_valid(
            ty,
            json!({"values": ["a", 1, {"k": 1}], "concurrencyLimit": 0}),
        );
        assert_valid(ty, json!({"values": "[\"a\", \"b\"]"}));
        assert_valid(ty, json!({"values": "{{ outputs.t.values }}"}));
        assert_invalid(ty, json!({"values": "a,b"}), "values", "not a JSON array");
        assert_invalid(ty, json!({}), "", "missing required property \"values\"");
        assert_invalid(
            ty,
            json!({"values": [], "value": []}),
            "value",
            "Unrecognized field \"value\"",
        );
    }
}
