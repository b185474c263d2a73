//! Small helpers shared by the library: argument access, Java-like string conversion, numeric
//! views of JSON values. Kept here (not in the core's `value.rs`) only for what is specific to
//! the library's Java-compatibility needs.

use crate::{Args, Error, Result, Value};

/// An argument given positionally or by name; an explicit `null` counts as absent, as in Pebble
/// where `args.get(name)` of a null argument is indistinguishable from a missing one.
pub(crate) fn arg<'a>(args: &'a Args, idx: usize, name: &str) -> Option<&'a Value> {
    args.get(idx, name).filter(|v| !v.is_null())
}

pub(crate) fn arg_str<'a>(
    args: &'a Args,
    idx: usize,
    name: &str,
    callable: &str,
) -> Result<Option<&'a str>> {
    match arg(args, idx, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::msg(format!(
            "The '{callable}' argument '{name}' must be a string, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn req_str<'a>(
    args: &'a Args,
    idx: usize,
    name: &str,
    callable: &str,
) -> Result<&'a str> {
    arg_str(args, idx, name, callable)?.ok_or_else(|| missing(callable, name))
}

pub(crate) fn arg_i64(args: &Args, idx: usize, name: &str, callable: &str) -> Result<Option<i64>> {
    match arg(args, idx, name) {
        None => Ok(None),
        Some(v) => as_i64(v).map(Some).ok_or_else(|| {
            Error::msg(format!(
                "The '{callable}' argument '{name}' must be an integer, got {}",
                class_name(v)
            ))
        }),
    }
}

pub(crate) fn req_i64(args: &Args, idx: usize, name: &str, callable: &str) -> Result<i64> {
    arg_i64(args, idx, name, callable)?.ok_or_else(|| missing(callable, name))
}

pub(crate) fn arg_bool(
    args: &Args,
    idx: usize,
    name: &str,
    callable: &str,
) -> Result<Option<bool>> {
    match arg(args, idx, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(Error::msg(format!(
            "The '{callable}' argument '{name}' must be a boolean, got {}",
            class_name(v)
        ))),
    }
}

pub(crate) fn missing(callable: &str, name: &str) -> Error {
    Error::msg(format!("The '{callable}' expects an argument '{name}'."))
}

/// The input of a string-only filter; errors name the filter and the Java type received.
pub(crate) fn input_str<'a>(input: &'a Value, filter: &str) -> Result<&'a str> {
    match input {
        Value::String(s) => Ok(s),
        other => Err(Error::msg(format!(
            "The '{filter}' filter can only be applied to a string, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) use crate::value::{
    as_f64, as_i64, compare, float_value as float, is_empty, java_double,
    java_string as java_to_string, to_json, values_equal as loose_eq,
};

pub(crate) fn is_integer(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_i64() || n.is_u64())
}

/// A JSON number as Java prints it (`1`, `1.0`, `1.0E7`).
pub(crate) fn number_to_string(n: &serde_json::Number) -> String {
    java_to_string(&Value::Number(n.clone()))
}

/// The Java class name Kestra would report for the value (integers are Pebble `Long`s).
pub(crate) fn class_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(_) => "java.lang.Long",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn class_names_and_numbers() {
        assert_eq!(class_name(&json!(1)), "java.lang.Long");
        assert_eq!(class_name(&json!(1.5)), "java.lang.Double");
        assert_eq!(class_name(&json!({})), "java.util.LinkedHashMap");
        assert_eq!(
            number_to_string(&serde_json::Number::from_f64(1e7).unwrap()),
            "1.0E7"
        );
        assert!(is_integer(&json!(3)) && !is_integer(&json!(3.0)));
    }
}
