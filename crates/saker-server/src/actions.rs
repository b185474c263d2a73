//! Execution actions beyond the basic lifecycle: replay (a new execution), change of a task
//! run's state, change of a terminated execution's status, the bulk `by-ids` / `by-query`
//! forms of every action, and the file preview.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use saker_core::{Execution, ExecutionId, IdSource, StateType, TaskRunId};
use saker_runtime::host::RandomIds;
use saker_runtime::service::Control;
use saker_storage::{ExecutionQuery, Paging, Store};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::executions::execution_json;
use crate::query::Params;

async fn load<S: Store>(app: &Shared<S>, id: &str) -> ApiResult<Execution> {
    app.store()
        .get_execution(&ExecutionId::new(id))
        .await?
        .filter(|e| !e.deleted)
        .ok_or_else(|| ApiError::not_found(format!("Execution '{id}' not found")))
}

fn replay_error(error: saker_engine::ReplayError, execution_id: &str) -> ApiError {
    use saker_engine::ReplayError;
    match error {
        ReplayError::UnknownTaskRun(id) => ApiError::not_found(format!(
            "Task run '{id}' not found in execution '{execution_id}'"
        )),
        ReplayError::WrongState(message) => ApiError::conflict(message),
        ReplayError::Invalid(message) => ApiError::invalid(message),
    }
}

/// Replays `old` as a new execution (from `task_run_id` when given) on flow `revision` (the
/// execution's own by default); returns the new execution as submitted.
async fn replay_one<S: Store>(
    app: &Shared<S>,
    old: &Execution,
    task_run_id: Option<&str>,
    revision: Option<u32>,
) -> ApiResult<Execution> {
    let revision = revision.unwrap_or(old.flow_revision);
    let flow = app
        .flow(&old.namespace, &old.flow_id, Some(revision))
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                ApiError::not_found(format!(
                    "Unable to find revision {revision} on flow {}.{}",
                    old.namespace, old.flow_id
                ))
            } else {
                e
            }
        })?;
    let mut ids = RandomIds;
    let new_id = ids.execution_id();
    let execution = saker_engine::replay(
        &flow,
        old,
        task_run_id,
        new_id,
        &mut ids,
        saker_runtime::host::now(),
    )
    .map_err(|e| replay_error(e, old.id.as_str()))?;
    app.service.submit(flow, execution.clone()).await?;
    Ok(execution)
}

/// `POST /executions/{id}/replay?taskRunId&revision`: a new execution (new id, `parentId` and
/// `originalId` set), restarted from `taskRunId` or from the start.
pub async fn replay<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let old = load(&app, &id).await?;
    let execution =
        replay_one(&app, &old, params.get("taskRunId"), params.u32("revision")?).await?;
    Ok(Json(execution_json(&execution)))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateRequest {
    task_run_id: String,
    state: String,
}

fn state_of(text: &str) -> ApiResult<StateType> {
    serde_json::from_value(Value::String(text.to_uppercase()))
        .map_err(|_| ApiError::invalid(format!("Invalid state '{text}'")))
}

/// `POST /executions/{id}/state` with `{taskRunId, state}`: the task run takes the state and
/// the execution restarts from there (Kestra's "change state" / "mark as").
pub async fn change_state<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request: StateRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("expected {{taskRunId, state}}: {e}")))?;
    let state = state_of(&request.state)?;
    load(&app, &id).await?;
    let execution = app
        .service
        .control(
            &ExecutionId::new(&id),
            Control::ChangeTaskRunState {
                task_run_id: TaskRunId::new(&request.task_run_id),
                state,
            },
        )
        .await
        .map_err(|e| match e {
            saker_runtime::service::ControlError::TaskRunNotFound(_) => {
                ApiError::not_found(format!(
                    "Task run '{}' not found in execution '{id}'",
                    request.task_run_id
                ))
            }
            other => other.into(),
        })?;
    Ok(Json(execution_json(&execution)))
}

/// The new status of `change-status`: a terminal state.
fn terminal_status(params: &Params, key: &str) -> ApiResult<StateType> {
    let text = params
        .get(key)
        .ok_or_else(|| ApiError::invalid(format!("{key}: must not be null")))?;
    let state = state_of(text)?;
    if !state.is_terminated() {
        return Err(ApiError::invalid(
            "You can only change the status of an execution to a terminal state.",
        ));
    }
    Ok(state)
}

