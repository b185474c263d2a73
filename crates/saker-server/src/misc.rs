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

/// `{"status": "UP"}` once the store answers.
pub async fn health<S: Store>(State(app): State<Shared<S>>) -> ApiResult<Json<Value>> {
    app.store().list_flows(Some("\u{0}health")).await?;
    Ok(Json(json!({"status": "UP"})))
}

/// What Kestra's UI bootstraps from.
pub async fn configs() -> Json<Value> {
    Json(json!({
        "uuid": "saker",
        "version": env!("CARGO_PKG_VERSION"),
        "isCustomDashboardsEnabled": false,
        "isTaskRunEnabled": false,
        "isAnonymousUsageEnabled": false,
        "isTemplateEnabled": false,
        "isBasicAuthEnabled": false,
        "isBasicAuthInitialized": false,
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
