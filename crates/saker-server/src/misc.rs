//! `/ping`, `/health`, `/api/v1/configs`, the plugin list and the flow JSON Schema.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use saker_flow::{Catalog, PluginKind};
use saker_storage::Store;
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};

pub async fn ping() -> &'static str {
    "pong"
}

/// Micronaut's health shape: `{"status": "UP", "details": {component: {"status", ...}}}`;
/// 503 with `DOWN` when the store does not answer or the server is stopping.
pub async fn health<S: Store>(State(app): State<Shared<S>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    // A namespace no flow has (not NUL: PostgreSQL text refuses it).
    let store = match app.store().list_flows(Some("\u{1}health")).await {
        Ok(_) => json!({"status": "UP"}),
        Err(e) => json!({"status": "DOWN", "details": {"error": e.to_string()}}),
    };
    let stats = app.service.stats();
    let stopping = app.stopping.is_cancelled();
    let running = if stopping { "DOWN" } else { "UP" };
    let executor = json!({
        "status": running,
        "details": {
            "runningExecutions": stats.running.load(Ordering::Relaxed),
            "queuedExecutions": stats.queued.load(Ordering::Relaxed),
            "runningTaskAttempts": stats.workers.load(Ordering::Relaxed),
            "queueDepth": stats.backlog.load(Ordering::Relaxed),
        },
    });
    let up = store["status"] == "UP" && !stopping;
    let body = json!({
        "name": "saker",
        "status": if up { "UP" } else { "DOWN" },
        "details": {
            "store": store,
            "executor": executor,
            "scheduler": {"status": running},
        },
    });
    let status = if up {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The live workers of the job queue (heartbeat within the last 90 s); empty when the server
/// runs task runs itself. Saker's own endpoint (Kestra shows workers in its EE cluster pages).
pub async fn workers<S: Store>(State(app): State<Shared<S>>) -> ApiResult<Json<Value>> {
    let Some(queue) = app.service.runtime().queue() else {
        return Ok(Json(json!([])));
    };
    let live = queue
        .live_workers(std::time::Duration::from_secs(90))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!(live)))
}

/// The live executors (heartbeat within the last 90 s) when several executor processes share
/// the database (`saker server executor`); empty otherwise. Saker's own endpoint.
pub async fn executors<S: Store>(State(app): State<Shared<S>>) -> ApiResult<Json<Value>> {
    let Some(inbox) = app.service.inbox() else {
        return Ok(Json(json!([])));
    };
    let live = inbox
        .live_executors(std::time::Duration::from_secs(90))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!(live)))
}

/// What Kestra's UI bootstraps from.
pub async fn configs<S: Store>(State(app): State<Shared<S>>) -> Json<Value> {
    let basic_auth = app.config.auth.is_some();
    Json(json!({
        "uuid": "saker",
        "version": env!("CARGO_PKG_VERSION"),
        "isCustomDashboardsEnabled": false,
        "isTaskRunEnabled": false,
        "isAnonymousUsageEnabled": false,
        "isTemplateEnabled": false,
        "isBasicAuthEnabled": basic_auth,
        "isBasicAuthInitialized": basic_auth,
        "systemNamespace": "system",
        "hiddenLabelsPrefixes": [],
        "preview": {"initial": 100, "max": 5000},
        "resourceToFilters": [],
    }))
}

/// `GET /plugins`: one "plugin" holding every built-in type, grouped by kind.
pub async fn plugins() -> Json<Value> {
    let registry = saker_tasks::registry();
    let mut tasks = Vec::new();
    let mut triggers = Vec::new();
    let mut conditions = Vec::new();
    let mut task_runners = Vec::new();
    for info in registry.plugins() {
        let entry = json!({"cls": info.type_name, "title": info.title});
        match info.kind {
            PluginKind::Task(_) => tasks.push(entry),
            PluginKind::Trigger => triggers.push(entry),
            PluginKind::Condition => conditions.push(entry),
            PluginKind::TaskRunner => task_runners.push(entry),
        }
    }
    Json(json!([{
        "name": "core",
        "title": "Saker built-in plugins",
        "group": "io.kestra.plugin.core",
        "version": env!("CARGO_PKG_VERSION"),
        "tasks": tasks,
        "triggers": triggers,
        "conditions": conditions,
        "taskRunners": task_runners,
    }]))
}

/// `GET /plugins/schemas/flow`: the flow JSON Schema (draft-07).
pub async fn schema(Path(kind): Path<String>) -> ApiResult<Json<Value>> {
    if kind != "flow" {
        return Err(ApiError::not_found(format!(
            "No schema for '{kind}' (only 'flow' is served)"
        )));
    }
    Ok(Json(saker_flow::flow_schema(saker_tasks::registry())))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("Page Not Found: {}", uri.path()))
}