/// Sets the status of a terminated execution (no task run changes, nothing runs again).
async fn set_status<S: Store>(
    app: &Shared<S>,
    mut execution: Execution,
    state: StateType,
) -> ApiResult<Execution> {
    execution.transition(state, saker_runtime::host::now());
    app.store()
        .save_execution(&execution, &saker_storage::Changed::TaskRuns(Vec::new()))
        .await?;
    Ok(execution)
}

/// `POST /executions/{id}/change-status?status=`: terminated executions, terminal states only.
pub async fn change_status<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let state = terminal_status(&params, "status")?;
    let execution = load(&app, &id).await?;
    if !execution.state.is_terminated() {
        return Err(ApiError::conflict(
            "You can only change the status of a terminated execution.",
        ));
    }
    Ok(Json(execution_json(
        &set_status(&app, execution, state).await?,
    )))
}

/// The `state` (or `newState`) an unqueued execution takes: RUNNING when absent.
fn unqueue_target(params: &Params) -> ApiResult<StateType> {
    let state = params
        .get("state")
        .or_else(|| params.get("newState"))
        .map_or(Ok(StateType::Running), state_of)?;
    if !matches!(
        state,
        StateType::Running | StateType::Cancelled | StateType::Failed
    ) {
        return Err(ApiError::invalid(format!(
            "Invalid target state: {state}. Valid states are: RUNNING, CANCELLED, FAILED"
        )));
    }
    Ok(state)
}

/// `POST /executions/{id}/unqueue?state=`: a QUEUED execution leaves its flow's concurrency
/// queue now (404 unknown, 409 not QUEUED, 422 a target other than RUNNING, CANCELLED, FAILED).
pub async fn unqueue<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let target = unqueue_target(&Params::parse(query.as_deref()))?;
    crate::executions::controlled(&app, &id, Control::Unqueue { state: target }).await
}

/// `POST /executions/{id}/force-run`: a QUEUED execution starts now, a PAUSED one resumes
/// (409 when it is terminated).
pub async fn force_run<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    crate::executions::controlled(&app, &id, Control::ForceRun).await
}

/// A bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    Kill,
    Restart,
    Delete,
    Replay,
    Pause,
    Resume,
    ChangeStatus(StateType),
    Unqueue(StateType),
    ForceRun,
}

impl Bulk {
    fn name(self) -> &'static str {
        match self {
            Bulk::Kill => "kill",
            Bulk::Restart => "restart",
            Bulk::Delete => "delete",
            Bulk::Replay => "replay",
            Bulk::Pause => "pause",
            Bulk::Resume => "resume",
            Bulk::ChangeStatus(_) => "change execution status",
            Bulk::Unqueue(_) => "unqueue",
            Bulk::ForceRun => "force run",
        }
    }

    /// Why `execution` cannot take this action (Kestra's messages).
    fn refusal(self, execution: &Execution) -> Option<&'static str> {
        let state = execution.state.current();
        match self {
            Bulk::Kill => state
                .is_terminated()
                .then_some("execution already finished"),
            Bulk::Restart => (!state.is_terminated() && state != StateType::Paused)
                .then_some("execution not terminated nor paused"),
            Bulk::Delete | Bulk::Replay | Bulk::ChangeStatus(_) => {
                (!state.is_terminated()).then_some("execution not terminated")
            }
            Bulk::Pause => (!matches!(state, StateType::Running | StateType::Created))
                .then_some("execution not in state RUNNING"),
            Bulk::Resume => (state != StateType::Paused).then_some("execution not in state PAUSED"),
            Bulk::Unqueue(_) => {
                (state != StateType::Queued).then_some("execution not in state QUEUED")
            }
            Bulk::ForceRun => state
                .is_terminated()
                .then_some("execution in a terminated state"),
        }
    }
}

/// Kestra's bulk refusal: 400 `{"message": "invalid bulk <action>", "invalids": [...]}`.
fn bulk_refused(action: Bulk, invalids: Vec<Value>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"message": format!("invalid bulk {}", action.name()), "invalids": invalids})),
    )
        .into_response()
}

