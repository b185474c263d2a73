//! Triggers wired into the server (see `docs/triggers.md`): the [`Launcher`] creating the
//! executions the scheduler asks for, the webhook route and the `/triggers` API.

use std::sync::{Arc, Weak};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use saker_core::execution::ExecutionTrigger;
use saker_core::{Execution, FlowRef, IdSource, Label};
use saker_flow::Flow;
use saker_runtime::host::RandomIds;
use saker_scheduler::{
    ExecutionLauncher, LaunchRequest, ScheduleState, TriggerError, WebhookOutcome, WebhookRequest,
    trigger_context_json,
};
use saker_storage::{Store, TriggerKey, TriggerRecord};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::error::{ApiError, ApiResult};
use crate::executions::execution_json;
use crate::query::Params;
use crate::{App, Shared};

/// Creates the executions triggers ask for, through the service (so the loop owns them).
pub struct Launcher<S: Store> {
    /// Weak: the app owns the scheduler that owns this launcher.
    pub(crate) app: Weak<App<S>>,
}

impl<S: Store> ExecutionLauncher for Launcher<S> {
    async fn launch(&self, request: LaunchRequest) -> Result<Execution, String> {
        let app = self
            .app
            .upgrade()
            .ok_or_else(|| "the server is stopping".to_owned())?;
        let flow = request.flow;
        let flow_labels: Vec<Label> = flow
            .labels
            .iter()
            .map(|l| Label::new(&l.key, &l.value))
            .collect();
        let mut execution = Execution::new(
            RandomIds.execution_id(),
            &FlowRef::new(
                flow.namespace.clone(),
                flow.id.clone(),
                flow.revision.unwrap_or(1),
            ),
            &flow_labels,
            request.labels,
            saker_runtime::host::now(),
        );
        execution.trigger = Some(ExecutionTrigger::new(
            request.trigger_id,
            request.trigger_type,
            request.variables,
        ));
        execution.schedule_date = request.schedule_date;
        let raw = saker_runtime::inputs::raw_from_json(&request.inputs);
        execution.inputs = match app.service.runtime().resolve_inputs(&flow, &raw) {
            Ok(inputs) => inputs,
            Err(e) if request.validate_inputs => return Err(e),
            // Kestra runs flow-triggered executions with the inputs they got.
            Err(_) => request.inputs,
        };
        app.service
            .submit(flow, execution.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(execution)
    }

    fn warn(&self, namespace: &str, flow_id: &str, trigger_id: &str, message: &str) {
        // No execution to attach it to: the server's log is where Kestra's trigger logger goes.
        eprintln!("WARN [{namespace}.{flow_id}.{trigger_id}] {message}");
    }

    async fn stored_flow(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Option<Arc<Flow>>, String> {
        let app = self
            .app
            .upgrade()
            .ok_or_else(|| "the server is stopping".to_owned())?;
        stored_flow(&app, namespace, flow_id)
            .await
            .map_err(|e| e.message)
    }
}

/// The latest stored revision of a flow, as a scheduler loading it would read it: `None` when
/// there is none, it is deleted, or it no longer parses (a scheduler loads none of those).
async fn stored_flow<S: Store>(
    app: &App<S>,
    namespace: &str,
    flow_id: &str,
) -> ApiResult<Option<Arc<Flow>>> {
    match app.flow(namespace, flow_id, None).await {
        Ok(flow) => Ok(Some(flow)),
        Err(e) if [StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY].contains(&e.status) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn trigger_error(e: TriggerError) -> ApiError {
    match e {
        TriggerError::Storage(message) => ApiError::new(StatusCode::CONFLICT, message),
        TriggerError::Invalid(message) if message.contains("not found") => {
            ApiError::not_found(message)
        }
        other => ApiError::invalid(other.to_string()),
    }
}

/// `GET|POST|PUT /executions/webhook/{ns}/{flowId}/{key}` (no authentication, as Kestra).
pub async fn webhook<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, flow_id, key)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let request = WebhookRequest {
        method: method.as_str().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        query: form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        body: (!body.is_empty()).then(|| body.to_vec()),
    };
    // The flow as stored, not as this process's scheduler loaded it: the webserver component
    // runs no triggers, and answers as a process that does (a scheduler loads neither deleted
    // flows nor stored revisions that no longer parse).
    let flow = stored_flow(&app, &ns, &flow_id).await?;
    // Listen before the execution exists: it could end before we start listening. State
    // transitions are enough to see the end, and cost no copy per save.
    let mut updates = app.service.transitions();
    let outcome = app
        .scheduler
        .webhook_of(flow, &key, &request)
        .await
        .map_err(trigger_error)?;
    match outcome {
        WebhookOutcome::FlowNotFound => Err(ApiError::not_found("Flow not found")),
        WebhookOutcome::WebhookNotFound => Err(ApiError::not_found("Webhook not found")),
        WebhookOutcome::ConditionsFalse => Ok(StatusCode::NO_CONTENT.into_response()),
        WebhookOutcome::Created {
            execution,
            wait: false,
            ..
        } => Ok(Json(execution_json(&execution)).into_response()),
        WebhookOutcome::Created {
            execution,
            return_outputs,
            ..
        } => {
            let id = execution.id.clone();
            let ended = loop {
                match updates.recv().await {
                    Ok(e) if e.id == id && e.state.is_terminated() => break (*e).clone(),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        if let Some(e) = app.store().get_execution(&id).await?
                            && e.state.is_terminated()
                        {
                            break e;
                        }
                    }
                    Err(RecvError::Closed) => {
                        return Err(ApiError::internal("the server is stopping"));
                    }
                }
            };
            if return_outputs {
                let outputs = Value::Object(ended.outputs.clone());
                Ok(Json(outputs).into_response())
            } else {
                Ok(Json(execution_json(&ended)).into_response())
            }
        }
    }
}

fn key_of(body: &Value) -> ApiResult<TriggerKey> {
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::invalid(format!("'{name}' is required")))
    };
    Ok(TriggerKey {
        namespace: field("namespace")?,
        flow_id: field("flowId")?,
        trigger_id: field("triggerId")?,
    })
}

