//! Value helpers shared by the evaluator and the library: printing (Kestra/Java style),
//! comparison, number coercion and truthiness over `serde_json::Value`.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// A number as Pebble sees it: `Long` or `Double` (JSON has no other kinds we keep).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Number(n) => Some(Num::from_number(n)),
            _ => None,
        }
    }

    pub(crate) fn from_number(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i)
        } else {
            // u64 above i64::MAX (Java would hold a BigInteger) and decimals.
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    #[allow(dead_code)] // shared with src/library
    pub(crate) fn into_value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            Num::Float(f) => float_value(f),
        }
    }
}

/// A double as a JSON value. JSON cannot carry NaN/Infinity: they become the strings Java would
/// print (`NaN`, `Infinity`, `-Infinity`), which is what a Kestra render shows for them.
pub(crate) fn float_value(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => Value::String(java_double(f)),
    }
}

/// How Kestra prints a value into a rendered string: null → empty, strings raw, numbers as Java's
/// `toString`, maps/lists as compact JSON (Jackson style).
pub fn to_output_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        _ => {
            let mut out = String::new();
            write_output(&mut out, v);
            out
        }
    }
}

/// Appends the printed form of `v` to `out` (no intermediate allocation for scalars).
pub(crate) fn write_output(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => out.push_str(s),
        Value::Array(_) | Value::Object(_) => write_json(out, v),
    }
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        out.push_str(&java_double(n.as_f64().unwrap_or(f64::NAN)));
    }
}

/// Compact JSON as Jackson writes it (doubles via `Double.toString`, `\uXXXX` upper-case hex).
#[allow(dead_code)] // shared with src/library
pub(crate) fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

pub(crate) fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Java's `Double.toString`: plain notation for 1e-3 <= |d| < 1e7 (always with a fraction
/// digit), otherwise `d.dddE±n`; shortest digits that round-trip.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let abs = d.abs();
    let sign = if d < 0.0 { "-" } else { "" };
    // Shortest round-trip digits and decimal exponent, from Rust's `{:e}` formatting.
    let sci = format!("{abs:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (1e-3..1e7).contains(&abs) {
        let point = exp + 1; // number of digits before the decimal point
        let mut s = String::from(sign);
        if point <= 0 {
            s.push_str("0.");
            for _ in 0..(-point) {
                s.push('0');
            }
            s.push_str(&digits);
        } else {
            let p = point as usize;
            if digits.len() <= p {
                s.push_str(&digits);
                for _ in digits.len()..p {
                    s.push('0');
                }
                s.push_str(".0");
            } else {
                s.push_str(&digits[..p]);
                s.push('.');
                s.push_str(&digits[p..]);
            }
        }
        s
    } else {
        let mut s = String::from(sign);
        s.push_str(&digits[..1]);
        s.push('.');
        if digits.len() > 1 {
            s.push_str(&digits[1..]);
        } else {
            s.push('0');
        }
        let _ = write!(s, "E{exp}");
        s
    }
}

/// Java's `String.valueOf(obj)` for our values: what `+` with a string operand, `~`,
/// `isIn` and string interpolation use. Lists look like `[a, b]`, maps like `{k=v}`.
pub(crate) fn java_string(v: &Value) -> String {
    let mut out = String::new();
    write_java(&mut out, v);
    out
}

fn write_java(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                write_java(out, item);
            }
            out.push('}');
        }
    }
}

/// Ordering for `<`, `>`, sorting, `max`/`min`: numbers after widening, strings
/// lexicographically, booleans false < true. `None` when the kinds are not comparable.
#[allow(dead_code)] // shared with src/library
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            compare_num(Num::from_number(x), Num::from_number(y))
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub(crate) fn compare_num(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        _ => a.as_f64().partial_cmp(&b.as_f64()),
    }
}

/// Pebble `==`: numbers compared after widening (`1 == 1.0`), everything else by Java `equals`
/// (so `"1" == 1` is false; nested numbers compare by kind and value).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            compare_num(Num::from_number(x), Num::from_number(y)) == Some(Ordering::Equal)
        }
        _ => a == b,
    }
}

/// A value as a double: numbers, and strings that parse as numbers.
#[allow(dead_code)] // shared with src/library
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A value as a long: integral numbers (decimals truncate like Java `longValue()`), and strings
/// holding an integer.
#[allow(dead_code)] // shared with src/library
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// Lenient truthiness for library use: null/false/0/empty string/empty collection are false.
#[allow(dead_code)] // shared with src/library
pub(crate) fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Pebble's `compatibleCast(value, Boolean.class)`: `None` for null, numbers are non-zero,
/// strings non-empty (so `"false"` is true!), lists/maps are an error (`Err(type name)`).
pub(crate) fn pebble_bool(v: &Value) -> Result<Option<bool>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) => Ok(Some(n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()))),
        Value::String(s) => Ok(Some(!s.is_empty())),
        other => Err(type_name(other)),
    }
}

