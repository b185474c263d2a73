//! Kestra's tests; Pebble's (`defined`, `null`, `empty`, `even`, `odd`, `iterable`, `map`) are
//! registered by the core (`builtins.rs`).

use crate::{Args, Call, Result, Value};

/// `x is json`: a string that parses as JSON; anything else is not JSON text.
pub(crate) fn json(_: &Call<'_>, input: &Value, _: &Args) -> Result<bool> {
    Ok(match input {
        Value::String(s) => serde_json::from_str::<Value>(s).is_ok(),
        _ => false,
    })
}
