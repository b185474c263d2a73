//! The Webhook trigger (spec §5.4): matching a call of
//! `/api/v1[/{tenant}]/executions/webhook/{namespace}/{flowId}/{key}` to a trigger and the
//! `trigger.*` variables of the execution it creates.

use saker_expr::{Engine, Services};
use saker_flow::{Flow, Trigger};
use serde_json::{Map, Value};

use crate::{TriggerError, WEBHOOK};

/// What the server passes of an HTTP call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookRequest {
    pub method: String,
    /// Header names as received, in order (repeated names give several values).
    pub headers: Vec<(String, String)>,
    /// Query parameters in order (repeated names give several values).
    pub query: Vec<(String, String)>,
    /// The raw body; `None` or empty when there is none.
    pub body: Option<Vec<u8>>,
}

impl WebhookRequest {
    /// `trigger.body`, `trigger.headers`, `trigger.parameters`.
    pub fn variables(&self) -> Map<String, Value> {
        let mut vars = Map::new();
        vars.insert("body".into(), body_value(self.body.as_deref()));
        vars.insert("headers".into(), Value::Object(multimap(&self.headers)));
        vars.insert("parameters".into(), Value::Object(multimap(&self.query)));
        vars
    }
}

/// The body as Kestra exposes it: a JSON object if it parses as one, else a JSON array, else
/// the raw text; `null` when absent or empty.
pub fn body_value(body: Option<&[u8]>) -> Value {
    let Some(bytes) = body.filter(|b| !b.is_empty()) else {
        return Value::Null;
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => v,
        _ => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn multimap(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        let entry = out
            .entry(k.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(v.clone()));
        }
    }
    out
}

/// Keys longer than this are refused (Kestra's limit).
pub const MAX_KEY_LEN: usize = 256;

/// The webhook trigger of `flow` whose rendered key (trimmed) equals `key`. Keys are rendered
/// with the flow variables and the services (so `{{ secret('X') }}` works); a key that fails
/// to render matches nothing. Disabled triggers never match.
pub fn find_trigger<'f>(
    flow: &'f Flow,
    key: &str,
    engine: &Engine,
    services: &dyn Services,
) -> Result<Option<&'f Trigger>, TriggerError> {
    if key.len() > MAX_KEY_LEN {
        return Ok(None);
    }
    let vars = flow_vars(flow);
    for trigger in flow
        .triggers
        .iter()
        .filter(|t| t.canonical == WEBHOOK && !t.disabled)
    {
        let Some(template) = trigger.params.get("key").and_then(Value::as_str) else {
            continue;
        };
        let Ok(rendered) = engine.render(template, &vars, services) else {
            continue;
        };
        if rendered.trim() == key {
            return Ok(Some(trigger));
        }
    }
    Ok(None)
}

/// `{flow: {id, namespace, revision}}`: what a trigger's own properties render with.
pub fn flow_vars(flow: &Flow) -> Value {
    let mut f = Map::new();
    f.insert("id".into(), Value::String(flow.id.clone()));
    f.insert("namespace".into(), Value::String(flow.namespace.clone()));
    if let Some(rev) = flow.revision {
        f.insert("revision".into(), Value::from(rev));
    }
    let mut vars = Map::new();
    vars.insert("flow".into(), Value::Object(f));
    Value::Object(vars)
}

/// `wait` and `returnOutputs` of a webhook trigger (literal booleans; Kestra 1.0 does not render
/// them).
pub fn reply_mode(trigger: &Trigger) -> (bool, bool) {
    let flag = |k: &str| match trigger.params.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim() == "true",
        _ => false,
    };
    (flag("wait"), flag("returnOutputs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_is_object_array_or_raw_text() {
        assert_eq!(
            body_value(Some(br#"{"a":1,"b":true}"#)),
            json!({"a": 1, "b": true})
        );
        assert_eq!(body_value(Some(br#"[{"a":1}]"#)), json!([{"a": 1}]));
        assert_eq!(body_value(Some(b"bla")), json!("bla"));
        assert_eq!(body_value(Some(b"123")), json!("123"));
        let escaped = br#"{\"a\":\"\"}"#;
        assert_eq!(body_value(Some(escaped)), json!(r#"{\"a\":\"\"}"#));
        assert_eq!(body_value(None), Value::Null);
        assert_eq!(body_value(Some(b"")), Value::Null);
    }

    #[test]
    fn headers_and_parameters_are_lists() {
        let req = WebhookRequest {
            method: "POST".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            query: vec![
                ("name".into(), "john".into()),
                ("age".into(), "12".into()),
                ("age".into(), "13".into()),
            ],
            body: None,
        };
        let vars = req.variables();
        assert_eq!(
            vars["parameters"],
            json!({"name": ["john"], "age": ["12", "13"]})
        );
        assert_eq!(
            vars["headers"],
            json!({"Content-Type": ["application/json"]})
        );
        assert_eq!(vars["body"], Value::Null);
    }
}
