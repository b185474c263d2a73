//! Collection filters: Pebble's (`first`, `last`, `join`, `length`, `merge`, `reverse`,
//! `sort`, `rsort`, `slice`, `default`) and Kestra's (`chunk`, `distinct`, `flatten`, `keys`,
//! `values`).

use std::cmp::Ordering;

use crate::library::util::{
    arg, arg_i64, arg_str, class_name, compare, is_empty, java_to_string, loose_eq,
};
use crate::{Args, Call, Error, Result, Value};

fn only_list<'a>(input: &'a Value, filter: &str) -> Result<&'a Vec<Value>> {
    match input {
        Value::Array(a) => Ok(a),
        other => Err(Error::msg(format!(
            "'{filter}' filter can only be applied to List. Actual type was: {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn first(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(s
            .chars()
            .next()
            .map(|c| Value::String(c.to_string()))
            .unwrap_or(Value::Null)),
        Value::Array(a) => Ok(a.first().cloned().unwrap_or(Value::Null)),
        other => Err(Error::msg(format!(
            "The 'first' filter expects a list or a string, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn last(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(s
            .chars()
            .last()
            .map(|c| Value::String(c.to_string()))
            .unwrap_or(Value::Null)),
        Value::Array(a) => Ok(a.last().cloned().unwrap_or(Value::Null)),
        other => Err(Error::msg(format!(
            "The 'last' filter expects a list or a string, got {}",
            class_name(other)
        ))),
    }
}

/// Elements are appended with Java's `String.valueOf` (`null`, `1.0`, `{a=1}`).
pub(crate) fn join(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    let sep = arg_str(args, 0, "separator", "join")?.unwrap_or("");
    match input {
        Value::Null => Ok(Value::Null),
        Value::Array(a) => Ok(Value::String(
            a.iter().map(java_to_string).collect::<Vec<_>>().join(sep),
        )),
        other => Err(Error::msg(format!(
            "The 'join' filter expects a list, got {}",
            class_name(other)
        ))),
    }
}

/// Strings count UTF-16 units like Java's `String.length()`; non-collections are 0.
pub(crate) fn length(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    let n = match input {
        Value::String(s) => s.encode_utf16().count(),
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        _ => 0,
    };
    Ok(Value::from(n as i64))
}

pub(crate) fn merge(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    let items = arg(args, 0, "items");
    match (input, items) {
        (Value::Null, None) => Err(Error::msg("The two arguments to be merged are null")),
        (Value::Null, Some(i)) => Ok(i.clone()),
        (i, None) => Ok(i.clone()),
        (Value::Object(a), Some(Value::Object(b))) => {
            let mut out = a.clone();
            for (k, v) in b {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(out))
        }
        (Value::Array(a), Some(Value::Array(b))) => {
            Ok(Value::Array(a.iter().chain(b).cloned().collect()))
        }
        (Value::Object(_), Some(other)) => Err(Error::msg(format!(
            "The object being merged into a map must be a map, got {}",
            class_name(other)
        ))),
        (Value::Array(_), Some(other)) => Err(Error::msg(format!(
            "The object being merged into a list must be a list, got {}",
            class_name(other)
        ))),
        (other, _) => Err(Error::msg(format!(
            "The 'merge' filter only merges maps and lists, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn reverse(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::Array(a) => Ok(Value::Array(a.iter().rev().cloned().collect())),
        Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
        other => Err(Error::msg(format!(
            "The 'reverse' filter expects a list or a string, got {}",
            class_name(other)
        ))),
    }
}

fn sorted(input: &Value, name: &str) -> Result<Option<Vec<Value>>> {
    let a = match input {
        Value::Null => return Ok(None),
        other => only_list(other, name)?,
    };
    let mut out = a.clone();
    let mut failed = false;
    out.sort_by(|x, y| {
        compare(x, y).unwrap_or_else(|| {
            failed = true;
            Ordering::Equal
        })
    });
    if failed {
        return Err(Error::msg(format!(
            "The '{name}' filter can only sort lists of comparable values of a single type"
        )));
    }
    Ok(Some(out))
}

pub(crate) fn sort(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    Ok(sorted(input, "sort")?
        .map(Value::Array)
        .unwrap_or(Value::Null))
}

pub(crate) fn rsort(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    Ok(sorted(input, "rsort")?
        .map(|mut v| {
            v.reverse();
            Value::Array(v)
        })
        .unwrap_or(Value::Null))
}

pub(crate) fn slice(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    let len = match input {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        other => {
            return Err(Error::msg(format!(
                "Slice filter can only be applied to String and List; got {}",
                class_name(other)
            )));
        }
    } as i64;
    let from = arg_i64(args, 0, "fromIndex", "slice")?.unwrap_or(0);
    let to = arg_i64(args, 1, "toIndex", "slice")?.unwrap_or(len);
    if from < 0 {
        return Err(Error::msg("fromIndex must be greater than 0"));
    }
    if to > len {
        return Err(Error::msg("toIndex must be smaller than input size"));
    }
    if from >= to {
        return Err(Error::msg("toIndex must be greater than fromIndex"));
    }
    let (from, to) = (from as usize, to as usize);
    Ok(match input {
        Value::String(s) => Value::String(s.chars().skip(from).take(to - from).collect()),
        Value::Array(a) => Value::Array(a[from..to].to_vec()),
        _ => Value::Null,
    })
}

/// Defined-null case only; the evaluator handles an undefined input itself.
pub(crate) fn default(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    if is_empty(input) {
        Ok(args.get(0, "default").cloned().unwrap_or(Value::Null))
    } else {
        Ok(input.clone())
    }
}

pub(crate) fn chunk(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let list = only_list(input, "chunk")?;
    let size = arg_i64(args, 0, "size", "chunk")?
        .ok_or_else(|| Error::msg("The 'chunk' filter expects an integer argument 'size'."))?;
    if size <= 0 {
        return Err(Error::msg(
            "The 'chunk' filter expects a 'size' greater than 0.",
        ));
    }
    Ok(Value::Array(
        list.chunks(size as usize)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

/// Kestra quirk kept: a null input gives the string `"null"`.
pub(crate) fn distinct(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::String("null".into()));
    }
    let list = only_list(input, "distinct")?;
    let mut out: Vec<Value> = Vec::new();
    for v in list {
        if !out
            .iter()
            .any(|o| loose_eq(o, v) && class_name(o) == class_name(v))
        {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

pub(crate) fn flatten(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let list = only_list(input, "flatten")?;
    let mut out = Vec::new();
    for v in list {
        match v {
            Value::Array(inner) => out.extend(inner.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    Ok(Value::Array(out))
}

pub(crate) fn keys(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::Object(m) => Ok(Value::Array(
            m.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        Value::Array(a) => Ok(Value::Array((0..a.len() as i64).map(Value::from).collect())),
        other => Err(Error::msg(format!(
            "'keys' filter can only be applied to Map or List. Actual type was: {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn values(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::Object(m) => Ok(Value::Array(m.values().cloned().collect())),
        other => Err(Error::msg(format!(
            "'values' filter can only be applied to Map. Actual type was: {}",
            class_name(other)
        ))),
    }
}
