//! `/executions`: create (multipart inputs and files, labels, `wait=true`), read, search, the
//! lifecycle actions routed to the executor loop (kill, pause, resume with inputs, restart),
//! labels, delete, output files and the SSE follow.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use saker_core::{Execution, ExecutionId, FlowRef, IdSource, Label, StateType};
use saker_runtime::host::RandomIds;
use saker_runtime::inputs::Raw;
use saker_runtime::service::Control;
use saker_storage::Store;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::query::Params;

/// Longest `wait=true` (Kestra 1.x: one hour).
const WAIT_LIMIT: Duration = Duration::from_secs(3600);

pub(crate) fn execution_json(execution: &Execution) -> Value {
    serde_json::to_value(execution).unwrap_or(Value::Null)
}

/// The response of one execution, written straight from the execution: the same bytes as
/// `Json(execution_json(..))` (fields in declaration order either way), without the
/// `Value` tree, which for a big execution (a ForEach over 10,000 values) costs several times
/// the size of the text.
fn execution_response(execution: &Execution) -> Response {
    Json(execution).into_response()
}

async fn load<S: Store>(app: &Shared<S>, id: &str) -> ApiResult<Execution> {
    app.store()
        .get_execution(&ExecutionId::new(id))
        .await?
        .filter(|e| !e.deleted)
        .ok_or_else(|| ApiError::not_found(format!("Execution '{id}' not found")))
}

/// Multipart parts as raw inputs; file parts are stored under `prefix` + `inputs/<key>/`.
async fn multipart_inputs<S: Store>(
    app: &Shared<S>,
    request: Request,
    prefix: &str,
) -> ApiResult<Vec<(String, Raw)>> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        return Ok(Vec::new());
    }
    let mut multipart = Multipart::from_request(request, app)
        .await
        .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    let mut inputs = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let Some(field) = field else {
            break;
        };
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let filename = field.file_name().map(str::to_owned);
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        match filename {
            Some(filename) => {
                // Kestra keeps the client's file name; only its last component, never `..`.
                let base = filename
                    .rsplit(['/', '\\'])
                    .next()
                    .filter(|b| !b.is_empty() && *b != "." && *b != ".." && !b.contains('\0'))
                    .unwrap_or("file");
                let uri = format!(
                    "{prefix}inputs/{}/{base}",
                    saker_task::storage::slugify(&name)
                );
                app.service
                    .runtime()
                    .files()
                    .put(&uri, data.to_vec())
                    .await
                    .map_err(ApiError::internal)?;
                inputs.push((name, Raw::File { filename, uri }));
            }
            None => {
                let text = String::from_utf8(data.to_vec())
                    .map_err(|_| ApiError::invalid(format!("input '{name}' is not UTF-8 text")))?;
                inputs.push((name, Raw::Text(text)));
            }
        }
    }
    Ok(inputs)
}

/// `POST /executions/{a}/{b}`: an action (`kill`, `pause`, `resume`, `restart`, `labels`) on
/// execution `a` when it exists, else a new execution of flow `b` in namespace `a`.
pub async fn post_two<S: Store>(
    State(app): State<Shared<S>>,
    Path((p1, p2)): Path<(String, String)>,
    query: RawQuery,
    request: Request,
) -> ApiResult<Response> {
    post_two_inner(app, p1, p2, query, request).await
}

pub async fn post_kill<S: Store>(
    State(app): State<Shared<S>>,
    Path(p1): Path<String>,
    query: RawQuery,
    request: Request,
) -> ApiResult<Response> {
    post_two_inner(app, p1, "kill".to_owned(), query, request).await
}

pub async fn post_follow<S: Store>(
    State(app): State<Shared<S>>,
    Path(p1): Path<String>,
    query: RawQuery,
    request: Request,
) -> ApiResult<Response> {
    post_two_inner(app, p1, "follow".to_owned(), query, request).await
}