/// Every served `/api/v1` endpoint: method, path, summary (the OpenAPI document; a test checks
/// each one is routed).
pub const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("get", "/configs", "Server configuration for the UI"),
    ("get", "/plugins", "Built-in plugin types"),
    (
        "get",
        "/plugins/schemas/{kind}",
        "Flow JSON Schema (kind = flow)",
    ),
    ("post", "/flows", "Create a flow (YAML body)"),
    (
        "post",
        "/flows/validate",
        "Validate flow documents (multi-document YAML)",
    ),
    ("get", "/flows/search", "Search flows"),
    (
        "get",
        "/flows/export/by-query",
        "Zip of the YAML sources of the flows matching the search filters",
    ),
    (
        "post",
        "/flows/export/by-ids",
        "Zip of the YAML sources of the flows [{namespace, id}]",
    ),
    (
        "post",
        "/flows/import",
        "Import flows (multipart fileUpload: .zip or .yml) → names that failed",
    ),
    (
        "delete",
        "/flows/delete/by-ids",
        "Delete flows [{namespace, id}] → {count}",
    ),
    (
        "delete",
        "/flows/delete/by-query",
        "Delete the flows matching the search filters → {count}",
    ),
    (
        "post",
        "/flows/disable/by-ids",
        "Disable flows [{namespace, id}] → {count}",
    ),
    (
        "post",
        "/flows/disable/by-query",
        "Disable the flows matching the search filters → {count}",
    ),
    (
        "post",
        "/flows/enable/by-ids",
        "Enable flows [{namespace, id}] → {count}",
    ),
    (
        "post",
        "/flows/enable/by-query",
        "Enable the flows matching the search filters → {count}",
    ),
    ("get", "/flows/{namespace}", "Flows of a namespace"),
    (
        "post",
        "/flows/{namespace}",
        "Replace a namespace's flows (multi-document YAML)",
    ),
    (
        "get",
        "/flows/{namespace}/{id}",
        "Get a flow (?source, ?revision, ?allowDeleted)",
    ),
    (
        "put",
        "/flows/{namespace}/{id}",
        "Update a flow (YAML body)",
    ),
    ("delete", "/flows/{namespace}/{id}", "Delete a flow"),
    (
        "get",
        "/flows/{namespace}/{id}/revisions",
        "Revisions of a flow",
    ),
    ("get", "/executions/search", "Search executions"),
    (
        "post",
        "/executions/{namespace}/{id}",
        "Create an execution (multipart inputs)",
    ),
    (
        "post",
        "/executions/kill/by-ids",
        "Kill executions (JSON array of ids) → {count}",
    ),
    (
        "post",
        "/executions/restart/by-ids",
        "Restart executions (JSON array of ids) → {count}",
    ),
    (
        "delete",
        "/executions/by-ids",
        "Delete terminated executions (JSON array of ids) → {count}",
    ),
    ("get", "/executions/{executionId}", "Get an execution"),
    (
        "delete",
        "/executions/{executionId}",
        "Delete a terminated execution",
    ),
    (
        "post",
        "/executions/{executionId}/kill",
        "Kill an execution",
    ),
    (
        "delete",
        "/executions/{executionId}/kill",
        "Kill an execution",
    ),
    (
        "post",
        "/executions/{executionId}/pause",
        "Pause a running execution",
    ),
    (
        "post",
        "/executions/{executionId}/resume",
        "Resume a paused execution (multipart inputs)",
    ),
    (
        "post",
        "/executions/{executionId}/restart",
        "Restart a failed or paused execution",
    ),
    (
        "post",
        "/executions/{executionId}/labels",
        "Set the labels of a terminated execution",
    ),
    (
        "post",
        "/executions/{executionId}/eval/{taskRunId}",
        "Render an expression",
    ),
    (
        "get",
        "/executions/{executionId}/flow",
        "The flow of an execution",
    ),
    (
        "get",
        "/executions/{executionId}/follow",
        "Follow an execution (SSE)",
    ),
    (
        "get",
        "/executions/{executionId}/file",
        "Download an execution file (?path)",
    ),
    (
        "get",
        "/executions/{executionId}/file/metas",
        "Size of an execution file (?path)",
    ),
    (
        "post",
        "/executions/{executionId}/replay",
        "Replay as a new execution (?taskRunId, ?revision)",
    ),
    (
        "post",
        "/executions/{executionId}/state",
        "Change a task run's state ({taskRunId, state}) and restart from there",
    ),
    (
        "post",
        "/executions/{executionId}/change-status",
        "Change a terminated execution's status (?status, final states)",
    ),
    (
        "post",
        "/executions/{executionId}/unqueue",
        "Take a QUEUED execution out of its queue (?state=RUNNING|CANCELLED|FAILED)",
    ),
    (
        "post",
        "/executions/{executionId}/force-run",
        "Start a QUEUED execution now, resume a PAUSED one",
    ),
    (
        "post",
        "/executions/unqueue/by-ids",
        "Unqueue executions (JSON array of ids, ?state=) → {count}",
    ),
    (
        "post",
        "/executions/unqueue/by-query",
        "Unqueue the executions matching the search filters (?newState=) → {count}",
    ),
    (
        "post",
        "/executions/force-run/by-ids",
        "Force run executions (JSON array of ids) → {count}",
    ),
    (
        "post",
        "/executions/force-run/by-query",
        "Force run the executions matching the search filters → {count}",
    ),
    (
        "get",
        "/executions/{executionId}/file/preview",
        "Preview an execution file (?path, ?maxRows, ?encoding)",
    ),
    (
        "delete",
        "/executions/kill/by-ids",
        "Kill executions (JSON array of ids) → {count}",
    ),
    (
        "post",
        "/executions/replay/by-ids",
        "Replay terminated executions → {count}",
    ),
    (
        "post",
        "/executions/pause/by-ids",
        "Pause running executions → {count}",
    ),
    (
        "post",
        "/executions/resume/by-ids",
        "Resume paused executions → {count}",
    ),
    (
        "post",
        "/executions/change-status/by-ids",
        "Change the status of terminated executions (?newStatus) → {count}",
    ),
    (
        "delete",
        "/executions/kill/by-query",
        "Kill the executions matching the search filters → {count}",
    ),
    (
        "post",
        "/executions/restart/by-query",
        "Restart the executions matching the search filters → {count}",
    ),
    (
        "post",
        "/executions/replay/by-query",
        "Replay the executions matching the search filters → {count}",
    ),
    (
        "post",
        "/executions/pause/by-query",
        "Pause the executions matching the search filters → {count}",
    ),
    (
        "post",
        "/executions/resume/by-query",
        "Resume the executions matching the search filters → {count}",
    ),
    (
        "post",
        "/executions/change-status/by-query",
        "Change the status of the executions matching the filters → {count}",
    ),
    (
        "post",
        "/executions/labels/by-ids",
        "Add labels to terminated executions ({executionsId, executionLabels}) → {count}",
    ),
    (
        "post",
        "/executions/labels/by-query",
        "Add labels (body) to the executions matching the filters → {count}",
    ),
    (
        "delete",
        "/executions/by-query",
        "Delete the terminated executions matching the search filters → {count}",
    ),
    (
        "get",
        "/namespaces/{namespace}/files",
        "A namespace file's content (?path)",
    ),
    (
        "post",
        "/namespaces/{namespace}/files",
        "Upload a namespace file (?path, multipart fileContent)",
    ),
    (
        "put",
        "/namespaces/{namespace}/files",
        "Move a namespace file or folder (?from, ?to)",
    ),
    (
        "delete",
        "/namespaces/{namespace}/files",
        "Delete a namespace file or folder (?path)",
    ),
    (
        "get",
        "/namespaces/{namespace}/files/stats",
        "Attributes of a namespace file or folder (?path)",
    ),
    (
        "get",
        "/namespaces/{namespace}/files/directory",
        "Entries of a namespace folder (?path)",
    ),
    (
        "post",
        "/namespaces/{namespace}/files/directory",
        "Create a folder (?path=)",
    ),
    (
        "get",
        "/namespaces/{namespace}/files/export",
        "Zip of the namespace's files and flows (_flows/<id>.yml)",
    ),
    (
        "get",
        "/namespaces/{namespace}/files/search",
        "Namespace file paths containing ?q",
    ),
    (
        "get",
        "/triggers/search",
        "Search triggers (?namespace, ?flowId, ?q, ?page, ?size)",
    ),
    (
        "put",
        "/triggers",
        "Enable/disable a trigger or set its backfill",
    ),
    ("put", "/triggers/backfill/pause", "Pause a backfill"),
    ("put", "/triggers/backfill/unpause", "Unpause a backfill"),
    ("post", "/triggers/backfill/delete", "Delete a backfill"),
    (
        "post",
        "/triggers/backfill/{action}/by-triggers",
        "Pause, unpause or delete the backfills of [{namespace, flowId, triggerId}] → {count}",
    ),
    (
        "post",
        "/triggers/backfill/{action}/by-query",
        "Pause, unpause or delete the backfills of the matching triggers → {count}",
    ),
    (
        "post",
        "/triggers/unlock/by-triggers",
        "Unlock the locked triggers of [{namespace, flowId, triggerId}] → {count}",
    ),
    (
        "post",
        "/triggers/unlock/by-query",
        "Unlock the matching locked triggers → {count}",
    ),
    (
        "post",
        "/triggers/set-disabled/by-triggers",
        "Disable or enable triggers ({triggers, disabled}) → {count}",
    ),
    (
        "post",
        "/triggers/set-disabled/by-query",
        "Disable or enable the matching triggers (?disabled=) → {count}",
    ),
    (
        "delete",
        "/triggers/delete/by-triggers",
        "Delete the states of [{namespace, flowId, triggerId}] → {count}",
    ),
    (
        "delete",
        "/triggers/delete/by-query",
        "Delete the states of the matching triggers → {count}",
    ),
    (
        "delete",
        "/triggers/{namespace}/{flowId}/{triggerId}",
        "Delete a trigger's state (it starts over from now)",
    ),
    (
        "post",
        "/triggers/{namespace}/{flowId}/{triggerId}/unlock",
        "Release a trigger's lease",
    ),
    ("get", "/logs/search", "Search log lines"),
    ("get", "/logs/{executionId}", "Log lines of an execution"),
    (
        "delete",
        "/logs/{executionId}",
        "Delete the log lines of an execution",
    ),
    ("get", "/logs/{executionId}/download", "Log lines as text"),
    (
        "get",
        "/logs/{executionId}/follow",
        "Follow log lines (SSE)",
    ),
    (
        "get",
        "/metrics/{executionId}",
        "Metrics of an execution (paged)",
    ),
    (
        "get",
        "/metrics/names/{namespace}/{flowId}",
        "Metric names of a flow",
    ),
    (
        "get",
        "/metrics/names/{namespace}/{flowId}/{taskId}",
        "Metric names of a task",
    ),
    (
        "get",
        "/metrics/tasks/{namespace}/{flowId}",
        "Tasks of a flow with metrics",
    ),
    (
        "get",
        "/namespaces/{namespace}/kv",
        "KV entries of a namespace",
    ),
    ("get", "/namespaces/{namespace}/kv/{key}", "Get a KV entry"),
    (
        "put",
        "/namespaces/{namespace}/kv/{key}",
        "Set a KV entry (JSON literal body)",
    ),
    (
        "delete",
        "/namespaces/{namespace}/kv/{key}",
        "Delete a KV entry",
    ),
];

