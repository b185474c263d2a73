//! Writing Amazon Ion text, one value per line, as Kestra's `FileSerde` does for `.ion` files.

use serde_json::Value;

/// One JSON value as a line of Ion text (no trailing newline).
pub fn to_ion_line(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Ion reads a bare decimal with a dot as a decimal; an `e` exponent keeps it a float.
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            out.push_str(&format!("{f:e}"));
        }
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if is_symbol(key) {
                    out.push_str(key);
                } else {
                    out.push('\'');
                    out.push_str(&key.replace('\\', "\\\\").replace('\'', "\\'"));
                    out.push('\'');
                }
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

fn is_symbol(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !matches!(key, "true" | "false" | "null" | "nan")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_structs_lists_and_scalars() {
        assert_eq!(
            to_ion_line(&json!({"level": "INFO", "n": 1, "x": 1.5, "my-key": [true, null]})),
            r#"{level:"INFO",n:1,x:1.5e0,'my-key':[true,null]}"#
        );
    }
}