/// Every id is checked first; nothing is done unless all are valid; then `{count}`.
pub async fn bulk<S: Store>(
    app: &Shared<S>,
    action: Bulk,
    ids: Vec<String>,
) -> ApiResult<Response> {
    let mut invalids = Vec::new();
    let mut executions = Vec::new();
    for id in &ids {
        match load(app, id).await {
            Ok(execution) => match action.refusal(&execution) {
                Some(why) => invalids.push(json!({
                    "invalidValue": id,
                    "message": format!("{why} (state {})", execution.state.current()),
                })),
                None => executions.push(execution),
            },
            Err(error) => invalids.push(json!({"invalidValue": id, "message": error.message})),
        }
    }
    if !invalids.is_empty() {
        return Ok(bulk_refused(action, invalids));
    }
    let mut count = 0u64;
    for execution in executions {
        let control = |c| app.service.control(&execution.id, c);
        let done = match action {
            Bulk::Kill => control(Control::Kill).await.is_ok(),
            Bulk::Restart => control(Control::Restart).await.is_ok(),
            Bulk::Pause => control(Control::Pause).await.is_ok(),
            Bulk::Resume => control(Control::Resume {
                task_run_id: None,
                inputs: saker_core::JsonMap::new(),
            })
            .await
            .is_ok(),
            Bulk::Replay => replay_one(app, &execution, None, None).await.is_ok(),
            Bulk::ChangeStatus(state) => set_status(app, execution, state).await.is_ok(),
            Bulk::Unqueue(state) => control(Control::Unqueue { state }).await.is_ok(),
            Bulk::ForceRun => control(Control::ForceRun).await.is_ok(),
            Bulk::Delete => {
                app.store().delete_logs(execution.id.as_str()).await?;
                app.store().delete_execution(&execution.id).await?
            }
        };
        count += u64::from(done);
    }
    Ok(Json(json!({ "count": count })).into_response())
}

/// Ids of a bulk request body (`["id", ...]`).
fn bulk_ids(body: &[u8]) -> ApiResult<Vec<String>> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("expected a JSON array of execution ids: {e}")))
}

/// The search filters of `/executions/search` (also the `by-query` bulk forms).
pub fn execution_query(params: &Params) -> ApiResult<ExecutionQuery> {
    Ok(ExecutionQuery {
        namespace: params.get("namespace").map(str::to_owned),
        flow_id: params.get("flowId").map(str::to_owned),
        states: params.states("state")?,
        labels: params.labels()?,
        start_from: params.start_bound(chrono::Utc::now())?,
        start_to: params.instant("endDate")?,
        parent_id: params.get("parentId").map(str::to_owned),
        text: params.get("q").map(str::to_owned),
        include_deleted: false,
        paging: params.paging()?,
    })
}

async fn ids_by_query<S: Store>(app: &Shared<S>, params: &Params) -> ApiResult<Vec<String>> {
    let mut query = execution_query(params)?;
    // Every match, not one page.
    query.paging = Paging { page: 1, size: 0 };
    let page = app.store().search_executions(&query).await?;
    Ok(page
        .results
        .iter()
        .map(|e| e.id.as_str().to_owned())
        .collect())
}

fn action_of(name: &str, params: &Params) -> ApiResult<Bulk> {
    Ok(match name {
        "kill" => Bulk::Kill,
        "restart" => Bulk::Restart,
        "replay" => Bulk::Replay,
        "pause" => Bulk::Pause,
        "resume" => Bulk::Resume,
        "change-status" => Bulk::ChangeStatus(terminal_status(params, "newStatus")?),
        "unqueue" => Bulk::Unqueue(unqueue_target(params)?),
        "force-run" => Bulk::ForceRun,
        other => return Err(ApiError::not_found(format!("Page Not Found: {other}"))),
    })
}