/// Pebble's `empty` test: null, blank string, empty list or map.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// A short, user-facing type name for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "long",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Pebble's range (`a..b`, `range(a, b, step)`): inclusive bounds, longs or single characters.
pub(crate) fn range(start: &Value, end: &Value, step: Option<&Value>) -> Result<Value, String> {
    const MAX_LEN: u64 = 1_000_000;
    let step = match step {
        None => 1,
        Some(s) => as_i64(s).ok_or_else(|| "range step must be a number".to_string())?,
    };
    if step == 0 {
        return Err("The step can't be 0".into());
    }
    let chars = |v: &Value| match v {
        Value::String(s) if s.chars().count() == 1 => s.chars().next(),
        _ => None,
    };
    if let (Some(a), Some(b)) = (chars(start), chars(end)) {
        let (a, b) = (a as i64, b as i64);
        let out = range_longs(a, b, step, MAX_LEN)?;
        return Ok(Value::Array(
            out.into_iter()
                .filter_map(|c| char::from_u32(c as u32))
                .map(|c| Value::String(c.to_string()))
                .collect(),
        ));
    }
    let (Some(a), Some(b)) = (Num::of(start), Num::of(end)) else {
        return Err(format!(
            "arguments of range must be numbers or single characters, got {} and {}",
            type_name(start),
            type_name(end)
        ));
    };
    let to_long = |n: Num| match n {
        Num::Int(i) => i,
        Num::Float(f) => f as i64,
    };
    let out = range_longs(to_long(a), to_long(b), step, MAX_LEN)?;
    Ok(Value::Array(out.into_iter().map(Value::from).collect()))
}

fn range_longs(a: i64, b: i64, step: i64, max: u64) -> Result<Vec<i64>, String> {
    let span = if step > 0 {
        if b < a {
            0
        } else {
            (b as i128 - a as i128) / step as i128 + 1
        }
    } else if b > a {
        0
    } else {
        (a as i128 - b as i128) / (-(step as i128)) + 1
    };
    if span > max as i128 {
        return Err(format!(
            "range of {span} elements exceeds the limit of {max}"
        ));
    }
    let mut out = Vec::with_capacity(span as usize);
    let mut i = a as i128;
    for _ in 0..span {
        out.push(i as i64);
        i += step as i128;
    }
    Ok(out)
}

/// Builds a map value from pairs (keeps insertion order).
pub(crate) fn map_of<I: IntoIterator<Item = (String, Value)>>(pairs: I) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn java_doubles() {
        let cases = [
            (1.0, "1.0"),
            (3.5, "3.5"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (1234567.0, "1234567.0"),
            (1e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e21, "1.0E21"),
            (123.456, "123.456"),
        ];
        for (d, s) in cases {
            assert_eq!(java_double(d), s, "{d}");
        }
    }

    #[test]
    fn printing() {
        assert_eq!(to_output_string(&json!(null)), "");
        assert_eq!(
            to_output_string(&json!({"a": [1, 2.0, "x\n"], "b": null})),
            r#"{"a":[1,2.0,"x\n"],"b":null}"#
        );
        assert_eq!(java_string(&json!({"a": [1, "x"]})), "{a=[1, x]}");
        assert_eq!(to_json(&json!("\u{1}")), "\"\\u0001\"");
    }

    #[test]
    fn comparisons() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert!(!values_equal(&json!("1"), &json!(1)));
        assert_eq!(compare(&json!(2), &json!(10.5)), Some(Ordering::Less));
        assert_eq!(compare(&json!("b"), &json!("a")), Some(Ordering::Greater));
        assert_eq!(compare(&json!("b"), &json!(1)), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(range(&json!(1), &json!(3), None).unwrap(), json!([1, 2, 3]));
        assert_eq!(range(&json!(3), &json!(1), None).unwrap(), json!([]));
        assert_eq!(
            range(&json!(5), &json!(1), Some(&json!(-2))).unwrap(),
            json!([5, 3, 1])
        );
        assert_eq!(
            range(&json!("a"), &json!("c"), None).unwrap(),
            json!(["a", "b", "c"])
        );
        assert!(range(&json!(0), &json!(i64::MAX), None).is_err());
        assert!(range(&json!(0), &json!(1), Some(&json!(0))).is_err());
    }
}
