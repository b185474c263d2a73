//! `/logs`: the lines of an execution (filtered), search across executions, download as text,
//! SSE follow (stored lines first, then live ones), delete.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use saker_storage::{LogEntry, LogFilter, LogSearch, Store};
use saker_task::Level;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::executions::async_stream;
use crate::query::Params;

fn level(params: &Params) -> ApiResult<Option<Level>> {
    params
        .get("minLevel")
        .map(|v| {
            serde_json::from_value(Value::String(v.to_uppercase()))
                .map_err(|_| ApiError::invalid(format!("Invalid minLevel '{v}'")))
        })
        .transpose()
}

fn filter(id: &str, params: &Params) -> ApiResult<(LogFilter, Option<u32>)> {
    let filter = LogFilter {
        execution_id: id.to_owned(),
        task_run_id: params.get("taskRunId").map(str::to_owned),
        task_ids: params
            .all("taskId")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        min_level: level(params)?,
    };
    Ok((filter, params.u32("attempt")?))
}

fn keep(entry: &LogEntry, attempt: Option<u32>) -> bool {
    // Kestra's `attempt` is 0-based; stored attempt numbers are 1-based.
    attempt.is_none_or(|a| entry.attempt_number == Some(a + 1))
}

async fn lines<S: Store>(app: &Shared<S>, id: &str, params: &Params) -> ApiResult<Vec<LogEntry>> {
    let (filter, attempt) = filter(id, params)?;
    Ok(app
        .store()
        .logs(&filter)
        .await?
        .into_iter()
        .filter(|e| keep(e, attempt))
        .collect())
}

/// `GET /logs/{executionId}?minLevel&taskRunId&taskId&attempt` → `[LogEntry]`.
pub async fn by_execution<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Vec<LogEntry>>> {
    let params = Params::parse(query.as_deref());
    Ok(Json(lines(&app, &id, &params).await?))
}

/// `GET /logs/{executionId}/download`: `<timestamp> <LEVEL> <message>` per line.
pub async fn download<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    let mut text = String::new();
    for entry in lines(&app, &id, &params).await? {
        text.push_str(&saker_core::time::format_instant(&entry.timestamp));
        text.push(' ');
        text.push_str(entry.level.as_str());
        text.push(' ');
        text.push_str(&entry.message);
        text.push('\n');
    }
    let disposition = format!("attachment; filename=\"{}.log\"", id.replace('"', ""));
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// `GET /logs/search?q&namespace&flowId&minLevel&startDate&endDate&timeRange&page&size`;
/// without a date bound, the lines of the server's default range.
pub async fn search<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let search = LogSearch {
        namespace: params.get("namespace").map(str::to_owned),
        flow_id: params.get("flowId").map(str::to_owned),
        execution_id: params.get("executionId").map(str::to_owned),
        task_id: params.get("taskId").map(str::to_owned),
        min_level: level(&params)?,
        from: params.search_start(app.config.search_time_range, chrono::Utc::now())?,
        to: params.instant("endDate")?,
        text: params.get("q").map(str::to_owned),
        paging: params.paging()?,
    };
    let page = app.store().search_logs(&search).await?;
    Ok(Json(json!({"results": page.results, "total": page.total})))
}

pub async fn delete<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store().delete_logs(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /logs/{executionId}/follow?minLevel`: SSE `progress` events, one per line; stored lines
/// first. Kestra never sends an end: clients close when the execution follow ends.
pub async fn follow<S: Store>(
    State(app): State<Shared<S>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let params = Params::parse(query.as_deref());
    let (filter, attempt) = filter(&id, &params)?;
    // Subscribe first, then read the history; lines stored in between are sent twice at most
    // never lost, and skipped by count below.
    let mut live = app.service.logs();
    let history = app.store().logs(&filter).await?;
    let stream = async_stream(app.stopping.clone(), move |tx| async move {
        let event = |entry: &LogEntry| {
            Event::default()
                .id("progress")
                .event("progress")
                .data(serde_json::to_string(entry).unwrap_or_default())
        };
        let mut seen = std::collections::HashSet::new();
        for entry in history.iter().filter(|e| keep(e, attempt)) {
            seen.insert((entry.timestamp, entry.message.clone()));
            if tx.send(event(entry)).await.is_err() {
                return;
            }
        }
        loop {
            match live.recv().await {
                Ok(entry) => {
                    if !filter.matches(&entry) || !keep(&entry, attempt) {
                        continue;
                    }
                    if seen.remove(&(entry.timestamp, entry.message.clone())) {
                        continue;
                    }
                    if tx.send(event(&entry)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
