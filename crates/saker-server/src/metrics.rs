//! `/metrics`: the metrics tasks emitted (Kestra's `MetricController`): one execution's, paged
//! and filtered by task run or task; the metric names and the task ids of a flow.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use saker_storage::{MetricQuery, Store};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::ApiResult;
use crate::query::Params;

/// `GET /metrics/{executionId}?page&size&taskRunId&taskId`: `{results, total}` in emission
/// order (an unknown execution has none, as in Kestra).
pub async fn by_execution<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let query = MetricQuery {
        execution_id: id,
        task_run_id: params.get("taskRunId").map(str::to_owned),
        task_id: params.get("taskId").map(str::to_owned),
        paging: params.paging()?,
    };
    let page = app.store().search_metrics(&query).await?;
    Ok(Json(json!({"results": page.results, "total": page.total})))
}

/// `GET /metrics/names/{namespace}/{flowId}`: the distinct metric names of a flow, sorted.
pub async fn flow_names<S: Store>(
    State(app): State<Shared<S>>,
    Path((namespace, flow_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(
        app.store().metric_names(&namespace, &flow_id, None).await?,
    ))
}

/// `GET /metrics/names/{namespace}/{flowId}/{taskId}`: those of one task.
pub async fn task_names<S: Store>(
    State(app): State<Shared<S>>,
    Path((namespace, flow_id, task_id)): Path<(String, String, String)>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(
        app.store()
            .metric_names(&namespace, &flow_id, Some(&task_id))
            .await?,
    ))
}

/// `GET /metrics/tasks/{namespace}/{flowId}`: the ids of the flow's tasks that have metrics
/// (deleted or renamed tasks included), sorted.
pub async fn tasks<S: Store>(
    State(app): State<Shared<S>>,
    Path((namespace, flow_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(app.store().metric_tasks(&namespace, &flow_id).await?))
}
