//! Value shapes that are one of several forms (deserialized by hand for clear errors).

use std::borrow::Cow;

use saker_task::prelude::*;
use saker_task::property::{de_value, is_expression};
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::Deserializer;
use serde::de::Error as _;

/// Execution labels: a map, a list of `{key, value}`, or an expression rendering to a JSON
/// object. Values may be any scalar (rendered to strings).
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// `{key: value}`.
    Map(Map<String, Value>),
    /// `[{key, value}]`.
    List(Vec<Label>),
    /// An expression rendering to a JSON object.
    Expr(String),
}

/// One `{key, value}` label.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Label key.
    pub key: String,
    /// Label value.
    pub value: Value,
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Object(map) => Ok(Labels::Map(map)),
            list @ Value::Array(_) => de_value::<Vec<Label>>(list)
                .map(Labels::List)
                .map_err(D::Error::custom),
            Value::String(s) if is_expression(&s) => Ok(Labels::Expr(s)),
            other => Err(D::Error::custom(format!(
                "invalid labels {other}: expected a map, a list of {{key, value}} or an expression"
            ))),
        }
    }
}

impl JsonSchema for Labels {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Labels".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let list = generator.subschema_for::<Vec<Label>>();
        json_schema!({
            "anyOf": [
                {"type": "object", "additionalProperties": true},
                list,
                {"type": "string"}
            ]
        })
    }
}

/// The values iterated by `ForEach`/`EachSequential`/`EachParallel`: a list, or a string
/// (an expression, or a JSON array literal) that renders to a JSON array.
#[derive(Debug, Clone, PartialEq)]
pub enum ValuesSource {
    /// A literal list (strings, integers or maps).
    List(Vec<Value>),
    /// A string rendered then parsed as a JSON array.
    Json(String),
}

impl<'de> Deserialize<'de> for ValuesSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Array(items) => Ok(ValuesSource::List(items)),
            Value::String(s) if is_expression(&s) => Ok(ValuesSource::Json(s)),
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(_)) => Ok(ValuesSource::Json(s)),
                _ => Err(D::Error::custom(format!(
                    "invalid values \"{s}\": not a JSON array"
                ))),
            },
            other => Err(D::Error::custom(format!(
                "invalid type: {other}, expected a list or a string rendering to a JSON array"
            ))),
        }
    }
}

impl JsonSchema for ValuesSource {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ValuesSource".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{"type": "array"}, {"type": "string"}] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_forms() {
        let labels: Labels = serde_json::from_value(json!({"a": 1})).unwrap();
        assert!(matches!(labels, Labels::Map(_)));
        let labels: Labels = serde_json::from_value(json!([{"key": "a", "value": "b"}])).unwrap();
        assert!(matches!(labels, Labels::List(ref l) if l.len() == 1));
        let labels: Labels = serde_json::from_value(json!("{{ inputs.labels }}")).unwrap();
        assert!(matches!(labels, Labels::Expr(_)));
        assert!(serde_json::from_value::<Labels>(json!("a=b")).is_err());
        assert!(serde_json::from_value::<Labels>(json!([{"key": "a"}])).is_err());
    }

    #[test]
    fn values_forms() {
        assert!(matches!(
            serde_json::from_value(json!(["a", 1])),
            Ok(ValuesSource::List(_))
        ));
        assert!(matches!(
            serde_json::from_value(json!("[\"a\", \"b\"]")),
            Ok(ValuesSource::Json(_))
        ));
        assert!(matches!(
            serde_json::from_value(json!("{{ outputs.x }}")),
            Ok(ValuesSource::Json(_))
        ));
        let error = serde_json::from_value::<ValuesSource>(json!("a, b")).unwrap_err();
        assert!(error.to_string().contains("not a JSON array"), "{error}");
        assert!(serde_json::from_value::<ValuesSource>(json!(3)).is_err());
    }
}