fn json_body(body: &Bytes) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("Invalid JSON: {e}")))
}

/// The trigger states matching `namespace` (and its children), `flowId` and `q` (in the
/// namespace, flow id or trigger id): the search and the `by-query` bulk forms.
async fn matching_triggers<S: Store>(
    app: &Shared<S>,
    params: &Params,
) -> ApiResult<Vec<TriggerRecord>> {
    let records = app.store().list_triggers(params.get("namespace")).await?;
    let flow_id = params.get("flowId");
    let q = params.get("q").map(str::to_lowercase);
    Ok(records
        .into_iter()
        .filter(|r| flow_id.is_none_or(|f| r.key.flow_id == f))
        .filter(|r| {
            q.as_deref().is_none_or(|q| {
                [&r.key.namespace, &r.key.flow_id, &r.key.trigger_id]
                    .iter()
                    .any(|s| s.to_lowercase().contains(q))
            })
        })
        .collect())
}

/// `GET /triggers/search?namespace&flowId&q&page&size`: `{results: [{abstractTrigger,
/// triggerContext}], total}`.
pub async fn search<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let paging = params.paging()?;
    let results: Vec<Value> = matching_triggers(&app, &params)
        .await?
        .iter()
        .map(|r| {
            json!({
                "abstractTrigger": {"id": r.key.trigger_id, "disabled": r.disabled},
                "triggerContext": trigger_context_json(r),
            })
        })
        .collect();
    let page = paging.apply(results);
    Ok(Json(json!({"total": page.total, "results": page.results})))
}

