//! Kestra functions (spec §7.6) and Pebble's `max`/`min`. `range`, `render` and `renderOnce`
//! live in the core (`builtins.rs`) because they re-enter the engine.

use std::hash::{BuildHasher, Hasher};

use crate::library::ion;
use crate::library::util::{arg, arg_bool, arg_str, class_name, compare, req_i64, req_str};
use crate::{Args, Call, Error, Result, Value};

pub(crate) fn from_json(_: &Call<'_>, args: &Args) -> Result<Value> {
    match arg(args, 0, "json") {
        None => Ok(Value::Null),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| Error::msg(format!("Invalid JSON given to fromJson: {e}"))),
        Some(other) => Err(Error::msg(format!(
            "'fromJson' function expects a String argument, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn yaml(_: &Call<'_>, args: &Args) -> Result<Value> {
    match arg(args, 0, "yaml") {
        None => Ok(Value::Null),
        Some(Value::String(s)) => {
            // Jackson (Kestra's parser) only reads true/false as booleans, not YAML 1.1 `y`/`on`.
            let mut options = serde_saphyr::Options::default();
            options.strict_booleans = true;
            serde_saphyr::from_str_with_options::<Value>(s, options)
                .map_err(|e| Error::msg(format!("Invalid YAML given to yaml(): {e}")))
        }
        Some(other) => Err(Error::msg(format!(
            "'yaml' function expects a String argument, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn from_ion(_: &Call<'_>, args: &Args) -> Result<Value> {
    let all_rows = arg_bool(args, 1, "allRows", "fromIon")?.unwrap_or(false);
    match arg(args, 0, "ion") {
        None => Ok(Value::Null),
        Some(Value::String(s)) => {
            let mut rows = ion::read_all(s)?;
            if all_rows {
                Ok(Value::Array(rows))
            } else if rows.is_empty() {
                Ok(Value::Null)
            } else {
                Ok(rows.swap_remove(0))
            }
        }
        Some(other) => Err(Error::msg(format!(
            "'fromIon' function expects a String argument, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn secret(call: &Call<'_>, args: &Args) -> Result<Value> {
    let key = req_str(args, 0, "key", "secret")?;
    let subkey = arg_str(args, 2, "subkey", "secret")?;
    let value = call.services.secret(key).map_err(Error::msg)?;
    let Some(sub) = subkey else {
        return Ok(Value::String(value));
    };
    let parsed: Value = serde_json::from_str(&value).map_err(|_| {
        Error::msg(format!(
            "Secret '{key}' is not a JSON object, cannot read sub-key '{sub}'"
        ))
    })?;
    match parsed.get(sub) {
        Some(Value::String(s)) => Ok(Value::String(s.clone())),
        Some(other) => Ok(Value::String(crate::value::to_output_string(other))),
        None => Err(Error::msg(format!(
            "Cannot find secret sub-key '{sub}' in secret '{key}'."
        ))),
    }
}

fn flow_namespace(scope: &Value) -> Option<&str> {
    scope.get("flow")?.get("namespace")?.as_str()
}

/// Without a namespace: the flow namespace, then each parent (`a.b.c` → `a.b` → `a`).
pub(crate) fn kv(call: &Call<'_>, args: &Args) -> Result<Value> {
    let key = req_str(args, 0, "key", "kv")?;
    let namespace = arg_str(args, 1, "namespace", "kv")?;
    let error_on_missing = arg_bool(args, 2, "errorOnMissing", "kv")?.unwrap_or(true);
    let missing = |ns: Option<&str>| {
        if error_on_missing {
            Err(Error::msg(format!(
                "The key '{key}' does not exist in the namespace '{}'.",
                ns.unwrap_or_default()
            )))
        } else {
            Ok(Value::Null)
        }
    };
    if let Some(ns) = namespace {
        return match call.services.kv(Some(ns), key).map_err(Error::msg)? {
            Some(v) => Ok(v),
            None => missing(Some(ns)),
        };
    }
    let Some(flow_ns) = flow_namespace(call.scope) else {
        return match call.services.kv(None, key).map_err(Error::msg)? {
            Some(v) => Ok(v),
            None => missing(None),
        };
    };
    let mut ns = flow_ns;
    loop {
        if let Some(v) = call.services.kv(Some(ns), key).map_err(Error::msg)? {
            return Ok(v);
        }
        match ns.rfind('.') {
            Some(i) => ns = &ns[..i],
            None => return missing(Some(flow_ns)),
        }
    }
}

fn is_uri(path: &str) -> bool {
    ["kestra://", "nsfile://", "file://"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// A relative path with an explicit namespace is addressed as `nsfile://<ns>/<path>`.
pub(crate) fn read(call: &Call<'_>, args: &Args) -> Result<Value> {
    let path = req_str(args, 0, "path", "read")?;
    let target = match arg_str(args, 1, "namespace", "read")? {
        Some(ns) if !is_uri(path) => format!("nsfile://{ns}/{}", path.trim_start_matches('/')),
        _ => path.to_string(),
    };
    call.services
        .read(&target)
        .map(Value::String)
        .map_err(Error::msg)
}

pub(crate) fn file_uri(call: &Call<'_>, args: &Args) -> Result<Value> {
    let path = req_str(args, 0, "path", "fileURI")?;
    if path.split(['/', '\\']).any(|seg| seg == "..") {
        return Err(Error::msg(format!("Path must not contain '../': {path}")));
    }
    let ns = flow_namespace(call.scope)
        .ok_or_else(|| Error::msg("fileURI() needs the flow namespace in the context"))?;
    Ok(Value::String(format!(
        "kestra:///{}/_files/{}",
        ns.replace('.', "/"),
        path.trim_start_matches('/')
    )))
}

fn size_of(call: &Call<'_>, args: &Args, name: &str) -> Result<Option<u64>> {
    let path = req_str(args, 0, "path", name)?;
    call.services.file_size(path).map_err(Error::msg)
}

pub(crate) fn file_size(call: &Call<'_>, args: &Args) -> Result<Value> {
    let path = req_str(args, 0, "path", "fileSize")?;
    match size_of(call, args, "fileSize")? {
        Some(n) => Ok(Value::from(n)),
        None => Err(Error::msg(format!(
            "Unable to find the file at path '{path}'"
        ))),
    }
}

pub(crate) fn file_exists(call: &Call<'_>, args: &Args) -> Result<Value> {
    Ok(Value::Bool(size_of(call, args, "fileExists")?.is_some()))
}

pub(crate) fn is_file_empty(call: &Call<'_>, args: &Args) -> Result<Value> {
    let path = req_str(args, 0, "path", "isFileEmpty")?;
    match size_of(call, args, "isFileEmpty")? {
        Some(n) => Ok(Value::Bool(n == 0)),
        None => Err(Error::msg(format!(
            "Unable to find the file at path '{path}'"
        ))),
    }
}

pub(crate) fn error_logs(call: &Call<'_>, _: &Args) -> Result<Value> {
    call.services.error_logs().map_err(Error::msg)
}

/// Every task run of `tasks` (`{id: {state}}` or `{id: {value: {state}}}`) in `state`.
pub(crate) fn tasks_with_state(call: &Call<'_>, args: &Args) -> Result<Value> {
    let wanted = req_str(args, 0, "state", "tasksWithState")?;
    let mut out = Vec::new();
    let Some(Value::Object(tasks)) = call.scope.get("tasks") else {
        return Ok(Value::Array(out));
    };
    let matches = |s: Option<&Value>| {
        s.and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
    };
    for (id, info) in tasks {
        if let Some(state) = info.get("state").filter(|s| s.is_string()) {
            if matches(Some(state)) {
                out.push(serde_json::json!({"taskId": id, "state": state}));
            }
        } else if let Value::Object(by_value) = info {
            for (value, run) in by_value {
                if matches(run.get("state")) {
                    out.push(
                        serde_json::json!({"taskId": id, "state": run["state"], "value": value}),
                    );
                }
            }
        }
    }
    Ok(Value::Array(out))
}

/// Walks the outputs down the parents' values (outermost first) then `taskrun.value`.
pub(crate) fn current_each_output(call: &Call<'_>, args: &Args) -> Result<Value> {
    let mut outputs = match arg(args, 0, "outputs") {
        Some(Value::Object(_)) => arg(args, 0, "outputs").cloned().unwrap_or_default(),
        Some(_) => {
            return Err(Error::msg(
                "The 'currentEachOutput' function expects an argument 'outputs' with type map.",
            ));
        }
        None => {
            return Err(Error::msg(
                "The 'currentEachOutput' function expects an argument 'outputs'.",
            ));
        }
    };
    let key = |v: &Value| crate::value::java_string(v);
    if let Some(Value::Array(parents)) = call.scope.get("parents") {
        for parent in parents.iter().rev() {
            if let Some(tr) = parent.get("taskrun").filter(|t| t.is_object()) {
                let value = tr.get("value").map(key).unwrap_or_else(|| "null".into());
                outputs = match outputs.get(&value) {
                    Some(v) if !v.is_null() => v.clone(),
                    _ => {
                        return Err(Error::msg(
                            "No execution outputs for the current task runs path",
                        ));
                    }
                };
            }
        }
    }
    let value = call
        .scope
        .get("taskrun")
        .and_then(|t| t.get("value"))
        .map(key)
        .unwrap_or_default();
    Ok(outputs.get(&value).cloned().unwrap_or(Value::Null))
}

pub(crate) fn print_context(call: &Call<'_>, _: &Args) -> Result<Value> {
    Ok(call.scope.clone())
}

fn extreme(args: &Args, name: &str, want: std::cmp::Ordering) -> Result<Value> {
    let mut best: Option<&Value> = None;
    for v in args
        .positional
        .iter()
        .chain(args.named.iter().map(|(_, v)| v))
    {
        best = match best {
            None => Some(v),
            Some(b) => match compare(v, b) {
                Some(o) if o == want => Some(v),
                Some(_) => Some(b),
                None => {
                    return Err(Error::msg(format!(
                        "{name}() cannot compare {} with {}",
                        class_name(v),
                        class_name(b)
                    )));
                }
            },
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

pub(crate) fn max(_: &Call<'_>, args: &Args) -> Result<Value> {
    extreme(args, "max", std::cmp::Ordering::Greater)
}

pub(crate) fn min(_: &Call<'_>, args: &Args) -> Result<Value> {
    extreme(args, "min", std::cmp::Ordering::Less)
}

pub(crate) fn uuid(call: &Call<'_>, _: &Args) -> Result<Value> {
    Ok(Value::String(call.services.uuid()))
}

fn uuid_bytes(call: &Call<'_>) -> Vec<u8> {
    let hex: String = call
        .services
        .uuid()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Big-endian bytes in base 62 (GMP alphabet), by repeated division.
fn base62(bytes: &[u8]) -> String {
    let mut num: Vec<u32> = bytes.iter().map(|b| u32::from(*b)).collect();
    let mut out = Vec::new();
    while num.iter().any(|d| *d != 0) {
        let mut rem = 0u32;
        for d in num.iter_mut() {
            let cur = rem * 256 + *d;
            *d = cur / 62;
            rem = cur % 62;
        }
        out.push(BASE62[rem as usize]);
    }
    if out.is_empty() {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Kestra's friendly id: the service's UUID bytes in base 62.
pub(crate) fn id(call: &Call<'_>, _: &Args) -> Result<Value> {
    Ok(Value::String(base62(&uuid_bytes(call))))
}

/// KSUID: 4-byte timestamp (seconds since 2014-05-13T16:53:20Z) + 16 bytes of payload,
/// 27 base-62 characters.
pub(crate) fn ksuid(call: &Call<'_>, _: &Args) -> Result<Value> {
    let ts = (call.services.now().timestamp() - 1_400_000_000).clamp(0, i64::from(u32::MAX)) as u32;
    let mut bytes = ts.to_be_bytes().to_vec();
    let mut payload = uuid_bytes(call);
    payload.resize(16, 0);
    bytes.extend(payload);
    Ok(Value::String(format!("{:0>27}", base62(&bytes))))
}

fn random_u64() -> u64 {
    // std's RandomState is seeded from the OS per thread and re-keyed for every instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

pub(crate) fn random_int(_: &Call<'_>, args: &Args) -> Result<Value> {
    let lower = req_i64(args, 0, "lower", "randomInt")?;
    let upper = req_i64(args, 1, "upper", "randomInt")?;
    if upper <= lower {
        return Err(Error::msg(format!(
            "In 'randomInt' function, the 'upper' argument ({upper}) must be greater than 'lower' ({lower})"
        )));
    }
    let span = (i128::from(upper) - i128::from(lower)) as u128;
    let v = i128::from(lower) + (u128::from(random_u64()) % span) as i128;
    Ok(Value::from(v as i64))
}

/// A free local TCP port (bound on the loopback then released), as Kestra's `randomPort()`.
pub(crate) fn random_port(_: &Call<'_>, _: &Args) -> Result<Value> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::msg(format!("randomPort(): cannot find a free port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::msg(e.to_string()))?
        .port();
    Ok(Value::from(port))
}

/// `encrypt(key, plaintext)`: see [`crate::crypto`].
pub(crate) fn encrypt(_: &Call<'_>, args: &Args) -> Result<Value> {
    let key = req_str(args, 0, "key", "encrypt")?;
    let plaintext = arg_str(args, 1, "plaintext", "encrypt")?.unwrap_or("");
    crate::crypto::encrypt(key, plaintext)
        .map(Value::String)
        .map_err(Error::msg)
}

/// `decrypt(key, encrypted)`: see [`crate::crypto`].
pub(crate) fn decrypt(_: &Call<'_>, args: &Args) -> Result<Value> {
    let key = req_str(args, 0, "key", "decrypt")?;
    let encrypted = arg_str(args, 1, "encrypted", "decrypt")?.unwrap_or("");
    crate::crypto::decrypt(key, encrypted)
        .map(Value::String)
        .map_err(Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, NoServices};
    use base64::Engine as _;
    use serde_json::json;

    fn call_fn(f: crate::FunctionFn, pos: Vec<Value>) -> Result<Value> {
        let engine = Engine::empty();
        let call = Call {
            engine: &engine,
            scope: &Value::Null,
            services: &NoServices,
        };
        f(
            &call,
            &Args {
                positional: pos,
                named: vec![],
            },
        )
    }

    #[test]
    fn aes_round_trip() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let enc = call_fn(encrypt, vec![json!(key), json!("hello")]).unwrap();
        let enc = enc.as_str().unwrap().to_string();
        assert_ne!(enc, "hello");
        assert_eq!(
            call_fn(decrypt, vec![json!(key), json!(enc)]).unwrap(),
            json!("hello")
        );
        let other = base64::engine::general_purpose::STANDARD.encode([8u8; 32]);
        assert!(call_fn(decrypt, vec![json!(other), json!(enc)]).is_err());
    }

    #[test]
    fn base62_and_random() {
        assert_eq!(
            base62(&[0, 61]),
            "Z".to_lowercase().to_uppercase().replace('Z', "z")
        );
        assert_eq!(base62(&[1, 0]), "48");
        for _ in 0..50 {
            let v = call_fn(random_int, vec![json!(3), json!(5)])
                .unwrap()
                .as_i64()
                .unwrap();
            assert!((3..5).contains(&v));
        }
        assert!(call_fn(random_int, vec![json!(5), json!(3)]).is_err());
    }
}