pub async fn post_flow<S: Store>(
    State(app): State<Shared<S>>,
    Path(p1): Path<String>,
    query: RawQuery,
    request: Request,
) -> ApiResult<Response> {
    post_two_inner(app, p1, "flow".to_owned(), query, request).await
}

pub async fn post_file<S: Store>(
    State(app): State<Shared<S>>,
    Path(p1): Path<String>,
    query: RawQuery,
    request: Request,
) -> ApiResult<Response> {
    post_two_inner(app, p1, "file".to_owned(), query, request).await
}

async fn post_two_inner<S: Store>(
    app: Shared<S>,
    p1: String,
    p2: String,
    query: RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let action = matches!(
        p2.as_str(),
        "kill"
            | "pause"
            | "resume"
            | "restart"
            | "labels"
            | "replay"
            | "state"
            | "change-status"
            | "unqueue"
            | "force-run"
    );
    // A plain create (`b` is no action name) reads nothing here: `create` loads the flow.
    let create_flow = !action
        || (app
            .store()
            .get_execution(&ExecutionId::new(&p1))
            .await?
            .is_none_or(|e| e.deleted)
            && app.store().get_flow(&p1, &p2, None).await?.is_some());
    if create_flow {
        let created = create(State(app), Path((p1, p2)), query, request).await?;
        return Ok(created.into_response());
    }
    let limit = app.config.max_body_bytes;
    let (state, path) = (State(app), Path(p1));
    Ok(match p2.as_str() {
        "kill" => kill(state, path).await?,
        "pause" => pause(state, path).await?.into_response(),
        "resume" => resume(state, path, request).await?.into_response(),
        "restart" => restart(state, path).await?.into_response(),
        "replay" => crate::actions::replay(state, path, query)
            .await?
            .into_response(),
        "change-status" => crate::actions::change_status(state, path, query)
            .await?
            .into_response(),
        "unqueue" => crate::actions::unqueue(state, path, query)
            .await?
            .into_response(),
        "force-run" => crate::actions::force_run(state, path)
            .await?
            .into_response(),
        "state" => {
            let body = axum::body::to_bytes(request.into_body(), limit)
                .await
                .map_err(|_| {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large")
                })?;
            crate::actions::change_state(state, path, body)
                .await?
                .into_response()
        }
        _ => {
            let body = axum::body::to_bytes(request.into_body(), limit)
                .await
                .map_err(|_| {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large")
                })?;
            set_labels(state, path, body).await?.into_response()
        }
    })
}

