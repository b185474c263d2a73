//! One value against one type: Kestra's `FlowInputOutput.parseType` (coercion) and the
//! per-type `Input.validate` rules, with Java's message texts and `toString` forms.
//!
//! Errors are the bare rule/parse message; the caller wraps them as
//! ``Invalid input for `<id>`, <message>, but received `<raw>` ``.

use std::cmp::Ordering;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use regex::Regex;
use saker_core::{format_duration, parse_duration, time::format_instant};
use saker_expr::{Value, java_double};
use saker_flow::{Input, InputType};

use super::InputHost;

/// Kestra's `FlowInputOutput.URI_PATTERN`.
const URI_PATTERN: &str = r"^[a-z]+://(?:www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{1,6}\b(?:[-a-zA-Z0-9()@:%_+.~#?&/=]*)$";

/// `EmailInput.EMAIL_PATTERN` (the typographic apostrophe is Kestra's, kept on purpose).
const EMAIL_PATTERN: &str = r"^$|^[a-zA-Z0-9_!#$%\&’*+/=?`{|}\~\^.\-]+@[a-zA-Z0-9.\-]+$";

/// Coerces `current` (never null) to `type_`; `item_type` applies to ARRAY/MULTISELECT elements.
pub(crate) fn parse_type(
    type_: InputType,
    item_type: Option<InputType>,
    id: &str,
    current: &Value,
    host: &dyn InputHost,
) -> Result<Value, String> {
    let wrap = |detail: String| parse_error(type_, current, &detail);
    match type_ {
        // Kestra returns these unchanged (a JSON value from a subflow stays what it is).
        InputType::String | InputType::Enum | InputType::Select | InputType::Email => {
            Ok(current.clone())
        }
        InputType::Secret => host
            .encrypt(&saker_expr::to_output_string(current))
            .map(Value::String)
            .map_err(wrap),
        InputType::Int => match current {
            Value::Number(n) => n
                .as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .map(Value::from)
                .ok_or_else(|| wrap(format!("For input string: \"{}\"", java_string(current)))),
            Value::String(s) => s
                .parse::<i32>()
                .map(Value::from)
                .map_err(|_| wrap(format!("For input string: \"{s}\""))),
            other => Err(wrap(cast_error(other))),
        },
        // Java: `Float.valueOf(current.toString())`, so any scalar goes through its text.
        InputType::Float => match current {
            Value::Array(_) | Value::Object(_) => Err(wrap(cast_error(current))),
            other => parse_java_float(&java_string(other))
                .map(float_value)
                .map_err(wrap),
        },
        InputType::Boolean | InputType::Bool => match current {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            // `Boolean.valueOf`: anything but "true" (any case) is false, never an error.
            Value::String(s) => Ok(Value::Bool(s.eq_ignore_ascii_case("true"))),
            other => Err(wrap(cast_error(other))),
        },
        InputType::Datetime => {
            let text = as_str(current).map_err(wrap)?;
            parse_java_instant(text)
                .map(|i| Value::String(format_instant(&i)))
                .ok_or_else(|| wrap(unparsable(text)))
        }
        InputType::Date => {
            let text = as_str(current).map_err(wrap)?;
            parse_java_date(text)
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| wrap(unparsable(text)))
        }
        InputType::Time => {
            let text = as_str(current).map_err(wrap)?;
            parse_java_time(text)
                .map(|t| Value::String(iso_local_time(t)))
                .ok_or_else(|| wrap(unparsable(text)))
        }
        InputType::Duration => {
            let text = as_str(current).map_err(wrap)?;
            parse_duration(text)
                .map(|d| Value::String(format_duration(d)))
                .map_err(|_| wrap("Text cannot be parsed to a Duration".into()))
        }
        InputType::File => {
            let text = as_str(current).map_err(wrap)?.replace('\\', "/");
            // Already stored (or a parent's file, a flow/namespace file): kept as a URI.
            if ["kestra://", "file://", "nsfile://"]
                .iter()
                .any(|scheme| text.starts_with(scheme))
            {
                Ok(Value::String(text))
            } else {
                host.store_local_file(id, &text)
                    .map(Value::String)
                    .map_err(wrap)
            }
        }
        InputType::Json => match current {
            Value::String(s) => {
                serde_json::from_str::<Value>(s).map_err(|e| wrap(format!("Invalid JSON: {e}")))
            }
            // Already structured (subflow or API JSON body): nothing to parse.
            other => Ok(other.clone()),
        },
        InputType::Yaml => match current {
            Value::String(s) => parse_yaml(s).map_err(wrap),
            other => Ok(other.clone()),
        },
        InputType::Uri => {
            let text = as_str(current).map_err(wrap)?;
            if regex(URI_PATTERN).is_match(text) {
                Ok(current.clone())
            } else {
                // An IllegalArgumentException in Kestra: not wrapped in "with errors".
                Err(format!("Expected `URI` but received `{text}`"))
            }
        }
        InputType::Array | InputType::Multiselect => {
            let items = match current {
                Value::Array(items) => items.clone(),
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Array(items)) => items,
                    Ok(other) => {
                        return Err(wrap(format!(
                            "Cannot deserialize a list from {}",
                            java_class(&other)
                        )));
                    }
                    Err(e) => return Err(wrap(format!("Invalid JSON: {e}"))),
                },
                other => return Err(wrap(cast_error(other))),
            };
            let Some(item_type) = item_type else {
                return Ok(Value::Array(items));
            };
            items
                .iter()
                .map(|item| {
                    let parsed = if item.is_null() {
                        Err(String::new())
                    } else {
                        parse_type(item_type, None, id, item, host)
                    };
                    parsed.map_err(|_| {
                        format!(
                            "Unable to parse array element as `{}` on `{}`",
                            item_type.as_str(),
                            java_string(item)
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
    }
}

/// `Input.validate` on the typed value (SECRET: on the plain text, before encryption).
pub(crate) fn validate(input: &Input, typed: &Value) -> Result<(), String> {
    match input.type_ {
        InputType::String | InputType::Secret => match &input.validator {
            Some(pattern) => {
                let text = saker_expr::to_output_string(typed);
                let matches = Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("invalid validator `{pattern}`: {e}"))?
                    .is_match(&text);
                if matches {
                    Ok(())
                } else {
                    Err(format!("it must match the pattern `{pattern}`"))
                }
            }
            None => Ok(()),
        },
        // Kestra only checks the values of required ENUM/SELECT inputs.
        InputType::Enum | InputType::Select => {
            let values = input.values.as_deref().unwrap_or_default();
            let allowed = typed
                .as_str()
                .is_some_and(|s| values.iter().any(|v| v == s));
            if allowed || !input.required || input.allow_custom_value {
                Ok(())
            } else {
                Err(values_message(values))
            }
        }
        InputType::Multiselect => {
            if input.allow_custom_value {
                return Ok(());
            }
            let values = input.values.as_deref().unwrap_or_default();
            let items = typed.as_array().map(Vec::as_slice).unwrap_or_default();
            for item in items {
                let text = saker_expr::to_output_string(item);
                if !values.contains(&text) {
                    return Err(values_message(values));
                }
            }
            Ok(())
        }
        InputType::Int => {
            let value = typed.as_i64().unwrap_or_default();
            let bound = |b: &Option<Value>| b.as_ref().and_then(Value::as_i64);
            if let Some(min) = bound(&input.min)
                && value < min
            {
                return Err(format!("it must be more than `{min}`"));
            }
            if let Some(max) = bound(&input.max)
                && value > max
            {
                return Err(format!("it must be less than `{max}`"));
            }
            Ok(())
        }
        InputType::Float => {
            let Some(value) = typed.as_f64() else {
                return Ok(());
            };
            let bound = |b: &Option<Value>| b.as_ref().and_then(Value::as_f64).map(|f| f as f32);
            // Compared as Java floats, printed with `Float.toString`.
            if let Some(min) = bound(&input.min)
                && (value as f32) < min
            {
                return Err(format!("it must be more than `{}`", java_float(min)));
            }
            if let Some(max) = bound(&input.max)
                && (value as f32) > max
            {
                return Err(format!("it must be less than `{}`", java_float(max)));
            }
            Ok(())
        }
        InputType::Datetime => check_range(
            input,
            typed,
            parse_java_instant,
            |i: &DateTime<Utc>| format_instant(i),
            "it must",
        ),
        InputType::Date => check_range(
            input,
            typed,
            parse_java_date,
            |d: &NaiveDate| d.format("%Y-%m-%d").to_string(),
            "it must",
        ),
        InputType::Time => check_range(input, typed, parse_java_time, java_local_time, "it must"),
        InputType::Duration => {
            let Some(value) = typed.as_str().and_then(|s| parse_duration(s).ok()) else {
                return Ok(());
            };
            let bound = |b: &Option<Value>| {
                b.as_ref()
                    .and_then(Value::as_str)
                    .and_then(|s| parse_duration(s).ok())
            };
            if let Some(min) = bound(&input.min)
                && value < min
            {
                return Err(format!("It must be more than `{}`", format_duration(min)));
            }
            if let Some(max) = bound(&input.max)
                && value > max
            {
                return Err(format!("It must be less than `{}`", format_duration(max)));
            }
            Ok(())
        }
        InputType::Email => {
            let text = saker_expr::to_output_string(typed);
            if regex(EMAIL_PATTERN).is_match(&text) {
                Ok(())
            } else {
                Err("The input must be a valid email".into())
            }
        }
        InputType::Boolean
        | InputType::Bool
        | InputType::File
        | InputType::Json
        | InputType::Yaml
        | InputType::Uri
        | InputType::Array => Ok(()),
    }
}

/// `after`/`before` bounds (inclusive) of DATETIME/DATE/TIME. Unparsable bounds are ignored:
/// flow validation reports them.
fn check_range<T: Ord>(
    input: &Input,
    typed: &Value,
    parse: fn(&str) -> Option<T>,
    show: fn(&T) -> String,
    prefix: &str,
) -> Result<(), String> {
    let Some(value) = typed.as_str().and_then(parse) else {
        return Ok(());
    };
    if let Some(after) = input.after.as_deref().and_then(parse)
        && value.cmp(&after) == Ordering::Less
    {
        return Err(format!("{prefix} be after `{}`", show(&after)));
    }
    if let Some(before) = input.before.as_deref().and_then(parse)
        && value.cmp(&before) == Ordering::Greater
    {
        return Err(format!("{prefix} be before `{}`", show(&before)));
    }
    Ok(())
}

fn values_message(values: &[String]) -> String {
    format!("it must match the values `[{}]`", values.join(", "))
}

/// Kestra's wrapper around a parser exception.
fn parse_error(type_: InputType, current: &Value, detail: &str) -> String {
    format!(
        "Expected `{}` but received `{}` with errors:\n```\n{detail}\n```",
        type_.as_str(),
        java_string(current)
    )
}

fn unparsable(text: &str) -> String {
    format!("Text '{text}' could not be parsed")
}

fn as_str(current: &Value) -> Result<&str, String> {
    current.as_str().ok_or_else(|| cast_error(current))
}

/// The `ClassCastException` Kestra hits when a non-string reaches a string parser.
fn cast_error(current: &Value) -> String {
    format!(
        "class java.lang.{} cannot be cast to class java.lang.String",
        java_class(current)
    )
}

/// The Java class name of the value Jackson would produce for `v`.
pub(crate) fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "<null>",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Double",
        Value::String(_) => "String",
        Value::Array(_) => "ArrayList",
        Value::Object(_) => "LinkedHashMap",
    }
}