/// `GET /api/v1/openapi.json`: an OpenAPI 3.1 document of [`ENDPOINTS`].
pub async fn openapi() -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for (method, path, summary) in ENDPOINTS {
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths
            .entry(format!("/api/v1{path}"))
            .or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary,
            "parameters": parameters,
            "responses": {"default": {"description": "Kestra's response for this endpoint; errors are {message, _links, _embedded}"}},
        });
    }
    // Outside /api/v1: probes (always open) and Prometheus metrics.
    let open = json!([]);
    paths.insert(
        "/ping".into(),
        json!({"get": {"summary": "Liveness: pong", "security": open, "responses": {"200": {"description": "pong"}}}}),
    );
    paths.insert(
        "/health".into(),
        json!({"get": {"summary": "Health of the store, executor and scheduler", "security": open, "responses": {"200": {"description": "UP"}, "503": {"description": "DOWN"}}}}),
    );
    paths.insert(
        "/metrics".into(),
        json!({"get": {"summary": "Prometheus metrics (text format 0.0.4)", "responses": {"200": {"description": "text/plain; version=0.0.4"}}}}),
    );
    for webhook in paths
        .iter_mut()
        .filter(|(path, _)| path.starts_with("/api/v1/executions/webhook/"))
        .flat_map(|(_, entry)| entry.as_object_mut())
    {
        for operation in webhook.values_mut() {
            operation["security"] = json!([]);
        }
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Saker API (Kestra-compatible)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every /api/v1 path is also served under /api/v1/main. With basic auth \
                configured (server.basic-auth), every path but /ping, /health and webhooks needs \
                it; a refusal is 401 with WWW-Authenticate."
        },
        "components": {"securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}}},
        "security": [{"basicAuth": []}],
        "paths": paths,
    }))
}