/// Adds `labels` to terminated executions (a label replaces the one with its key; others stay),
/// every id checked first; then `{count}`.
async fn set_labels_bulk<S: Store>(
    app: &Shared<S>,
    ids: Vec<String>,
    labels: Vec<saker_core::Label>,
) -> ApiResult<Response> {
    if let Some(label) = labels
        .iter()
        .find(|l| l.key.starts_with("system.") && l.key != "system.correlationId")
    {
        return Err(ApiError::invalid(format!(
            "System labels can only be set by Kestra itself, offending label: {}={}",
            label.key, label.value
        )));
    }
    let mut invalids = Vec::new();
    let mut executions = Vec::new();
    for id in &ids {
        match load(app, id).await {
            Ok(execution) if !execution.state.is_terminated() => invalids.push(json!({
                "invalidValue": id,
                "message": format!("execution is not terminated (state {})", execution.state.current()),
            })),
            Ok(execution) => executions.push(execution),
            Err(error) => invalids.push(json!({"invalidValue": id, "message": error.message})),
        }
    }
    if !invalids.is_empty() {
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "invalid bulk set labels", "invalids": invalids})),
        )
            .into_response());
    }
    let count = executions.len();
    for mut execution in executions {
        execution
            .labels
            .retain(|l| !labels.iter().any(|n| n.key == l.key));
        execution.labels.extend(labels.iter().cloned());
        app.store()
            .save_execution(&execution, &saker_storage::Changed::TaskRuns(Vec::new()))
            .await?;
    }
    Ok(Json(json!({ "count": count })).into_response())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelsByIds {
    executions_id: Vec<String>,
    execution_labels: Vec<saker_core::Label>,
}

/// `POST|DELETE /executions/{action}/by-ids` with `["id", ...]` → `{count}`
/// (`labels/by-ids` takes `{executionsId, executionLabels}`).
pub async fn by_ids<S: Store>(
    State(app): State<Shared<S>>,
    Path(action): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    if action == "labels" {
        let request: LabelsByIds = serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(format!("expected {{executionsId, executionLabels}}: {e}"))
        })?;
        return set_labels_bulk(&app, request.executions_id, request.execution_labels).await;
    }
    let action = action_of(&action, &params)?;
    bulk(&app, action, bulk_ids(&body)?).await
}

/// `POST|DELETE /executions/{action}/by-query?<search filters>` → `{count}` (`labels/by-query`
/// takes the labels `[{key, value}]` as body).
pub async fn by_query<S: Store>(
    State(app): State<Shared<S>>,
    Path(action): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    if action == "labels" {
        let labels: Vec<saker_core::Label> = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("labels: expected [{{key, value}}]: {e}")))?;
        let ids = ids_by_query(&app, &params).await?;
        return set_labels_bulk(&app, ids, labels).await;
    }
    let action = action_of(&action, &params)?;
    let ids = ids_by_query(&app, &params).await?;
    bulk(&app, action, ids).await
}

/// `DELETE /executions/by-ids`.
pub async fn delete_by_ids<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Response> {
    bulk(&app, Bulk::Delete, bulk_ids(&body)?).await
}

/// `DELETE /executions/by-query?<search filters>`.
pub async fn delete_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    let ids = ids_by_query(&app, &params).await?;
    bulk(&app, Bulk::Delete, ids).await
}

/// Kestra's `kestra.server.preview` defaults.
const PREVIEW_INITIAL_ROWS: usize = 100;
const PREVIEW_MAX_ROWS: usize = 5000;
/// Larger text previews are cut (Kestra: 2 MB).
const PREVIEW_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Decodes `bytes` in `encoding` (UTF-8, or ISO-8859-1 / US-ASCII).
fn decode(bytes: &[u8], encoding: &str) -> ApiResult<String> {
    match encoding.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok(String::from_utf8_lossy(bytes).into_owned()),
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" | "US-ASCII" | "ASCII" => {
            Ok(bytes.iter().map(|&b| char::from(b)).collect())
        }
        _ => Err(ApiError::invalid(format!(
            "Unable to preview using encoding '{encoding}'"
        ))),
    }
}