/// Java's `String.valueOf(value)` for the value Jackson would produce: maps as `{k=v}`, lists
/// as `[a, b]`, null as `null`. Used where Kestra concatenates a raw value into a message.
pub(crate) fn java_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => saker_expr::to_output_string(v),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(java_string).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// `Float.valueOf(text)`: trims, accepts a trailing `f`/`d`, `NaN` and `Infinity`.
fn parse_java_float(text: &str) -> Result<f32, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty String".into());
    }
    let unsigned = trimmed.trim_start_matches(['+', '-']);
    let negative = trimmed.starts_with('-');
    match unsigned {
        "NaN" => return Ok(f32::NAN),
        "Infinity" => {
            return Ok(if negative {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            });
        }
        _ => {}
    }
    let body = trimmed
        .strip_suffix(['f', 'F', 'd', 'D'])
        .unwrap_or(trimmed);
    // Rust also reads `inf`/`nan`, Java does not: only digits, signs, dots and exponents.
    let plausible = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    match body.parse::<f32>() {
        Ok(f) if plausible => Ok(f),
        _ => Err(format!("For input string: \"{text}\"")),
    }
}

/// A Java float as a JSON number with the digits Java prints (`42.42`, not `42.41999816894531`).
fn float_value(f: f32) -> Value {
    if f.is_finite() {
        let shortest: f64 = f.to_string().parse().unwrap_or(f64::from(f));
        serde_json::Number::from_f64(shortest)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    } else {
        Value::String(java_float(f))
    }
}

