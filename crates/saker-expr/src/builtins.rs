//! Core-language callables registered before the library (which may override them): Pebble's
//! tests, `range`, and Kestra's `render`/`renderOnce` (which re-enter the engine).

use serde_json::Value;

use crate::value::{self, Num};
use crate::{Args, Call, Engine, Error, Result};

pub(crate) fn register(e: &mut Engine) {
    e.register_test("defined", |_, v, _| Ok(!v.is_null()));
    e.register_test("null", |_, v, _| Ok(v.is_null()));
    e.register_test("empty", |_, v, _| Ok(value::is_empty(v)));
    e.register_test("even", |_, v, _| parity(v, "even").map(|odd| !odd));
    e.register_test("odd", |_, v, _| parity(v, "odd"));
    // Java `Iterable`: lists only (a Java Map is not Iterable).
    e.register_test("iterable", |_, v, _| Ok(v.is_array()));
    e.register_test("map", |_, v, _| Ok(v.is_object()));
    e.register_function("range", range_fn);
    e.register_function("render", render_fn);
    e.register_function("renderOnce", render_once_fn);
}

/// True when odd.
fn parity(v: &Value, test: &str) -> Result<bool> {
    match Num::of(v) {
        Some(Num::Int(i)) => Ok(i % 2 != 0),
        Some(Num::Float(f)) => Ok((f as i64) % 2 != 0),
        None if v.is_null() => Err(Error::msg(format!(
            "Can not pass null value to \"{test}\" test."
        ))),
        None => Err(Error::msg(format!(
            "Can not pass a non-numeric value ({}) to the \"{test}\" test.",
            value::type_name(v)
        ))),
    }
}

fn range_fn(_: &Call<'_>, args: &Args) -> Result<Value> {
    let (Some(start), Some(end)) = (args.get(0, "start"), args.get(1, "end")) else {
        return Err(Error::msg("range() needs a start and an end"));
    };
    value::range(start, end, args.get(2, "increment")).map_err(Error::msg)
}

/// Kestra's recursive rendering cap ("Too many rendering attempts").
const MAX_RENDER_PASSES: usize = 100;

fn render_fn(call: &Call<'_>, args: &Args) -> Result<Value> {
    let input = args.get(0, "toRender").cloned().unwrap_or(Value::Null);
    let recursive = match args.get(1, "recursive") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::msg(format!(
                "render(): `recursive` must be a boolean, got {}",
                value::type_name(other)
            )));
        }
    };
    render_any(call, input, recursive)
}

fn render_once_fn(call: &Call<'_>, args: &Args) -> Result<Value> {
    let input = args.get(0, "toRender").cloned().unwrap_or(Value::Null);
    render_any(call, input, false)
}

fn render_any(call: &Call<'_>, input: Value, recursive: bool) -> Result<Value> {
    match input {
        Value::String(s) => {
            let mut current = call.engine.render_nested(&s, call.scope, call.services)?;
            if recursive {
                let mut passes = 1;
                while crate::is_template(&current) {
                    let next = call
                        .engine
                        .render_nested(&current, call.scope, call.services)?;
                    if next == current {
                        break;
                    }
                    passes += 1;
                    if passes > MAX_RENDER_PASSES {
                        return Err(Error::msg("Too many rendering attempts"));
                    }
                    current = next;
                }
            }
            Ok(Value::String(current))
        }
        Value::Array(items) => items
            .into_iter()
            .map(|v| render_any(call, v, recursive))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                let key = match render_any(call, Value::String(k), recursive)? {
                    Value::String(s) => s,
                    other => value::to_output_string(&other),
                };
                out.insert(key, render_any(call, v, recursive)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other),
    }
}