/// `POST /executions/{namespace}/{flowId}`.
pub async fn create<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, flow_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    let (flow, ignored_defaults) = app
        .flow_with_warnings(&ns, &flow_id, params.u32("revision")?)
        .await?;
    if flow.disabled {
        return Err(ApiError::conflict(format!(
            "Cannot execute a disabled flow '{ns}.{flow_id}'"
        )));
    }
    let labels = params.labels()?;
    if let Some(label) = labels
        .iter()
        .find(|l| l.key.starts_with("system.") && l.key != "system.correlationId")
    {
        return Err(ApiError::invalid(format!(
            "System labels can only be set by Kestra itself, offending label: {}={}",
            label.key, label.value
        )));
    }
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
        labels,
        saker_runtime::host::now(),
    );
    execution.schedule_date = params.instant("scheduleDate")?;
    let prefix = saker_task::storage::execution_prefix(&ns, &flow_id, execution.id.as_str());
    let raw = multipart_inputs(&app, request, &prefix).await?;
    execution.inputs = app
        .service
        .runtime()
        .resolve_inputs(&flow, &raw)
        .map_err(ApiError::invalid)?;
    for message in ignored_defaults.iter() {
        app.service
            .runtime()
            .log_execution(&execution, saker_task::Level::Warn, message.clone())
            .await
            .map_err(ApiError::internal)?;
    }
    let wait = params.flag("wait");
    // Listen before submitting: the end could come before we start listening. Transitions,
    // not every update: a waiter must not cost a copy of a big execution (ForEach) per save.
    let updates = wait.then(|| app.service.transitions());
    let id = execution.id.clone();
    let created = execution_json(&execution);
    app.service.submit(flow, execution).await?;
    let Some(mut updates) = updates else {
        return Ok(Json(created).into_response());
    };
    let done = |e: &Execution| e.state.is_terminated() || e.state.current() == StateType::Paused;
    let waited = tokio::time::timeout(WAIT_LIMIT, async {
        loop {
            match updates.recv().await {
                Ok(e) if e.id == id && done(&e) => return Some(e),
                Ok(_) => {}
                // Fell behind: the store has the latest state.
                Err(RecvError::Lagged(_)) => {
                    if let Ok(Some(e)) = app.store().get_execution(&id).await
                        && done(&e)
                    {
                        return Some(Arc::new(e));
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .await;
    match waited {
        Ok(Some(execution)) => Ok(execution_response(&execution)),
        _ => Ok(execution_response(&load(&app, id.as_str()).await?)),
    }
}

pub async fn get_one<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(execution_response(&load(&app, &id).await?))
}

/// `GET /executions/search?namespace&flowId&state&labels&q&startDate&endDate&timeRange&page&size`;
/// without a date bound, the executions started within the server's default range.
pub async fn search<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let mut query = crate::actions::execution_query(&params)?;
    query.start_from = params.search_start(app.config.search_time_range, chrono::Utc::now())?;
    let page = app.store().search_executions(&query).await?;
    let results: Vec<Value> = page.results.iter().map(execution_json).collect();
    Ok(Json(json!({"results": results, "total": page.total})))
}

/// Applies `control` to execution `id` (404 when unknown or deleted); the execution after.
pub(crate) async fn controlled<S: Store>(
    app: &Shared<S>,
    id: &str,
    control: Control,
) -> ApiResult<Json<Value>> {
    load(app, id).await?;
    let execution = app.service.control(&ExecutionId::new(id), control).await?;
    Ok(Json(execution_json(&execution)))
}

/// `POST|DELETE /executions/{id}/kill`: 202, asynchronous (KILLING then KILLED).
pub async fn kill<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let execution = controlled(&app, &id, Control::Kill).await?;
    Ok((StatusCode::ACCEPTED, execution).into_response())
}

pub async fn pause<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load(&app, &id).await?;
    app.service
        .control(&ExecutionId::new(&id), Control::Pause)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /executions/{id}/resume`: multipart `onResume` inputs of the paused Pause task.
pub async fn resume<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult<StatusCode> {
    let execution = load(&app, &id).await?;
    if execution.state.current() != StateType::Paused {
        return Err(ApiError::conflict(format!(
            "Execution is not paused, can't resume it (state {})",
            execution.state.current()
        )));
    }
    let flow = app
        .flow(
            &execution.namespace,
            &execution.flow_id,
            Some(execution.flow_revision),
        )
        .await?;
    let paused = execution.task_run_list.iter().find(|run| {
        run.state.current() == StateType::Paused
            && flow
                .find_task(&run.task_id)
                .is_some_and(|t| t.canonical == "io.kestra.plugin.core.flow.Pause")
    });
    let prefix = saker_task::storage::execution_prefix(
        &execution.namespace,
        &execution.flow_id,
        execution.id.as_str(),
    );
    let raw = multipart_inputs(&app, request, &prefix).await?;
    let (task_run_id, inputs) = match paused {
        Some(run) => {
            let task = flow.find_task(&run.task_id).ok_or_else(|| {
                ApiError::internal(format!("task '{}' is not in the flow", run.task_id))
            })?;
            let inputs = app
                .service
                .runtime()
                .resolve_pause_inputs(&flow, task, &raw)
                .map_err(ApiError::invalid)?;
            (Some(run.id.clone()), inputs)
        }
        // A manual pause (no Pause task): resume everything.
        None => (None, saker_core::JsonMap::new()),
    };
    app.service
        .control(
            &execution.id,
            Control::Resume {
                task_run_id,
                inputs,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    controlled(&app, &id, Control::Restart).await
}

/// `POST /executions/{id}/labels` with `[{key, value}]`: replaces the execution's labels
/// (terminated executions only: a running one is owned by the executor loop).
pub async fn set_labels<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let labels: Vec<Label> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("labels: expected [{{key, value}}]: {e}")))?;
    let mut execution = load(&app, &id).await?;
    if !execution.state.is_terminated() {
        return Err(ApiError::conflict(
            "labels can only be changed on a terminated execution",
        ));
    }
    if let Some(label) = labels
        .iter()
        .find(|l| l.key.starts_with("system.") && l.key != "system.correlationId")
    {
        return Err(ApiError::invalid(format!(
            "System labels can only be set by Kestra itself, offending label: {}={}",
            label.key, label.value
        )));
    }
    // System labels set by Saker stay.
    let mut merged: Vec<Label> = execution
        .labels
        .iter()
        .filter(|l| l.key.starts_with("system."))
        .cloned()
        .collect();
    merged.extend(labels);
    execution.labels = merged;
    app.store()
        .save_execution(&execution, &saker_storage::Changed::TaskRuns(Vec::new()))
        .await?;
    Ok(Json(execution_json(&execution)))
}

/// `DELETE /executions/{id}?deleteLogs=true&deleteStorage=true`: terminated executions only.
pub async fn delete<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(query.as_deref());
    let execution = load(&app, &id).await?;
    if !execution.state.is_terminated() {
        return Err(ApiError::conflict(format!(
            "Execution '{id}' is not terminated (state {}): kill it first",
            execution.state.current()
        )));
    }
    if params.get("deleteLogs").is_none_or(|v| v == "true") {
        app.store().delete_logs(&id).await?;
    }
    if params.get("deleteStorage").is_none_or(|v| v == "true") {
        let prefix =
            saker_task::storage::execution_prefix(&execution.namespace, &execution.flow_id, &id);
        app.service
            .runtime()
            .files()
            .delete_by_prefix(&prefix)
            .await
            .map_err(ApiError::internal)?;
    }
    app.store().delete_execution(&execution.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The internal-storage URI of `?path=` when it belongs to execution `id` (or to another
/// existing execution: Kestra redirects there, Saker serves it).
pub(crate) async fn checked_path<S: Store>(
    app: &Shared<S>,
    id: &str,
    params: &Params,
) -> ApiResult<String> {
    let execution = load(app, id).await?;
    let path = params
        .get("path")
        .ok_or_else(|| ApiError::invalid("path: must not be null"))?;
    saker_task::storage::check_uri(path)
        .map_err(|e| ApiError::invalid(format!("Invalid path '{path}': {e}")))?;
    let refused = || {
        ApiError::invalid(format!(
            "Invalid path '{path}': not a file of this execution"
        ))
    };
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == "." || segment.contains('\\'))
    {
        return Err(refused());
    }
    let own = saker_task::storage::execution_prefix(
        &execution.namespace,
        &execution.flow_id,
        execution.id.as_str(),
    );
    if path.starts_with(&own) {
        return Ok(path.to_owned());
    }
    // `kestra:///<ns path>/<flow>/executions/<other id>/...`
    let segments: Vec<&str> = path.split('/').collect();
    let other = segments
        .iter()
        .position(|s| *s == "executions")
        .and_then(|i| segments.get(i + 1));
    if let Some(other) = other
        && let Some(found) = app.store().get_execution(&ExecutionId::new(*other)).await?
    {
        let prefix = saker_task::storage::execution_prefix(
            &found.namespace,
            &found.flow_id,
            found.id.as_str(),
        );
        if path.starts_with(&prefix) {
            return Ok(path.to_owned());
        }
    }
    Err(refused())
}

/// `GET /executions/{id}/file?path=kestra:///…`: the file as an attachment.
pub async fn file<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    let uri = checked_path(&app, &id, &params).await?;
    let files = app.service.runtime().files();
    if !files.exists(&uri).await.map_err(ApiError::internal)? {
        return Err(ApiError::not_found(format!("File '{uri}' not found")));
    }
    let content = files.get(&uri).await.map_err(ApiError::internal)?;
    let name = uri.rsplit('/').next().unwrap_or("file").replace('"', "");
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from(content))
        .map_err(ApiError::internal)
}

