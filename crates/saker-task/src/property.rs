//! Dynamic property values: a literal of the expected type or a Pebble expression.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::path::ParamPath;

/// Whether `s` contains a Pebble expression or tag, i.e. must be rendered before use.
///
/// Syntax is checked by flow validation (`saker-expr`); here the markers are enough.
pub fn is_expression(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// A property that accepts either a literal `T` or an expression string rendered at run time.
///
/// Deserialization follows Kestra's (Jackson's) lenient scalar coercion: `"5"` is accepted for a
/// number, `"true"` for a boolean and `5` for a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Property<T> {
    /// An unrendered expression (`"{{ inputs.n }}"`).
    Expr(String),
    /// A literal value.
    Value(T),
}

impl<T> Property<T> {
    /// The literal value, if this is not an expression.
    pub fn as_value(&self) -> Option<&T> {
        match self {
            Property::Value(value) => Some(value),
            Property::Expr(_) => None,
        }
    }

    /// The expression source, if this is an expression.
    pub fn as_expr(&self) -> Option<&str> {
        match self {
            Property::Expr(expr) => Some(expr),
            Property::Value(_) => None,
        }
    }
}

impl<T: DeserializeOwned> Property<T> {
    /// Builds a property from a JSON value (YAML source, or a rendered expression at run time).
    /// The error message may carry a nested path, see [`crate::params`].
    pub fn from_value(value: Value) -> Result<Self, String> {
        if let Value::String(s) = &value
            && is_expression(s)
        {
            return Ok(Property::Expr(s.clone()));
        }
        from_value_coerced(value).map(Property::Value)
    }
}

/// Deserializes `value` as `T`, retrying with Jackson-style scalar coercion (string ↔ number or
/// boolean) when the value has the wrong scalar type.
pub fn from_value_coerced<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    let first = match de_value::<T>(value.clone()) {
        Ok(parsed) => return Ok(parsed),
        Err(error) => error,
    };
    let coerced = match &value {
        Value::String(s) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(scalar @ (Value::Number(_) | Value::Bool(_))) => Some(scalar),
            _ => None,
        },
        Value::Number(_) | Value::Bool(_) => Some(Value::String(value.to_string())),
        _ => None,
    };
    if let Some(coerced) = coerced
        && let Ok(parsed) = de_value::<T>(coerced)
    {
        return Ok(parsed);
    }
    Err(first)
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Property<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Property::from_value(value).map_err(|message| D::Error::custom(or_expression(message)))
    }
}

impl<T: Serialize> Serialize for Property<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Property::Expr(expr) => serializer.serialize_str(expr),
            Property::Value(value) => value.serialize(serializer),
        }
    }
}

impl<T: JsonSchema> JsonSchema for Property<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Property_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let literal = generator.subschema_for::<T>();
        json_schema!({
            "anyOf": [
                literal,
                {
                    "type": "string",
                    "pattern": ".*\\{[{%].*",
                    "description": "A Pebble expression, rendered at run time"
                }
            ]
        })
    }
}

/// One value or a list of values (`message: "a"` or `message: ["a", "b"]`).
#[derive(Debug, Clone, PartialEq)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a list.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(value) => vec![value],
            OneOrMany::Many(values) => values,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let result = if value.is_array() {
            de_value::<Vec<T>>(value).map(OneOrMany::Many)
        } else {
            from_value_coerced::<T>(value).map(OneOrMany::One)
        };
        result.map_err(|message| D::Error::custom(or_list(message)))
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OneOrMany::One(value) => value.serialize(serializer),
            OneOrMany::Many(values) => values.serialize(serializer),
        }
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        let many = generator.subschema_for::<Vec<T>>();
        json_schema!({ "anyOf": [one, many] })
    }
}

const MARK: char = '\u{1}';

/// Deserializes `T` from a buffered value, keeping the path of a nested error inside the message
/// (`\u{1}<json path>\u{1}<message>`): a custom `Deserialize` that buffers its input would
/// otherwise lose it. [`crate::params`] decodes it back with [`split_path`].
pub fn de_value<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let outer = ParamPath::from_serde(error.path());
        let (inner, message) = split_path(&error.inner().to_string());
        join_path(&outer.join(&inner), &message)
    })
}