/// Java's `Float.toString`.
pub(crate) fn java_float(f: f32) -> String {
    match f.to_string().parse::<f64>() {
        Ok(shortest) if f.is_finite() => java_double(shortest),
        _ => java_double(f64::from(f)),
    }
}

/// `Instant.parse` (ISO_INSTANT): seconds optional, `Z` or an offset.
pub(crate) fn parse_java_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    let normalized = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{rest}+00:00"),
        None => text.to_owned(),
    };
    DateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M%:z")
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `LocalDate.parse` (ISO_LOCAL_DATE: `yyyy-MM-dd`, two-digit month and day).
pub(crate) fn parse_java_date(text: &str) -> Option<NaiveDate> {
    let shape = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// `LocalTime.parse` (ISO_LOCAL_TIME: `HH:mm[:ss[.fffffffff]]`, two-digit fields).
pub(crate) fn parse_java_time(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    let two = |i: usize| -> Option<u32> {
        let d = b.get(i..i + 2)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'))
    };
    let hour = two(0)?;
    if b.get(2) != Some(&b':') {
        return None;
    }
    let minute = two(3)?;
    let (mut second, mut nanos) = (0, 0);
    if b.len() > 5 {
        if b[5] != b':' {
            return None;
        }
        second = two(6)?;
        if b.len() > 8 {
            let fraction = text.get(9..)?;
            let valid = b[8] == b'.'
                && !fraction.is_empty()
                && fraction.len() <= 9
                && fraction.bytes().all(|c| c.is_ascii_digit());
            if !valid {
                return None;
            }
            nanos = format!("{fraction:0<9}").parse().ok()?;
        }
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

/// `LocalTime.toString()`: seconds omitted when zero, fraction in groups of three digits.
pub(crate) fn java_local_time(t: &NaiveTime) -> String {
    let mut out = format!("{:02}:{:02}", t.hour(), t.minute());
    let nanos = t.nanosecond();
    if t.second() > 0 || nanos > 0 {
        out.push_str(&format!(":{:02}", t.second()));
        if nanos > 0 {
            if nanos.is_multiple_of(1_000_000) {
                out.push_str(&format!(".{:03}", nanos / 1_000_000));
            } else if nanos.is_multiple_of(1_000) {
                out.push_str(&format!(".{:06}", nanos / 1_000));
            } else {
                out.push_str(&format!(".{nanos:09}"));
            }
        }
    }
    out
}

/// Jackson's `LocalTime` form (ISO_LOCAL_TIME): seconds always, fraction without trailing
/// zeros. This is how execution inputs are stored.
fn iso_local_time(t: NaiveTime) -> String {
    let mut out = t.format("%H:%M:%S").to_string();
    let nanos = t.nanosecond();
    if nanos > 0 {
        out.push('.');
        out.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    out
}

fn parse_yaml(text: &str) -> Result<Value, String> {
    // Jackson (Kestra's YAML mapper) only reads true/false as booleans.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| e.to_string())
}

/// The built-in patterns, compiled once.
fn regex(pattern: &'static str) -> &'static Regex {
    static URI: LazyLock<Regex> = LazyLock::new(|| compile(URI_PATTERN));
    static EMAIL: LazyLock<Regex> = LazyLock::new(|| compile(EMAIL_PATTERN));
    if pattern == URI_PATTERN { &URI } else { &EMAIL }
}

fn compile(pattern: &'static str) -> Regex {
    // Constants, covered by the tests: a failure here is a programming error.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}
