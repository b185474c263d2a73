//! Serialisation filters: `toJson`/`json`, `yaml`, `toIon`, and `jq` (jaq 3.x; the filter
//! always returns the list of results, as Kestra's).

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::{Num, Val};

use crate::library::ion;
use crate::library::util::{arg_str, float, number_to_string, to_json};
use crate::{Args, Call, Error, Result, Value};

pub(crate) fn to_json_filter(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    Ok(Value::String(to_json(input)))
}

pub(crate) fn yaml_filter(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    Ok(Value::String(to_yaml(input)))
}

pub(crate) fn to_ion_filter(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    Ok(Value::String(ion::write(input)))
}

// ------------------------------------------------------------------------------------------
// YAML output, shaped like Jackson's YAML mapper as Kestra configures it (no `---`, minimal
// quotes, literal blocks for multi-line strings, sequences not indented under their key).

pub(crate) fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => write_seq(a, 0, &mut out),
        other => {
            out.push_str(&yaml_scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&yaml_string(k, indent));
        out.push(':');
        write_value_after_key(v, indent, out);
    }
}

fn write_value_after_key(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            write_seq(a, indent, out);
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn write_seq(a: &[Value], indent: usize, out: &mut String) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => write_map(m, indent + 2, out),
            Value::Array(inner) if !inner.is_empty() => write_seq(inner, indent + 2, out),
            other => {
                out.push_str(&yaml_scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_to_string(n),
        Value::String(s) => yaml_string(s, indent),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn looks_like_number(s: &str) -> bool {
    let t = s.trim_start_matches(['-', '+']);
    s.parse::<f64>().is_ok()
        || t.starts_with("0x")
        || t.starts_with("0o")
        || matches!(t.to_ascii_lowercase().as_str(), ".inf" | ".nan")
        || (t
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == '.')
            && t.chars().any(|c| c.is_ascii_digit()))
}

fn yaml_string(s: &str, indent: usize) -> String {
    if s.contains('\n') && !s.contains(['\r', '\t']) && !s.starts_with(' ') {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        let pad = " ".repeat(indent.max(2));
        let body = s.strip_suffix('\n').unwrap_or(s);
        let lines: Vec<String> = body
            .split('\n')
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect();
        return format!("|{chomp}\n{}", lines.join("\n"));
    }
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "y" | "n" | "on" | "off" | "null" | "~"
    );
    let first_special =
        s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace());
    let needs_quotes = s.is_empty()
        || reserved
        || first_special
        || looks_like_number(s)
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(char::is_control);
    if needs_quotes {
        serde_json::to_string(s).unwrap_or_default()
    } else {
        s.to_string()
    }
}

// ------------------------------------------------------------------------------------------
// jq

fn to_val(v: Value) -> Result<Val> {
    serde_json::from_value(v)
        .map_err(|e| Error::msg(format!("cannot convert the value for jq: {e}")))
}

fn from_val(v: Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        Val::Num(n) => match n {
            Num::Int(i) => Value::from(i as i64),
            Num::Float(f) => float(f),
            other => {
                let s = other.to_string();
                serde_json::from_str::<Value>(&s)
                    .ok()
                    .filter(Value::is_number)
                    .unwrap_or_else(|| s.parse::<f64>().map(float).unwrap_or(Value::Null))
            }
        },
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        Val::Arr(a) => Value::Array(a.iter().cloned().map(from_val).collect()),
        Val::Obj(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, from_val(v.clone()))
                })
                .collect(),
        ),
    }
}

/// Runs a jq program over a JSON value and collects every output.
pub(crate) fn run_jq(expr: &str, input: Value) -> Result<Vec<Value>> {
    let shown = to_json(&input);
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: expr,
                path: (),
            },
        )
        .map_err(|errs| {
            let near = |at: &str| -> String { at.chars().take(20).collect() };
            let describe = |what: &str, at: &str| {
                let n = near(at);
                if n.is_empty() {
                    format!("expected {what} at end of input")
                } else {
                    format!("expected {what} near '{n}'")
                }
            };
            let detail: Vec<String> = errs
                .iter()
                .map(|(_, e)| match e {
                    jaq_core::load::Error::Lex(v) => v
                        .iter()
                        .map(|(x, at)| describe(x.as_str(), at))
                        .collect::<Vec<_>>()
                        .join(", "),
                    jaq_core::load::Error::Parse(v) => v
                        .iter()
                        .map(|(x, at)| describe(x.as_str(), at))
                        .collect::<Vec<_>>()
                        .join(", "),
                    jaq_core::load::Error::Io(v) => v
                        .iter()
                        .map(|(p, m)| format!("{p}: {m}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect();
            Error::msg(format!(
                "Invalid jq expression '{expr}': {}",
                detail.join("; ")
            ))
        })?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .iter()
                .flat_map(|(_, v)| v.iter().map(|(name, _)| format!("undefined {name}")))
                .collect();
            Error::msg(format!(
                "Invalid jq expression '{expr}': {}",
                names.join(", ")
            ))
        })?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for r in filter.id.run((ctx, to_val(input)?)).map(unwrap_valr) {
        let v = r.map_err(|e| {
            Error::msg(format!(
                "Failed to resolve JQ expression '{expr}' and value '{shown}': {e}"
            ))
        })?;
        out.push(from_val(v));
    }
    Ok(out)
}

pub(crate) fn jq(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let expr = arg_str(args, 0, "expression", "jq")?
        .ok_or_else(|| Error::msg("The 'jq' filter expects an argument 'expression'."))?;
    let value = match input {
        Value::String(s) => serde_json::from_str(s).map_err(|e| {
            Error::msg(format!(
                "Unable to parse jq value '{s}' with type 'java.lang.String': {e}"
            ))
        })?,
        other => other.clone(),
    };
    run_jq(expr, value).map(Value::Array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jq_programs() {
        assert_eq!(
            run_jq(".items[].n", json!({"items": [{"n": 1}, {"n": 2}]})).unwrap(),
            vec![json!(1), json!(2)]
        );
        assert_eq!(
            run_jq("map(. * 2) | add", json!([1, 2, 3])).unwrap(),
            vec![json!(12)]
        );
        assert_eq!(run_jq(".a", json!({"a": 1.5})).unwrap(), vec![json!(1.5)]);
        assert_eq!(
            run_jq("{b: .a}", json!({"a": "x"})).unwrap(),
            vec![json!({"b": "x"})]
        );
        assert!(
            run_jq(".[", json!(1))
                .unwrap_err()
                .message
                .contains("Invalid jq expression")
        );
        assert!(
            run_jq("foo", json!(1))
                .unwrap_err()
                .message
                .contains("undefined")
        );
        assert!(
            run_jq(".a", json!(1))
                .unwrap_err()
                .message
                .contains("Failed to resolve")
        );
    }

    #[test]
    fn yaml_output() {
        let v = json!({"a": 1, "b": [1, "two", {"c": true, "d": null}], "e": {"f": "yes", "g": ""}, "h": "x\ny", "i": []});
        assert_eq!(
            to_yaml(&v),
            "a: 1\nb:\n- 1\n- two\n- c: true\n  d: null\ne:\n  f: \"yes\"\n  g: \"\"\nh: |-\n  x\n  y\ni: []\n"
        );
        assert_eq!(to_yaml(&json!("1.5")), "\"1.5\"\n");
    }
}