/// `PUT /triggers`: `disabled` or `backfill` of one trigger.
pub async fn update<S: Store>(State(app): State<Shared<S>>, body: Bytes) -> ApiResult<Json<Value>> {
    let body = json_body(&body)?;
    let key = key_of(&body)?;
    let record = if let Some(backfill) = body.get("backfill").filter(|b| !b.is_null()) {
        let date = |name: &str| -> ApiResult<Option<saker_core::time::Instant>> {
            match backfill.get(name).and_then(Value::as_str) {
                None => Ok(None),
                Some(text) => saker_core::time::parse_instant(text)
                    .map(Some)
                    .map_err(|e| ApiError::invalid(format!("backfill.{name}: {e}"))),
            }
        };
        let start =
            date("start")?.ok_or_else(|| ApiError::invalid("backfill.start is required"))?;
        let inputs = backfill
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        app.scheduler
            .set_backfill(&key, start, date("end")?, inputs, backfill.get("labels"))
            .await
    } else if let Some(disabled) = body.get("disabled").and_then(Value::as_bool) {
        app.scheduler.set_disabled(&key, disabled).await
    } else {
        return Err(ApiError::invalid(
            "nothing to update: give 'disabled' or 'backfill'",
        ));
    }
    .map_err(trigger_error)?;
    Ok(Json(trigger_context_json(&record)))
}

/// `PUT /triggers/backfill/pause` and `/unpause`.
pub async fn pause_backfill<S: Store>(
    State(app): State<Shared<S>>,
    Path(action): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let paused = match action.as_str() {
        "pause" => true,
        "unpause" => false,
        _ => return Err(ApiError::not_found("Not Found")),
    };
    let key = key_of(&json_body(&body)?)?;
    let record = app
        .scheduler
        .pause_backfill(&key, paused)
        .await
        .map_err(trigger_error)?;
    Ok(Json(trigger_context_json(&record)))
}

/// `POST /triggers/backfill/delete`.
pub async fn delete_backfill<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let key = key_of(&json_body(&body)?)?;
    let record = app
        .scheduler
        .delete_backfill(&key)
        .await
        .map_err(trigger_error)?;
    Ok(Json(trigger_context_json(&record)))
}

/// `POST /triggers/{ns}/{flowId}/{triggerId}/unlock`.
pub async fn unlock<S: Store>(
    State(app): State<Shared<S>>,
    Path((namespace, flow_id, trigger_id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let key = TriggerKey {
        namespace,
        flow_id,
        trigger_id,
    };
    let record = app.scheduler.unlock(&key).await.map_err(trigger_error)?;
    Ok(Json(trigger_context_json(&record)))
}

/// A bulk action on triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TriggerBulk {
    Unlock,
    Delete,
    SetDisabled(bool),
    PauseBackfill(bool),
    DeleteBackfill,
}

/// Applies `action` to each trigger; `{count}` of those it changed. Triggers it does not apply
/// to (not locked, no backfill, unknown) are skipped, as Kestra's bulk forms do.
async fn trigger_bulk<S: Store>(
    app: &Shared<S>,
    action: TriggerBulk,
    keys: Vec<TriggerKey>,
) -> ApiResult<Json<Value>> {
    let scheduler = &app.scheduler;
    let mut count = 0u64;
    for key in keys {
        let done = match action {
            TriggerBulk::Unlock => {
                let locked = app.store().get_trigger(&key).await?.is_some_and(|r| {
                    let state = ScheduleState::from_context(&r.context);
                    state.execution_id.is_some() || state.launching.is_some()
                });
                locked && scheduler.unlock(&key).await.is_ok()
            }
            TriggerBulk::Delete => scheduler.delete_trigger(&key).await.unwrap_or(false),
            TriggerBulk::SetDisabled(disabled) => {
                scheduler.set_disabled(&key, disabled).await.is_ok()
            }
            TriggerBulk::PauseBackfill(paused) => {
                scheduler.pause_backfill(&key, paused).await.is_ok()
            }
            TriggerBulk::DeleteBackfill => scheduler.delete_backfill(&key).await.is_ok(),
        };
        count += u64::from(done);
    }
    Ok(Json(json!({ "count": count })))
}

/// Triggers named in a body: `[{namespace, flowId, triggerId}]`.
fn trigger_keys(body: &Value) -> ApiResult<Vec<TriggerKey>> {
    body.as_array()
        .ok_or_else(|| {
            ApiError::invalid("expected a JSON array of {namespace, flowId, triggerId}")
        })?
        .iter()
        .map(key_of)
        .collect()
}

/// `POST /triggers/unlock/by-triggers` with `[{namespace, flowId, triggerId}]` → `{count}` of
/// the locked ones (a trigger waiting for its running execution).
pub async fn unlock_by_triggers<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let keys = trigger_keys(&json_body(&body)?)?;
    trigger_bulk(&app, TriggerBulk::Unlock, keys).await
}

