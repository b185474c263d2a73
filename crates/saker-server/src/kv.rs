//! `/namespaces/{ns}/kv`: Kestra's KV store API over the runtime's [`saker_task::KvStore`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use saker_storage::Store;
use saker_task::KvError;
use saker_task::kv::{KvPut, KvType, KvValue};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};

fn kv_error(error: KvError) -> ApiError {
    match error {
        KvError::Expired => ApiError::not_found(error.to_string()),
        KvError::AlreadyExists { .. } => ApiError::conflict(error.to_string()),
        KvError::InvalidKey { .. } => ApiError::invalid(error.to_string()),
        KvError::Backend(_) => ApiError::internal(error),
    }
}

fn date(instant: &saker_core::Instant) -> Value {
    Value::String(saker_core::time::format_instant(instant))
}

pub async fn list<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    let now = saker_runtime::host::now();
    let metas = app
        .service
        .runtime()
        .kv()
        .list(&ns, now)
        .await
        .map_err(kv_error)?;
    let list: Vec<Value> = metas
        .iter()
        .map(|m| {
            let mut entry = json!({
                "key": m.key,
                "creationDate": date(&m.creation_date),
                "updateDate": date(&m.update_date),
            });
            if let Some(description) = &m.description {
                entry["description"] = Value::String(description.clone());
            }
            if let Some(expiration) = &m.expiration_date {
                entry["expirationDate"] = date(expiration);
            }
            entry
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

pub async fn get_one<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let now = saker_runtime::host::now();
    let entry = app
        .service
        .runtime()
        .kv()
        .get(&ns, &key, now)
        .await
        .map_err(kv_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "No value found for key '{key}' in namespace '{ns}'"
            ))
        })?;
    Ok(Json(
        json!({"type": entry.value.kind, "value": entry.value.value}),
    ))
}

/// `PUT /namespaces/{ns}/kv/{key}`: the body is a JSON literal (a string must be quoted);
/// anything that is not JSON is stored as a string. Headers: `ttl` (ISO duration),
/// `description`.
pub async fn put<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    saker_task::kv::validate_key(&key).map_err(kv_error)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::invalid("the value is not UTF-8"))?;
    let value = serde_json::from_str::<Value>(text.trim())
        .unwrap_or_else(|_| Value::String(text.to_owned()));
    let kind = match &value {
        Value::Object(_) | Value::Array(_) => KvType::Json,
        other => KvType::infer(other),
    };
    let now = saker_runtime::host::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let expiration = header("ttl")
        .map(|ttl| {
            saker_core::parse_duration(ttl)
                .map(|d| now + d)
                .map_err(|e| ApiError::invalid(format!("ttl: {e}")))
        })
        .transpose()?;
    let put = KvPut {
        value: KvValue { kind, value },
        description: header("description").map(str::to_owned),
        expiration,
        overwrite: true,
    };
    app.service
        .runtime()
        .kv()
        .put(&ns, &key, put, now)
        .await
        .map_err(kv_error)?;
    Ok(StatusCode::OK)
}

pub async fn delete<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, key)): Path<(String, String)>,
) -> ApiResult<Json<bool>> {
    let deleted = app
        .service
        .runtime()
        .kv()
        .delete(&ns, &key)
        .await
        .map_err(kv_error)?;
    Ok(Json(deleted))
}
