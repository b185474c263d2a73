//! `io.kestra.plugin.core.flow.Parallel`: runs its child tasks in parallel.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `Parallel`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Maximum number of children running at once (default 0 = unlimited).
    pub concurrent: Option<Property<u32>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Parallel",
    aliases: [
        "io.kestra.core.tasks.flows.Parallel",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks in parallel.",
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
    fn concurrent_is_a_number_or_expression() {
        assert_valid(
            "io.kestra.plugin.core.flow.Parallel",
            json!({"concurrent": 2}),
        );
        assert_valid(
            "io.kestra.plugin.core.flow.Parallel",
            json!({"concurrent": "{{ inputs.n }}"}),
        );
        assert_invalid(
            "io.kestra.plugin.core.flow.Parallel",
            json!({"concurrent": -1}),
            "concurrent",
            "invalid value",
        );
    }
}
