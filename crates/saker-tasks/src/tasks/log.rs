//! `io.kestra.plugin.core.log.Log`: writes one or several rendered messages to the task logs.

use crate::shared::Level;
use saker_task::prelude::*;

/// Properties of `Log`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Message, or list of messages each rendered and logged separately.
    pub message: Property<OneOrMany<String>>,
    /// Log level (default `INFO`).
    pub level: Option<Property<Level>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.log.Log",
    aliases: [
        "io.kestra.core.tasks.log.Log",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Write messages to the task logs.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn message_is_a_string_or_a_list() {
        let ty = "io.kestra.plugin.core.log.Log";
        assert_valid(
            ty,
            json!({"message": "hello {{ flow.id }}", "level": "WARN"}),
        );
        assert_valid(ty, json!({"message": ["a", "b"]}));
        assert_invalid(
            ty,
            json!({"message": "a", "level": "LOUD"}),
            "level",
            "unknown variant `LOUD`",
        );
        assert_invalid(
            ty,
            json!({"message": "a", "unknownProp": 1}),
            "unknownProp",
            "Unrecognized field \"unknownProp\" (class io.kestra.plugin.core.log.Log), not marked as ignorable",
        );
    }
}
