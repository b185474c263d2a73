//! `io.kestra.plugin.core.kv.Set`: stores a value under a key of the namespace KV store.

use saker_task::prelude::*;
use saker_task::kv::{KvPut, KvValue, validate_key};

use crate::shared::namespace_or_flow;

/// Properties of `Set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// The key.
    pub key: Property<String>,
    /// The value, rendered with typed rendering (a pure `{{ expr }}` keeps its type).
    pub value: Value,
    /// Namespace of the KV store (default: the flow namespace).
    pub namespace: Option<Property<String>>,
    /// Overwrite an existing key (default true).
    pub overwrite: Option<Property<bool>>,
    /// Time to live of the key.
    pub ttl: Option<Property<IsoDuration>>,
    /// Convert a string value to this type.
    pub kv_type: Option<Property<KvType>>,
    /// Description of the key.
    pub kv_description: Option<Property<String>>,
}

/// Runs `kv.Set`.
pub struct Set;

impl RunnableTask for Set {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = namespace_or_flow(ctx, &params.namespace)?;
        let key = ctx.render_property(&params.key)?;
        validate_key(&key).map_err(TaskError::failed)?;
        let rendered = match &params.value {
            Value::String(template) => ctx.render_typed(template)?,
            other => ctx.render_value(other)?,
        };
        let value = match ctx.render_opt(&params.kv_type)? {
            Some(kind) => convert(rendered, kind)?,
            None => KvValue::new(rendered),
        };
        let now = ctx.now();
        let expiration = match ctx.render_opt(&params.ttl)? {
            Some(ttl) => Some(
                chrono::TimeDelta::from_std(ttl.as_duration())
                    .ok()
                    .and_then(|ttl| now.checked_add_signed(ttl))
                    .ok_or_else(|| TaskError::Failed(format!("ttl {ttl} is too large")))?,
            ),
            None => None,
        };
        let entry = KvPut {
            value,
            description: ctx.render_opt(&params.kv_description)?,
            expiration,
            overwrite: ctx.render_opt(&params.overwrite)?.unwrap_or(true),
        };
        ctx.kv()
            .put(&namespace, &key, entry, now)
            .await
            .map_err(TaskError::failed)?;
        Ok(TaskOutcome::empty())
    }
}

/// `kvType` conversion; like Kestra, only a string value is converted.
fn convert(value: Value, kind: KvType) -> Result<KvValue, TaskError> {
    let invalid = |what: &str, text: &str| {
        TaskError::Failed(format!("cannot store \"{text}\" as {what}: not a valid {what}"))
    };
    let value = match (&value, kind) {
        (Value::String(text), KvType::Number) => match serde_json::from_str::<Value>(text.trim()) {
            Ok(number @ Value::Number(_)) => number,
            _ => return Err(invalid("NUMBER", text)),
        },
        (Value::String(text), KvType::Boolean) => Value::Bool(text.eq_ignore_ascii_case("true")),
        (Value::String(text), KvType::Datetime | KvType::Date) => {
            let instant = saker_core::time::parse_instant(text.trim())
                .map_err(|_| invalid("DATETIME", text))?;
            Value::String(saker_core::time::format_instant(&instant))
        }
        (Value::String(text), KvType::Duration) => {
            let duration: IsoDuration = text.parse().map_err(|_| invalid("DURATION", text))?;
            Value::String(duration.to_string())
        }
        (Value::String(text), KvType::Json) => {
            serde_json::from_str(text).map_err(|_| invalid("JSON", text))?
        }
        (Value::Number(_) | Value::Bool(_), KvType::String) => Value::String(value.to_string()),
        _ => value,
    };
    Ok(KvValue { kind, value })
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.Set",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Set a key in the namespace KV store.",
    slots: [],
    params: Params,
    runnable: Set,
}

/// Type a `kv.Set` string value is converted to.
pub use saker_task::KvType;

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn value_is_required_and_any_type() {
        let ty = "io.kestra.plugin.core.kv.Set";
        assert_valid(
            ty,
            json!({"key": "k", "value": {"a": [1]}, "ttl": "P1D", "kvType": "JSON"}),
        );
        assert_invalid(
            ty,
            json!({"key": "k"}),
            "",
            "missing required property \"value\"",
        );
    }

    use crate::test_support::{env, run};
    use saker_task::TaskError;
    use saker_task::kv::{KvStore, KvType};

    const SET: &str = "io.kestra.plugin.core.kv.Set";
    const GET: &str = "io.kestra.plugin.core.kv.Get";

    #[tokio::test]
    async fn typed_rendering_and_round_trip() {
        let env = env();
        run(&env, SET, json!({"key": "k", "value": "{{ inputs.m }}"}), json!({"inputs": {"m": {"a": [1, 2]}}}))
            .await
            .unwrap();
        let got = run(&env, GET, json!({"key": "k"}), json!({})).await.unwrap();
        assert_eq!(got.outputs["value"], json!({"a": [1, 2]}));
        let entry = env.kv.get("company.team", "k", saker_task::Clock::now(&*env.clock)).await.unwrap().unwrap();
        assert_eq!(entry.value.kind, KvType::Json);
    }

    #[tokio::test]
    async fn kv_type_conversions() {
        let env = env();
        let set = |key: &str, value: &str, kind: &str| {
            json!({"key": key, "value": value, "kvType": kind, "namespace": "other"})
        };
        for (key, value, kind) in [
            ("n", "42", "NUMBER"),
            ("b", "TRUE", "BOOLEAN"),
            ("d", "2025-01-01T00:00:00+01:00", "DATETIME"),
            ("p", "P1D", "DURATION"),
            ("j", "{\"x\": 1}", "JSON"),
        ] {
            run(&env, SET, set(key, value, kind), json!({})).await.unwrap();
        }
        let get = |key: &str| json!({"key": key, "namespace": "other"});
        let mut values = Vec::new();
        for key in ["n", "b", "d", "p", "j"] {
            values.push(run(&env, GET, get(key), json!({})).await.unwrap().outputs["value"].clone());
        }
        assert_eq!(
            values,
            [json!(42), json!(true), json!("2024-12-31T23:00:00Z"), json!("PT24H"), json!({"x": 1})]
        );
        let error = run(&env, SET, set("bad", "abc", "NUMBER"), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("not a valid NUMBER"), "{error}");
    }

    #[tokio::test]
    async fn overwrite_false_and_ttl() {
        let env = env();
        run(&env, SET, json!({"key": "k", "value": 1, "ttl": "PT1M"}), json!({})).await.unwrap();
        let error = run(&env, SET, json!({"key": "k", "value": 2, "overwrite": false}), json!({}))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            TaskError::Failed(
                "Cannot set value for key 'k'. Key already exists and `overwrite` is set to `false`.".into()
            )
        );
        env.clock.advance(chrono::TimeDelta::minutes(2));
        let error = run(&env, GET, json!({"key": "k"}), json!({})).await.unwrap_err();
        assert_eq!(error, TaskError::Failed("The requested value has expired".into()));
        let missing = run(&env, GET, json!({"key": "k"}), json!({})).await.unwrap();
        assert!(missing.outputs.get("value").is_none());
        let error = run(&env, SET, json!({"key": "_k", "value": 1}), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("is invalid"), "{error}");
    }
}
