//! Execution labels (`[{key, value}]`) and the system labels the engine sets (spec §1.3).
//!
//! Kestra stores labels as a list but also reads the historical map form (`{"team": "data"}`,
//! with string, number or boolean values converted to strings); [`labels_list_or_map`] does the
//! same for serde fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Prefix reserved for labels set by the engine.
pub const SYSTEM_PREFIX: &str = "system.";
/// Execution id of the first execution of a chain (own id, or the upstream one's).
pub const CORRELATION_ID: &str = "system.correlationId";
pub const USERNAME: &str = "system.username";
pub const APP: &str = "system.app";
pub const READ_ONLY: &str = "system.readOnly";
/// `"true"` on an execution that was restarted.
pub const RESTARTED: &str = "system.restarted";
/// `"true"` on an execution created by a replay.
pub const REPLAY: &str = "system.replay";
/// `"true"` on the original of a replay.
pub const REPLAYED: &str = "system.replayed";
pub const SIMULATED_EXECUTION: &str = "system.simulatedExecution";
pub const TEST: &str = "system.test";

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    pub key: String,
    pub value: String,
}

impl Label {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Whether the key is in the `system.` namespace.
    pub fn is_system(&self) -> bool {
        self.key.starts_with(SYSTEM_PREFIX)
    }

    /// Parses the API's `labels=key:value` query form; anything but exactly one `:` is
    /// rejected (Kestra splits on `:` and requires two parts).
    pub fn parse_query(text: &str) -> Option<Label> {
        let mut parts = text.split(':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(key), Some(value), None) if !key.is_empty() && !value.is_empty() => {
                Some(Label::new(key, value))
            }
            _ => None,
        }
    }
}

/// Keeps one label per key: the value of the last occurrence at the position of the first,
/// like Kestra's `Label.deduplicate`.
pub fn deduplicate(labels: impl IntoIterator<Item = Label>) -> Vec<Label> {
    let mut out: Vec<Label> = Vec::new();
    for label in labels {
        match out.iter_mut().find(|existing| existing.key == label.key) {
            Some(existing) => existing.value = label.value,
            None => out.push(label),
        }
    }
    out
}

/// Labels for the `labels` expression variable: dotted keys become nested maps
/// (`a.b: x` → `labels.a.b`). When a key is both a leaf and a prefix, the later one wins.
pub fn labels_to_nested_map(labels: &[Label]) -> Map<String, Value> {
    let mut root = Map::new();
    for label in deduplicate(labels.iter().cloned()) {
        let mut parts: Vec<&str> = label.key.split('.').collect();
        let leaf = parts.pop().unwrap_or_default();
        let mut current = &mut root;
        for part in parts {
            let entry = current
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(next) = entry else {
                unreachable!("just made an object")
            };
            current = next;
        }
        current.insert(leaf.to_owned(), Value::String(label.value));
    }
    root
}

/// `#[serde(with = "saker_core::label::labels_list_or_map")]`: writes a list, reads a list or
/// the legacy map form.
pub mod labels_list_or_map {
    use super::Label;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(labels: &[Label], serializer: S) -> Result<S::Ok, S::Error> {
        labels.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Label>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            List(Vec<Label>),
            Map(serde_json::Map<String, Value>),
            Null(()),
        }
        match Shape::deserialize(deserializer)? {
            Shape::List(labels) => Ok(labels),
            Shape::Null(()) => Ok(Vec::new()),
            Shape::Map(map) => map
                .into_iter()
                .map(|(key, value)| match value {
                    Value::String(text) => Ok(Label::new(key, text)),
                    Value::Number(number) => Ok(Label::new(key, number.to_string())),
                    Value::Bool(flag) => Ok(Label::new(key, flag.to_string())),
                    other => Err(D::Error::custom(format!(
                        "Unsupported type for key: {key}, value: {other}"
                    ))),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "labels_list_or_map", default)]
        labels: Vec<Label>,
    }

    #[test]
    fn dedup_keeps_first_position_and_last_value() {
        let labels = deduplicate([
            Label::new("a", "1"),
            Label::new("b", "2"),
            Label::new("a", "3"),
        ]);
        assert_eq!(labels, [Label::new("a", "3"), Label::new("b", "2")]);
    }

    #[test]
    fn reads_list_and_map_forms_and_writes_a_list() {
        let list: Holder =
            serde_json::from_value(json!({"labels": [{"key": "team", "value": "data"}]})).unwrap();
        let map: Holder =
            serde_json::from_value(json!({"labels": {"team": "data", "priority": 1, "on": true}}))
                .unwrap();
        assert_eq!(list.labels, [Label::new("team", "data")]);
        assert_eq!(
            map.labels,
            [
                Label::new("team", "data"),
                Label::new("priority", "1"),
                Label::new("on", "true")
            ]
        );
        assert_eq!(
            serde_json::to_value(&map).unwrap(),
            json!({"labels": [
                {"key": "team", "value": "data"},
                {"key": "priority", "value": "1"},
                {"key": "on", "value": "true"}
            ]})
        );
        assert!(serde_json::from_value::<Holder>(json!({"labels": {"bad": [1]}})).is_err());
    }

    #[test]
    fn nested_map_for_expressions() {
        let map = labels_to_nested_map(&[
            Label::new("team", "data"),
            Label::new("system.correlationId", "abc"),
            Label::new("a.b.c", "x"),
        ]);
        assert_eq!(
            Value::Object(map),
            json!({"team": "data", "system": {"correlationId": "abc"}, "a": {"b": {"c": "x"}}})
        );
    }

    #[test]
    fn query_form() {
        assert_eq!(
            Label::parse_query("team:data"),
            Some(Label::new("team", "data"))
        );
        assert_eq!(Label::parse_query("team"), None);
        assert_eq!(Label::parse_query("a:b:c"), None);
        assert!(Label::new(CORRELATION_ID, "x").is_system());
        assert!(!Label::new("team", "x").is_system());
    }
}
