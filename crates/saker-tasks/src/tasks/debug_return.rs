//! `io.kestra.plugin.core.debug.Return`: renders `format` and returns it as the `value` output.

use saker_task::prelude::*;

/// Properties of `Return`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Template rendered into the `value` output.
    pub format: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.debug.Return",
    aliases: [
        "io.kestra.core.tasks.debugs.Return",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Return a rendered value as output.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn unknown_property_is_rejected_like_kestra() {
        assert_valid(
            "io.kestra.plugin.core.debug.Return",
            json!({"format": "{{ task.id }}"}),
        );
        assert_invalid(
            "io.kestra.plugin.core.debug.Return",
            json!({"invalid": "{{taskrun.startDate}}"}),
            "invalid",
            "Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable (",
        );
    }
}