/// `DELETE /triggers/delete/by-triggers` with `[{namespace, flowId, triggerId}]` → `{count}`.
pub async fn delete_by_triggers<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let keys = trigger_keys(&json_body(&body)?)?;
    trigger_bulk(&app, TriggerBulk::Delete, keys).await
}

/// `POST /triggers/set-disabled/by-triggers` with `{triggers: [...], disabled}` → `{count}`.
pub async fn set_disabled_by_triggers<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = json_body(&body)?;
    let disabled = body
        .get("disabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::invalid("disabled: must not be null"))?;
    let keys = trigger_keys(body.get("triggers").unwrap_or(&Value::Null))?;
    if keys.is_empty() {
        return Err(ApiError::invalid("triggers: must not be empty"));
    }
    trigger_bulk(&app, TriggerBulk::SetDisabled(disabled), keys).await
}

/// `POST /triggers/backfill/{pause,unpause,delete}/by-triggers` → `{count}` of the triggers
/// that had a backfill.
pub async fn backfill_by_triggers<S: Store>(
    State(app): State<Shared<S>>,
    Path(action): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let action = backfill_action(&action)?;
    let keys = trigger_keys(&json_body(&body)?)?;
    trigger_bulk(&app, action, keys).await
}

fn backfill_action(name: &str) -> ApiResult<TriggerBulk> {
    match name {
        "pause" => Ok(TriggerBulk::PauseBackfill(true)),
        "unpause" => Ok(TriggerBulk::PauseBackfill(false)),
        "delete" => Ok(TriggerBulk::DeleteBackfill),
        other => Err(ApiError::not_found(format!(
            "Unknown backfill action '{other}': use pause, unpause or delete"
        ))),
    }
}

async fn keys_by_query<S: Store>(
    app: &Shared<S>,
    query: Option<&str>,
) -> ApiResult<Vec<TriggerKey>> {
    let params = Params::parse(query);
    Ok(matching_triggers(app, &params)
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect())
}

/// `POST /triggers/unlock/by-query?namespace&flowId&q` → `{count}`.
pub async fn unlock_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let keys = keys_by_query(&app, query.as_deref()).await?;
    trigger_bulk(&app, TriggerBulk::Unlock, keys).await
}

/// `DELETE /triggers/delete/by-query?namespace&flowId&q` → `{count}`.
pub async fn delete_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let keys = keys_by_query(&app, query.as_deref()).await?;
    trigger_bulk(&app, TriggerBulk::Delete, keys).await
}

/// `POST /triggers/set-disabled/by-query?disabled=true&namespace&flowId&q` → `{count}`.
pub async fn set_disabled_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let disabled = match params.get("disabled") {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(ApiError::invalid(format!(
                "Invalid value '{v}' for 'disabled'"
            )));
        }
    };
    let keys = keys_by_query(&app, query.as_deref()).await?;
    trigger_bulk(&app, TriggerBulk::SetDisabled(disabled), keys).await
}

/// `POST /triggers/backfill/{pause,unpause,delete}/by-query?namespace&flowId&q` → `{count}`.
pub async fn backfill_by_query<S: Store>(
    State(app): State<Shared<S>>,
    Path(action): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let action = backfill_action(&action)?;
    let keys = keys_by_query(&app, query.as_deref()).await?;
    trigger_bulk(&app, action, keys).await
}

/// `DELETE /triggers/{ns}/{flowId}/{triggerId}`: forgets the trigger's state (it starts over
/// from now); 204, 404 when it has none.
pub async fn delete_one<S: Store>(
    State(app): State<Shared<S>>,
    Path((namespace, flow_id, trigger_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let key = TriggerKey {
        namespace,
        flow_id,
        trigger_id,
    };
    if app
        .scheduler
        .delete_trigger(&key)
        .await
        .map_err(trigger_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "Trigger '{}.{}.{}' not found",
            key.namespace, key.flow_id, key.trigger_id
        )))
    }
}