/// Kestra's FileRender: `{extension, type, content, maxLine, truncated}` for a file of
/// `extension`: ION files as a LIST of rows, images and PDF as base64, `.md` as MARKDOWN,
/// anything else as TEXT (its first `max_rows` lines).
pub fn render_preview(
    extension: &str,
    bytes: &[u8],
    encoding: &str,
    max_rows: usize,
) -> ApiResult<Value> {
    use base64::Engine as _;
    let lower = extension.to_ascii_lowercase();
    let base64 = || base64::engine::general_purpose::STANDARD.encode(bytes);
    let (kind, content, truncated) = match lower.as_str() {
        "jpg" | "jpeg" | "png" | "svg" | "gif" | "bmp" | "webp" => {
            ("IMAGE", json!(base64()), false)
        }
        "pdf" => ("PDF", json!(base64()), false),
        "ion" => {
            let text = String::from_utf8_lossy(bytes);
            let mut rows = Vec::new();
            let mut truncated = false;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if rows.len() == max_rows {
                    truncated = true;
                    break;
                }
                let values = saker_expr::ion::read_all(line).map_err(|e| {
                    ApiError::invalid(format!("the ION file cannot be read: {}", e.message))
                })?;
                rows.extend(values);
            }
            ("LIST", Value::Array(rows), truncated)
        }
        _ => {
            let encoding = if lower == "md" { "UTF-8" } else { encoding };
            let text = decode(bytes, encoding)?;
            let mut lines = text.lines();
            let kept: Vec<&str> = lines.by_ref().take(max_rows).collect();
            let mut truncated = lines.next().is_some();
            let mut content = kept.join("\n");
            if content.len() > PREVIEW_MAX_BYTES {
                let mut cut = PREVIEW_MAX_BYTES;
                while !content.is_char_boundary(cut) {
                    cut -= 1;
                }
                content.truncate(cut);
                truncated = true;
            }
            let kind = if lower == "md" { "MARKDOWN" } else { "TEXT" };
            (kind, Value::String(content), truncated)
        }
    };
    Ok(json!({
        "extension": extension,
        "type": kind,
        "content": content,
        "maxLine": max_rows,
        "truncated": truncated,
    }))
}

/// `GET /executions/{id}/file/preview?path&maxRows&encoding`.
pub async fn file_preview<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let uri = crate::executions::checked_path(&app, &id, &params).await?;
    let max_rows = params
        .u32("maxRows")?
        .map_or(PREVIEW_INITIAL_ROWS, |n| (n as usize).min(PREVIEW_MAX_ROWS));
    let encoding = params.get("encoding").unwrap_or("UTF-8");
    let files = app.service.runtime().files();
    if !files.exists(&uri).await.map_err(ApiError::internal)? {
        return Err(ApiError::not_found(format!("File '{uri}' not found")));
    }
    let bytes = files.get(&uri).await.map_err(ApiError::internal)?;
    let name = uri.rsplit('/').next().unwrap_or_default();
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    Ok(Json(render_preview(extension, &bytes, encoding, max_rows)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_text_ion_markdown_and_images() {
        let text = render_preview("csv", b"a,b\n1,2\n3,4\n", "UTF-8", 2).unwrap();
        assert_eq!(text["type"], "TEXT");
        assert_eq!(text["content"], "a,b\n1,2");
        assert_eq!(text["truncated"], true);
        let all = render_preview("txt", b"one\ntwo", "UTF-8", 100).unwrap();
        assert_eq!(all["content"], "one\ntwo");
        assert_eq!(all["truncated"], false);
        let ion = render_preview("ion", b"{a:1}\n{a:2}\n{a:3}\n", "UTF-8", 2).unwrap();
        assert_eq!(ion["type"], "LIST");
        assert_eq!(ion["content"], json!([{"a": 1}, {"a": 2}]));
        assert_eq!(ion["truncated"], true);
        let md = render_preview("md", b"# title", "ISO-8859-1", 10).unwrap();
        assert_eq!(md["type"], "MARKDOWN");
        let png = render_preview("png", &[1, 2, 3], "UTF-8", 10).unwrap();
        assert_eq!(png["type"], "IMAGE");
        assert_eq!(png["content"], "AQID");
        let latin = render_preview("txt", &[0x63, 0x61, 0x66, 0xe9], "ISO-8859-1", 10).unwrap();
        assert_eq!(latin["content"], "café");
        let refused = render_preview("txt", b"x", "EBCDIC", 10).unwrap_err();
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(render_preview("ion", b"{a:", "UTF-8", 10).is_err());
    }
}
