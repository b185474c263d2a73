//! `io.kestra.plugin.core.flow.If`: runs `then` when the condition renders truthy, `else` otherwise.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `then`, `else`, `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `If`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Expression rendered once; false iff it renders to `false`, `0`, `-0` or an empty string.
    pub condition: Property<String>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.If",
    aliases: [
        "io.kestra.core.tasks.flows.If",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Run tasks depending on a condition.",
    slots: [
        Slot::Tasks("then"),
        Slot::Tasks("else"),
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
    fn condition_is_required() {
        assert_valid(
            "io.kestra.plugin.core.flow.If",
            json!({"condition": "{{ true }}"}),
        );
        assert_invalid(
            "io.kestra.plugin.core.flow.If",
            json!({}),
            "",
            "missing required property \"condition\"",
        );
    }
}
