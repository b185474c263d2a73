//! Basic auth per route and `/metrics`, on the router in-process.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use saker_runtime::Runtime;
use saker_runtime::service::Service;
use saker_storage::{LocalStorage, MemoryStore};
use saker_task::memory::MemoryKvStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

struct Api {
    router: Router,
    _dir: tempfile::TempDir,
}

async fn api_with(config: ServerConfig) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalStorage::new(dir.path())),
        Arc::new(MemoryKvStore::new()),
    );
    let (service, _) = Service::start(rt).await.unwrap();
    let app = App::new(service, config);
    tokio::spawn(prometheus::watch(app.clone()));
    Api {
        router: router(app),
        _dir: dir,
    }
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

impl Api {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-yaml");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }
}

fn with_auth() -> ServerConfig {
    let auth = auth::BasicAuth::new(
        "Saker",
        vec![auth::User {
            username: "admin@example.com".into(),
            password_hash: auth::hash_password("Adm1n-pass").unwrap(),
        }],
    )
    .unwrap();
    ServerConfig {
        auth: Some(Arc::new(auth)),
        ..ServerConfig::default()
    }
}

const WEBHOOK_FLOW: &str = "id: hook\nnamespace: team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: w\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k3y\n";

#[tokio::test(flavor = "multi_thread")]
async fn auth_guards_every_route_but_the_open_ones() {
    let api = api_with(with_auth()).await;
    let good = basic("admin@example.com", "Adm1n-pass");
    let bad = basic("admin@example.com", "wrong");

    // Guarded: the API under both prefixes, /metrics, unknown paths.
    for path in [
        "/api/v1/flows/search",
        "/api/v1/main/flows/search",
        "/api/v1/configs",
        "/metrics",
        "/api/v1/nothing-here",
    ] {
        for authorization in [None, Some(bad.as_str())] {
            let (status, headers, body) = api.call(Method::GET, path, "", authorization).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {authorization:?}");
            assert_eq!(
                headers[header::WWW_AUTHENTICATE],
                "Basic realm=\"Saker\"",
                "{path}"
            );
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                body,
                json!({
                    "message": "Unauthorized: missing or invalid credentials",
                    "_links": {"self": {"href": path, "templated": false}},
                })
            );
        }
    }
    let (status, _, _) = api
        .call(Method::GET, "/api/v1/flows/search", "", Some(&good))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = api
        .call(Method::GET, "/api/v1/configs", "", Some(&good))
        .await;
    assert_eq!(status, StatusCode::OK);
    let configs: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(configs["isBasicAuthEnabled"], json!(true));

    // Open: probes and webhooks (the flow is created with credentials).
    for path in ["/ping", "/health"] {
        let (status, _, _) = api.call(Method::GET, path, "", None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, _) = api
        .call(Method::POST, "/api/v1/flows", WEBHOOK_FLOW, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = api
        .call(Method::POST, "/api/v1/flows", WEBHOOK_FLOW, Some(&good))
        .await;
    assert_eq!(status, StatusCode::OK);
    for prefix in ["/api/v1", "/api/v1/main"] {
        let (status, _, body) = api
            .call(
                Method::POST,
                &format!("{prefix}/executions/webhook/team/hook/k3y"),
                "",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    // A wrong webhook key is refused by the webhook itself, not by the authentication.
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/v1/executions/webhook/team/hook/nope",
            "",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_auth_everything_is_open() {
    let api = api_with(ServerConfig::default()).await;
    for path in ["/api/v1/flows/search", "/metrics", "/ping", "/health"] {
        let (status, headers, _) = api.call(Method::GET, path, "", None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let (_, _, body) = api.call(Method::GET, "/api/v1/configs", "", None).await;
    let configs: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(configs["isBasicAuthEnabled"], json!(false));
}

/// The value of the series `name{labels}` in a Prometheus text page.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_executions_task_runs_and_requests() {
    let api = api_with(ServerConfig::default()).await;
    let flow = "id: m\nnamespace: team\ntasks:\n  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n";
    let (status, _, _) = api.call(Method::POST, "/api/v1/flows", flow, None).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..2 {
        let (status, _, body) = api
            .call(
                Method::POST,
                "/api/v1/executions/team/m?wait=true",
                "",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    let ns = ("namespace_id", "team");
    let flow_id = ("flow_id", "m");
    // The watcher runs beside the requests: wait for it to have seen both ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let page = loop {
        let (status, headers, body) = api.call(Method::GET, "/metrics", "", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let page = String::from_utf8(body).unwrap();
        let ended = sample(
            &page,
            prometheus::EXECUTION_ENDED,
            &[ns, flow_id, ("state", "FAILED")],
        );
        if ended == Some(2.0) || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        sample(&page, prometheus::EXECUTION_STARTED, &[ns, flow_id]),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            prometheus::EXECUTION_ENDED,
            &[ns, flow_id, ("state", "FAILED")]
        ),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            prometheus::TASKRUN_ENDED,
            &[
                ns,
                flow_id,
                ("task_type", "io.kestra.plugin.core.log.Log"),
                ("state", "SUCCESS")
            ]
        ),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            prometheus::TASKRUN_ENDED,
            &[
                ns,
                flow_id,
                ("task_type", "io.kestra.plugin.core.execution.Fail"),
                ("state", "FAILED")
            ]
        ),
        Some(2.0),
        "{page}"
    );
    let histogram = format!("{}_count", prometheus::EXECUTION_DURATION);
    assert_eq!(
        sample(&page, &histogram, &[ns, flow_id, ("state", "FAILED")]),
        Some(2.0),
        "{page}"
    );
    let bucket = format!("{}_bucket", prometheus::TASKRUN_DURATION);
    assert!(
        sample(&page, &bucket, &[("le", "+Inf"), ("state", "SUCCESS")]) == Some(2.0),
        "{page}"
    );
    let requests = format!("{}_count", prometheus::HTTP_REQUESTS);
    assert_eq!(
        sample(
            &page,
            &requests,
            &[
                ("method", "POST"),
                ("uri", "/api/v1/executions/{p1}/{p2}"),
                ("status", "200")
            ]
        ),
        Some(2.0),
        "{page}"
    );
    for gauge in [
        prometheus::WORKER_JOBS_RUNNING,
        prometheus::QUEUE_DEPTH,
        prometheus::EXECUTIONS_RUNNING,
        prometheus::EXECUTIONS_QUEUED,
    ] {
        assert!(sample(&page, gauge, &[]).is_some(), "{gauge}: {page}");
    }
    assert!(page.contains("# TYPE kestra_executor_taskrun_ended_duration_seconds histogram"));
}