/// Prefixes `message` with an encoded path (no-op for an empty path).
pub(crate) fn join_path(path: &ParamPath, message: &str) -> String {
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("{MARK}{}{MARK}{message}", path.to_json())
    }
}

/// Splits a message produced by [`join_path`] into its path and the plain message.
pub(crate) fn split_path(message: &str) -> (ParamPath, String) {
    if let Some(rest) = message.strip_prefix(MARK)
        && let Some((path, plain)) = rest.split_once(MARK)
        && let Some(path) = serde_json::from_str::<Value>(path)
            .ok()
            .as_ref()
            .and_then(ParamPath::from_json)
    {
        return (path, plain.to_owned());
    }
    (ParamPath::default(), message.to_owned())
}

/// Adds the expression alternative to a top-level type mismatch.
fn or_expression(message: String) -> String {
    if !message.starts_with(MARK) && message.starts_with("invalid type") {
        format!("{message}, or an expression string (\"{{{{ ... }}}}\")")
    } else {
        message
    }
}

fn or_list(message: String) -> String {
    if !message.starts_with(MARK) && message.starts_with("invalid type") {
        format!("{message}, or a list of them")
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: u32,
    }

    fn prop<T: DeserializeOwned>(value: Value) -> Result<Property<T>, String> {
        Property::<T>::deserialize(value).map_err(|error| error.to_string())
    }

    #[test]
    fn expressions_and_literals() {
        assert_eq!(prop::<u32>(json!(3)), Ok(Property::Value(3)));
        assert_eq!(
            prop::<u32>(json!("{{ n }}")),
            Ok(Property::Expr("{{ n }}".into()))
        );
        assert!(
            prop::<bool>(json!("{% if a %}true{% endif %}"))
                .unwrap()
                .as_expr()
                .is_some()
        );
        assert_eq!(
            prop::<String>(json!("plain")),
            Ok(Property::Value("plain".into()))
        );
    }

    #[test]
    fn jackson_scalar_coercion() {
        assert_eq!(prop::<u32>(json!("5")), Ok(Property::Value(5)));
        assert_eq!(prop::<bool>(json!("true")), Ok(Property::Value(true)));
        assert_eq!(prop::<String>(json!(5)), Ok(Property::Value("5".into())));
        assert_eq!(
            prop::<String>(json!(true)),
            Ok(Property::Value("true".into()))
        );
    }

    #[test]
    fn mismatch_mentions_expressions() {
        let error = prop::<u32>(json!("abc")).unwrap_err();
        assert!(
            error.starts_with("invalid type: string \"abc\", expected u32"),
            "{error}"
        );
        assert!(error.contains("expression"), "{error}");
        let error = prop::<u32>(json!([1])).unwrap_err();
        assert!(error.contains("invalid type: sequence"), "{error}");
    }

    #[test]
    fn nested_errors_keep_their_path() {
        let error = prop::<Vec<Inner>>(json!([{"n": 1}, {"n": "x"}])).unwrap_err();
        let (path, message) = split_path(&error);
        assert_eq!(path.to_string(), "[1].n");
        assert!(
            message.starts_with("invalid type: string \"x\""),
            "{message}"
        );
    }

    #[test]
    fn one_or_many() {
        let one: OneOrMany<String> = serde_json::from_value(json!("a")).unwrap();
        assert_eq!(one.into_vec(), vec!["a".to_owned()]);
        let many: OneOrMany<String> = serde_json::from_value(json!(["a", "b"])).unwrap();
        assert_eq!(many.into_vec(), vec!["a".to_owned(), "b".to_owned()]);
        let error = serde_json::from_value::<OneOrMany<u32>>(json!({"a": 1})).unwrap_err();
        assert!(error.to_string().contains("or a list of them"), "{error}");
    }

    #[test]
    fn schema_is_any_of_literal_and_expression() {
        let schema = schemars::schema_for!(Property<u32>);
        let any_of = schema
            .get("anyOf")
            .and_then(Value::as_array)
            .expect("anyOf");
        assert_eq!(any_of.len(), 2);
        assert_eq!(any_of[1]["type"], "string");
    }
}
