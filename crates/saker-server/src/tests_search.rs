//! The default date range of the search endpoints and Kestra's `timeRange`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use saker_core::{Execution, ExecutionId, FlowRef, StateType};
use saker_runtime::Runtime;
use saker_runtime::service::Service;
use saker_storage::{Changed, LogEntry, MemoryStore};
use saker_task::Level;
use saker_task::memory::{MemoryKvStore, MemoryStorage};
use serde_json::Value;
use tower::ServiceExt;

use super::*;

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A server whose store holds one execution (and one log line) per age in days.
async fn with_history(ages: &[i64], config: ServerConfig) -> Router {
    let store = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for days in ages {
        let started = now - chrono::TimeDelta::days(*days);
        let id = format!("e{days}");
        let mut execution = Execution::new(
            ExecutionId::new(&id),
            &FlowRef::new("io.test", "f", 1),
            &[],
            Vec::new(),
            started,
        );
        execution.transition(StateType::Success, started);
        store
            .save_execution(&execution, &Changed::All)
            .await
            .unwrap();
        store
            .append_logs(&[LogEntry {
                namespace: "io.test".into(),
                flow_id: "f".into(),
                task_id: None,
                execution_id: id.clone(),
                task_run_id: None,
                attempt_number: None,
                timestamp: started,
                level: Level::Info,
                thread: "t".into(),
                message: id,
            }])
            .await
            .unwrap();
    }
    let rt = Runtime::new(
        store,
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryKvStore::new()),
    );
    let (service, _) = Service::start(rt).await.unwrap();
    router(App::new(service, config))
}

fn ids(page: &Value, key: &str) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn searches_cover_the_default_range_unless_told_otherwise() {
    let router = with_history(&[1, 20, 400], ServerConfig::default()).await;
    let (status, page) = get(&router, "/api/v1/executions/search").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (ids(&page, "id"), &page["total"]),
        (vec!["e1".to_owned()], &Value::from(1))
    );
    let (_, page) = get(&router, "/api/v1/logs/search").await;
    assert_eq!(ids(&page, "message"), ["e1"]);

    let (_, page) = get(&router, "/api/v1/executions/search?timeRange=P30D").await;
    assert_eq!(ids(&page, "id"), ["e1", "e20"]);
    let (_, page) = get(&router, "/api/v1/logs/search?timeRange=P30D").await;
    assert_eq!(ids(&page, "message"), ["e1", "e20"], "insertion order");
    // Any explicit bound replaces the default one.
    let (_, page) = get(
        &router,
        "/api/v1/executions/search?startDate=2000-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(ids(&page, "id"), ["e1", "e20", "e400"]);
    let (_, page) = get(
        &router,
        "/api/v1/executions/search?endDate=2100-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(page["total"], 3);

    let (status, error) = get(
        &router,
        "/api/v1/executions/search?timeRange=P1D&startDate=2000-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    insta::assert_snapshot!(error["message"].as_str().unwrap(), @"Invalid entity: Parameters 'startDate' and 'timeRange' are mutually exclusive");
    let (status, error) = get(&router, "/api/v1/logs/search?timeRange=week").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");

    let unbounded = with_history(
        &[1, 400],
        ServerConfig {
            search_time_range: None,
            ..ServerConfig::default()
        },
    )
    .await;
    let (_, page) = get(&unbounded, "/api/v1/executions/search").await;
    assert_eq!(page["total"], 2);
}
