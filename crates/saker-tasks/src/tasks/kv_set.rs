//! `io.kestra.plugin.core.kv.Set`: stores a value under a key of the namespace KV store.

use saker_task::prelude::*;

/// Properties of `Set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The key.
    pub key: Property<String>,
    /// The value, rendered with typed rendering (a pure `{{ expr }}` keeps its type).
    pub value: Value,
    /// Namespace of the KV store (default: the flow namespace).
    pub namespace: Option<Property<String>>,
    /// Overwrite an existing key (default true).
    pub overwrite: Option<Property<bool>>,
    /// Time to live of the key.
    pub ttl: Option<Property<IsoDuration>>,
    /// Convert a string value to this type.
    pub kv_type: Option<Property<KvType>>,
    /// Description of the key.
    pub kv_description: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.Set",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Set a key in the namespace KV store.",
    slots: [],
    params: Params,
}

/// Type a `kv.Set` string value is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum KvType {
    /// Kept as a string.
    String,
    /// Parsed as a JSON number.
    Number,
    /// `true` (case-insensitive) or false.
    Boolean,
    /// Parsed as an ISO instant.
    Datetime,
    /// Parsed as an ISO date.
    Date,
    /// Parsed as an ISO-8601 duration.
    Duration,
    /// Parsed as JSON.
    Json,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn value_is_required_and_any_type() {
        let ty = "io.kestra.plugin.core.kv.Set";
        assert_valid(
            ty,
            json!({"key": "k", "value": {"a": [1]}, "ttl": "P1D", "kvType": "JSON"}),
        );
        assert_invalid(
            ty,
            json!({"key": "k"}),
            "",
            "missing required property \"value\"",
        );
    }
}