/// `GET /executions/{id}/file/metas?path=` → `{size}`.
pub async fn file_metas<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let uri = checked_path(&app, &id, &params).await?;
    let files = app.service.runtime().files();
    if !files.exists(&uri).await.map_err(ApiError::internal)? {
        return Err(ApiError::not_found(format!("File '{uri}' not found")));
    }
    let size = files.size(&uri).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "size": size })))
}

fn sse_event(id: &str, execution: &Execution) -> Event {
    Event::default()
        .id(id)
        .event(id)
        .data(serde_json::to_string(execution).unwrap_or_default())
}

/// `GET /executions/{id}/follow`: SSE, `progress` events with the whole execution, then `end`.
pub async fn follow<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Subscribe before reading so no update falls between the read and the stream.
    let mut updates = app.service.updates();
    let current = load(&app, &id).await?;
    let execution_id = current.id.clone();
    let stream = async_stream(app.stopping.clone(), move |tx| async move {
        if current.state.is_terminated() {
            let _ = tx.send(sse_event("end", &current)).await;
            return;
        }
        if tx.send(sse_event("progress", &current)).await.is_err() {
            return;
        }
        loop {
            let execution = match updates.recv().await {
                Ok(e) if e.id == execution_id => e,
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => match app.store().get_execution(&execution_id).await {
                    Ok(Some(e)) => Arc::new(e),
                    _ => return,
                },
                Err(RecvError::Closed) => return,
            };
            if execution.state.is_terminated() {
                let _ = tx.send(sse_event("end", &execution)).await;
                return;
            }
            if tx.send(sse_event("progress", &execution)).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A stream fed by a spawned producer through a small channel (no extra macro crate); it ends
/// when the producer returns or when the server stops (`stopping`).
pub(crate) fn async_stream<F, Fut>(
    stopping: tokio_util::sync::CancellationToken,
    producer: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let produce = producer(tx);
    tokio::spawn(async move {
        tokio::select! {
            () = produce => {}
            () = stopping.cancelled() => {}
        }
    });
    futures_util::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}

/// `POST /executions/{id}/eval/{taskRunId}` (text body): renders a template in the context of
/// a task run, as the UI's "debug outputs" does → `{result}` or `{error, stackTrace}`.
pub async fn eval<S: Store>(
    State(app): State<Shared<S>>,
    Path((id, task_run_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let execution = load(&app, &id).await?;
    let template = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid("the expression is not UTF-8"))?;
    let flow = app
        .flow(
            &execution.namespace,
            &execution.flow_id,
            Some(execution.flow_revision),
        )
        .await?;
    let run = execution.find_task_run(&task_run_id).ok_or_else(|| {
        ApiError::not_found(format!(
            "Task run '{task_run_id}' not found in execution '{id}'"
        ))
    })?;
    let task = flow.find_task(&run.task_id);
    let (engine, services) = app.service.runtime().expressions();
    let services = &**services;
    let ctx = saker_engine::render_context(&flow, &execution, task, Some(run), services);
    Ok(Json(match engine.render(&template, &ctx, services) {
        Ok(result) => json!({ "result": result }),
        Err(error) => json!({ "error": error.to_string(), "stackTrace": error.to_string() }),
    }))
}

/// `GET /executions/{id}/flow`: the flow at the execution's revision.
pub async fn flow_of<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let execution = load(&app, &id).await?;
    let record = app
        .store()
        .get_flow(
            &execution.namespace,
            &execution.flow_id,
            Some(execution.flow_revision),
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Flow '{}.{}' revision {} not found",
                execution.namespace, execution.flow_id, execution.flow_revision
            ))
        })?;
    Ok(Json(crate::flows::flow_json(&record, true)))
}
