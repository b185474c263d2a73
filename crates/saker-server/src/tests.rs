//! The API in-process (tower `oneshot`): response shapes as insta snapshots with ids, dates and
//! durations redacted, status codes and Kestra's error shape.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use saker_runtime::Runtime;
use saker_runtime::service::Service;
use saker_storage::{LocalStorage, MemoryStore};
use saker_task::memory::MemoryKvStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

struct Api {
    router: Router,
    app: Shared<MemoryStore>,
    _dir: tempfile::TempDir,
}

async fn api_with(config: ServerConfig) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalStorage::new(dir.path())),
        Arc::new(MemoryKvStore::new()),
    )
    .with_encryption_key(saker_expr::crypto::generate_key());
    let (service, _) = Service::start(rt).await.unwrap();
    let app = App::new(service, config);
    Api {
        router: router(app.clone()),
        app,
        _dir: dir,
    }
}

async fn api() -> Api {
    api_with(ServerConfig::default()).await
}

impl Api {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Body,
        ctype: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(ctype) = ctype {
            request = request.header("content-type", ctype);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        body: impl Into<Body>,
        ctype: Option<&str>,
    ) -> (StatusCode, Value) {
        let (status, bytes) = self.call(method, uri, body.into(), ctype).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    async fn post_flow(&self, source: &str) -> (StatusCode, Value) {
        self.json(
            Method::POST,
            "/api/v1/flows",
            source.to_owned(),
            Some("application/x-yaml"),
        )
        .await
    }

    /// Polls until the execution is terminated (or PAUSED).
    async fn wait(&self, id: &str, through_pause: bool) -> Value {
        self.wait_until(id, |state| {
            ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"].contains(&state)
                || (!through_pause && state == "PAUSED")
        })
        .await
    }

    /// Polls until the execution's current state satisfies `stop`.
    async fn wait_until(&self, id: &str, stop: impl Fn(&str) -> bool) -> Value {
        for _ in 0..500 {
            let (_, execution) = self
                .json(
                    Method::GET,
                    &format!("/api/v1/executions/{id}"),
                    Body::empty(),
                    None,
                )
                .await;
            if stop(execution["state"]["current"].as_str().unwrap_or_default()) {
                return execution;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("execution {id} did not reach the awaited state");
    }
}

fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (Body, String) {
    let boundary = "XBOUNDARYX";
    let mut body = String::new();
    for (name, filename, content) in parts {
        body.push_str(&format!("--{boundary}\r\n"));
        match filename {
            Some(filename) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )),
            None => body.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")),
        }
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        Body::from(body),
        format!("multipart/form-data; boundary={boundary}"),
    )
}

/// Replaces what changes from run to run: ids (the execution's and its task runs'), dates,
/// durations, storage URIs.
fn redact(value: &Value) -> Value {
    let mut ids: Vec<String> = value["id"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(runs) = value["taskRunList"].as_array() {
        ids.extend(
            runs.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned)),
        );
    }
    let mut text = value.to_string();
    for id in ids.iter().filter(|id| id.len() > 12) {
        text = text.replace(&format!("\"{id}\""), "\"[id]\"");
    }
    shapes(&serde_json::from_str(&text).unwrap())
}

fn shapes(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shapes(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(shapes).collect()),
        Value::String(s) if s.len() >= 20 && s.as_bytes()[4] == b'-' && s.contains('T') => {
            json!("[date]")
        }
        Value::String(s) if s.starts_with("PT") => json!("[duration]"),
        Value::String(s) if s.starts_with("kestra:///") => json!("[uri]"),
        other => other.clone(),
    }
}

const HELLO: &str = "id: hello\nnamespace: company.team\nlabels:\n  team: data\ninputs:\n  - id: name\n    type: STRING\n    defaults: world\n  - id: doc\n    type: FILE\n    required: false\ntasks:\n  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: \"Hello {{ inputs.name }}\"\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.name | upper }}\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn flows_are_created_read_updated_and_deleted() {
    let api = api().await;
    let (status, created) = api.post_flow(HELLO).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    insta::assert_json_snapshot!("flow_created", redact(&created));

    let (status, again) = api.post_flow(HELLO).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("flow_exists", again);

    let (status, flow) = api
        .json(
            Method::GET,
            "/api/v1/main/flows/company.team/hello",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(flow.get("source").is_none());
    let (_, flow) = api
        .json(
            Method::GET,
            "/api/v1/flows/company.team/hello?source=true",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(flow["source"], json!(HELLO));

    let updated = HELLO.replace("Hello", "Hi");
    let (status, flow) = api
        .json(
            Method::PUT,
            "/api/v1/flows/company.team/hello",
            updated.clone(),
            Some("application/x-yaml"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flow["revision"], json!(2));
    let (status, _) = api
        .json(
            Method::PUT,
            "/api/v1/flows/company.team/other",
            updated,
            Some("application/x-yaml"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "id/namespace cannot change"
    );
    let (_, revisions) = api
        .json(
            Method::GET,
            "/api/v1/flows/company.team/hello/revisions",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(revisions.as_array().map(Vec::len), Some(2));

    let (_, page) = api
        .json(
            Method::GET,
            "/api/v1/flows/search?namespace=company&labels=team:data",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(page["total"], json!(1));
    assert_eq!(page["results"][0]["id"], json!("hello"));

    let (status, _) = api
        .call(
            Method::DELETE,
            "/api/v1/flows/company.team/hello",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, missing) = api
        .json(
            Method::GET,
            "/api/v1/flows/company.team/hello",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("flow_not_found", missing);

    let (status, invalid) = api
        .post_flow(
            "id: bad\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Nope\n",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("flow_invalid", invalid);
    let (status, _) = api.post_flow("id: [unclosed").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_each_document() {
    let api = api().await;
    let source = format!("{HELLO}---\nid: broken\nnamespace: ns\ntasks: []\n");
    let (status, results) = api
        .json(
            Method::POST,
            "/api/v1/flows/validate",
            source,
            Some("application/x-yaml"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!("validate", results);
}

#[tokio::test(flavor = "multi_thread")]
async fn executions_run_with_inputs_files_labels_and_wait() {
    let api = api().await;
    api.post_flow(HELLO).await;
    let (body, ctype) = multipart(&[
        ("name", None, "saker"),
        ("doc", Some("notes.txt"), "some notes"),
    ]);
    let (status, execution) = api
        .json(
            Method::POST,
            "/api/v1/executions/company.team/hello?wait=true&labels=env:test",
            body,
            Some(&ctype),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    assert_eq!(execution["state"]["current"], json!("SUCCESS"));
    insta::assert_json_snapshot!("execution_waited", redact(&execution));
    let id = execution["id"].as_str().unwrap().to_owned();

    let (_, logs) = api
        .json(
            Method::GET,
            &format!("/api/v1/logs/{id}"),
            Body::empty(),
            None,
        )
        .await;
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == json!("Hello saker")),
        "{logs}"
    );
    let (status, text) = api
        .call(
            Method::GET,
            &format!("/api/v1/logs/{id}/download"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&text).contains("INFO Hello saker"));

    let uri = execution["inputs"]["doc"].as_str().unwrap();
    let encoded: String = form_urlencoded::byte_serialize(uri.as_bytes()).collect();
    let (status, content) = api
        .call(
            Method::GET,
            &format!("/api/v1/executions/{id}/file?path={encoded}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content, b"some notes");
    let (_, metas) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}/file/metas?path={encoded}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(metas, json!({"size": 10}));
    // Path traversal and other flows' files are refused.
    for bad in [
        uri.replace("notes.txt", "../../../../../../etc/passwd"),
        "kestra:///other/flow/x.txt".to_owned(),
    ] {
        let encoded: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let (status, error) = api
            .json(
                Method::GET,
                &format!("/api/v1/executions/{id}/file?path={encoded}"),
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {error}");
    }

    let (_, page) = api
        .json(
            Method::GET,
            "/api/v1/executions/search?namespace=company.team&flowId=hello&labels=env:test&state=SUCCESS",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(page["total"], json!(1));
    assert_eq!(page["results"][0]["id"], json!(id));

    // Invalid inputs: 422 with Kestra's message.
    let flow = "id: typed\nnamespace: company.team\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
    api.post_flow(flow).await;
    let (body, ctype) = multipart(&[("n", None, "not a number")]);
    let (status, error) = api
        .json(
            Method::POST,
            "/api/v1/executions/company.team/typed",
            body,
            Some(&ctype),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("input_invalid", error);

    // Finished executions can be deleted; then they are gone.
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/executions/{id}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/executions/{id}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_resume_kill_and_restart_over_http() {
    let api = api().await;
    let flow = "id: approval\nnamespace: ns\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: ok\n        type: BOOLEAN\n  - id: check\n    type: io.kestra.plugin.core.execution.Fail\n    runIf: \"{{ outputs.wait.onResume.ok == false }}\"\n";
    api.post_flow(flow).await;
    let (_, created) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/approval",
            Body::empty(),
            None,
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"]["current"], json!("CREATED"));
    let paused = api.wait(&id, false).await;
    assert_eq!(paused["state"]["current"], json!("PAUSED"));
    let (body, ctype) = multipart(&[("ok", None, "false")]);
    let (status, _) = api
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/resume"),
            body,
            Some(&ctype),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let done = api.wait(&id, true).await;
    assert_eq!(done["state"]["current"], json!("FAILED"));
    let (status, error) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/resume"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let error: Value = serde_json::from_str(&error.to_string().replace(&id, "[id]")).unwrap();
    insta::assert_json_snapshot!("resume_not_paused", error);
    let (status, error) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/kill"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");

    let (status, restarted) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/restart"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restarted}");
    assert_eq!(restarted["state"]["current"], json!("RESTARTED"));

    let sleepy = "id: sleepy\nnamespace: ns\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n";
    api.post_flow(sleepy).await;
    let (_, created) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/sleepy",
            Body::empty(),
            None,
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/executions/{id}/kill"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let killed = api.wait(&id, true).await;
    assert_eq!(killed["state"]["current"], json!("KILLED"));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_kestras_shape() {
    let api = api_with(ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    })
    .await;
    let (status, error) = api
        .json(
            Method::GET,
            "/api/v1/executions/unknown",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("execution_not_found", error);
    let (status, error) = api
        .json(Method::GET, "/api/v1/nothing/here", Body::empty(), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        error["_links"]["self"]["href"],
        json!("/api/v1/nothing/here")
    );
    let big = format!(
        "id: big\nnamespace: ns\ndescription: \"{}\"\ntasks: []\n",
        "x".repeat(4096)
    );
    let (status, error) = api.post_flow(&big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    insta::assert_json_snapshot!("body_too_large", error);
    let (status, error) = api
        .json(
            Method::GET,
            "/api/v1/executions/search?page=abc",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, _) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/missing",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.call(Method::GET, "/ping", Body::empty(), None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"pong".as_slice())
    );
    let (status, health) = api.json(Method::GET, "/health", Body::empty(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], json!("UP"));
    assert_eq!(health["details"]["store"], json!({"status": "UP"}));
    assert_eq!(health["details"]["executor"]["status"], json!("UP"));
    let (status, configs) = api
        .json(Method::GET, "/api/v1/configs", Body::empty(), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(configs["isBasicAuthEnabled"], json!(false));
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_entries_are_typed() {
    let api = api().await;
    for (key, body, kind) in [
        ("s", "\"hello\"", "STRING"),
        ("n", "42", "NUMBER"),
        ("j", "{\"a\": [1]}", "JSON"),
        ("raw", "not json", "STRING"),
    ] {
        let (status, _) = api
            .call(
                Method::PUT,
                &format!("/api/v1/namespaces/ns/kv/{key}"),
                Body::from(body),
                Some("application/json"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, entry) = api
            .json(
                Method::GET,
                &format!("/api/v1/namespaces/ns/kv/{key}"),
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(entry["type"], json!(kind), "{key}: {entry}");
    }
    let (_, list) = api
        .json(Method::GET, "/api/v1/namespaces/ns/kv", Body::empty(), None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(4));
    let (_, deleted) = api
        .json(
            Method::DELETE,
            "/api/v1/namespaces/ns/kv/s",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(deleted, json!(true));
    let (status, _) = api
        .call(
            Method::GET,
            "/api/v1/namespaces/ns/kv/s",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/v1/namespaces/ns/kv/-bad",
            Body::from("1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_streams_progress_then_end() {
    let api = api().await;
    api.post_flow("id: quick\nnamespace: ns\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.3S\n").await;
    let (_, created) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/quick",
            Body::empty(),
            None,
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, body) = api
        .call(
            Method::GET,
            &format!("/api/v1/executions/{id}/follow"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.starts_with("event: progress") || text.contains("id: progress"),
        "{text}"
    );
    assert!(text.contains("event: end"), "{text}");
    assert!(
        text.trim_end().ends_with('}'),
        "the end event carries the execution: {text}"
    );
    // Once ended, only `end`.
    let (_, body) = api
        .call(
            Method::GET,
            &format!("/api/v1/executions/{id}/follow"),
            Body::empty(),
            None,
        )
        .await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("progress") && text.contains("event: end"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_named_like_an_action_can_be_executed() {
    let api = api().await;
    for name in ["pause", "kill", "file", "follow", "restart"] {
        let flow = format!(
            "id: {name}\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
        );
        let (status, _) = api.post_flow(&flow).await;
        assert_eq!(status, StatusCode::OK);
        let (status, created) = api
            .json(
                Method::POST,
                &format!("/api/v1/executions/ns/{name}?wait=true"),
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {created}");
        assert_eq!(created["state"]["current"], json!("SUCCESS"), "{name}");
    }
    // Without such a flow, `POST /executions/{id}/pause` is the action (404: unknown execution).
    let (status, _) = api
        .json(
            Method::POST,
            "/api/v1/executions/unknown/pause",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_renders_in_a_task_run_context_and_logs_follow() {
    let api = api().await;
    api.post_flow(HELLO).await;
    let (_, execution) = api
        .json(
            Method::POST,
            "/api/v1/executions/company.team/hello?wait=true",
            Body::empty(),
            None,
        )
        .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    let run = execution["taskRunList"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, result) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/eval/{run}"),
            "{{ outputs.out.value }} {{ taskrun.id == '".to_owned() + &run + "' }}",
            Some("text/plain"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result, json!({"result": "WORLD true"}));
    let (_, result) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/eval/{run}"),
            "{{ nope }}",
            None,
        )
        .await;
    assert!(result["error"].is_string(), "{result}");
    let (status, flow) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}/flow"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flow["revision"], json!(1));

    // Logs follow replays the stored lines (the execution is over: the stream stays open, so
    // read what arrives within a short time).
    let response = api
        .router
        .clone()
        .oneshot(
            Request::builder()
                .uri(format!("/api/v1/logs/{id}/follow"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let first = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut body),
    )
    .await
    .expect("a first event")
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&first);
    assert!(
        text.contains("event: progress") && text.contains("Hello world"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_lists_only_routed_endpoints() {
    let api = api().await;
    let (status, doc) = api
        .json(
            Method::GET,
            "/api/v1/main/openapi.json",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["paths"].as_object().map(|p| p.len()),
        Some(
            misc::ENDPOINTS
                .iter()
                .map(|(_, path, _)| *path)
                .collect::<std::collections::HashSet<_>>()
                .len()
                // /ping, /health and /metrics, outside /api/v1.
                + 3
        )
    );
    for path in ["/ping", "/health", "/metrics"] {
        let (status, _) = api.json(Method::GET, path, Body::empty(), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["basicAuth"]["scheme"],
        json!("basic")
    );
    assert_eq!(doc["paths"]["/ping"]["get"]["security"], json!([]));
    for (method, path, _) in misc::ENDPOINTS {
        let uri = format!("/api/v1{}", path.replace('{', "x").replace('}', ""));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        if path.ends_with("/follow") {
            // A stream that stays open: only its status is read.
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let response = api.router.clone().oneshot(request).await.unwrap();
            assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{uri}");
            continue;
        }
        let (status, body) = api.json(method.clone(), &uri, Body::empty(), None).await;
        let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
            || body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Page Not Found"));
        assert!(!unrouted, "{method} {uri} is not routed: {status} {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_actions_check_every_id_then_count() {
    let api = api().await;
    api.post_flow("id: failing\nnamespace: ns\ntasks:\n  - id: f\n    type: io.kestra.plugin.core.execution.Fail\n").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, created) = api
            .json(
                Method::POST,
                "/api/v1/executions/ns/failing?wait=true",
                Body::empty(),
                None,
            )
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let body = json!(ids).to_string();
    let (status, refused) = api
        .json(
            Method::POST,
            "/api/v1/executions/kill/by-ids",
            body.clone(),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["message"], json!("invalid bulk kill"));
    assert_eq!(refused["invalids"].as_array().map(Vec::len), Some(3));
    let (status, count) = api
        .json(
            Method::POST,
            "/api/v1/executions/restart/by-ids",
            body.clone(),
            Some("application/json"),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 3})));
    for id in &ids {
        api.wait(id, true).await;
    }
    let with_unknown = json!([ids[0], "unknown"]).to_string();
    let (status, _) = api
        .json(
            Method::DELETE,
            "/api/v1/executions/by-ids",
            with_unknown,
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, count) = api
        .json(
            Method::DELETE,
            "/api/v1/executions/by-ids",
            body,
            Some("application/json"),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 3})));
}

#[tokio::test]
async fn webhooks_start_executions_and_triggers_can_be_disabled() {
    let api = api().await;
    let flow = "id: hook\nnamespace: test\ntasks:\n  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.body.who }}\"\noutputs:\n  - id: who\n    type: STRING\n    value: \"{{ outputs.echo.value }}\"\ntriggers:\n  - id: web\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: s3cret\n    wait: true\n    returnOutputs: true\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 0 1 1 *\"\n";
    let (status, created) = api.post_flow(flow).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, outputs) = api
        .json(
            Method::POST,
            "/api/v1/main/executions/webhook/test/hook/s3cret",
            r#"{"who": "webhook"}"#,
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outputs}");
    assert_eq!(outputs, json!({"who": "webhook"}));
    let (status, error) = api
        .json(
            Method::GET,
            "/api/v1/executions/webhook/test/hook/wrong",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, error) = api
        .json(
            Method::PUT,
            "/api/v1/executions/webhook/test/nope/s3cret",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    let (status, found) = api
        .json(
            Method::GET,
            "/api/v1/triggers/search?namespace=test",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let contexts: Vec<&Value> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["triggerContext"])
        .collect();
    assert!(
        contexts.iter().any(|c| c["triggerId"] == json!("tick")
            && c["nextExecutionDate"].is_string()
            && c["disabled"] == json!(false)),
        "{found}"
    );
    let (status, updated) = api
        .json(
            Method::PUT,
            "/api/v1/triggers",
            r#"{"namespace": "test", "flowId": "hook", "triggerId": "tick", "disabled": true}"#,
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["disabled"], json!(true));
    // Deleting the flow drops its webhook.
    let (status, _) = api
        .json(
            Method::DELETE,
            "/api/v1/flows/test/hook",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = api
        .json(
            Method::POST,
            "/api/v1/executions/webhook/test/hook/s3cret",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
}

/// The webserver component runs no triggers: it answers webhooks from the stored flow, and
/// every answer (executions, outputs when waiting, 204, 404s of a wrong key, a disabled
/// trigger, a disabled or deleted flow) is the one a server running the triggers gives.
#[tokio::test]
async fn webhooks_answer_alike_without_triggers() {
    const FLOW: &str = "id: hook\nnamespace: test\ninputs:\n  - id: who\n    type: STRING\n    defaults: nobody\ntasks:\n  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.who }} {{ trigger.body.who }}\"\noutputs:\n  - id: said\n    type: STRING\n    value: \"{{ outputs.echo.value }}\"\ntriggers:\n  - id: plain\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: plain-key\n    inputs:\n      who: \"{{ trigger.parameters.name[0] }}\"\n  - id: waits\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: \"{{ flow.id }}-wait\"\n    wait: true\n    returnOutputs: true\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExpressionCondition\n        expression: \"{{ trigger.body.who == 'me' }}\"\n  - id: off\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: off-key\n    disabled: true\n  - id: paused\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: paused-key\n";
    let long_key = format!("/api/v1/executions/webhook/test/hook/{}", "k".repeat(300));
    let mut answers = Vec::new();
    for triggers in [true, false] {
        let api = api_with(ServerConfig {
            triggers,
            ..ServerConfig::default()
        })
        .await;
        let (status, created) = api.post_flow(FLOW).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let mut seen = Vec::new();
        let mut call = async |what: &str, method: Method, uri: &str, body: &str| {
            let (status, answer) = api
                .json(method, uri, body.to_owned(), Some("application/json"))
                .await;
            seen.push(json!({"call": what, "status": status.as_u16(), "answer": redact(&answer)}));
        };
        call(
            "created",
            Method::POST,
            "/api/v1/executions/webhook/test/hook/plain-key?name=ann",
            r#"{"who": "you"}"#,
        )
        .await;
        call(
            "waited, outputs",
            Method::POST,
            "/api/v1/main/executions/webhook/test/hook/hook-wait",
            r#"{"who": "me"}"#,
        )
        .await;
        call(
            "conditions false",
            Method::POST,
            "/api/v1/executions/webhook/test/hook/hook-wait",
            r#"{"who": "someone else"}"#,
        )
        .await;
        call(
            "wrong key",
            Method::GET,
            "/api/v1/executions/webhook/test/hook/nope",
            "",
        )
        .await;
        call("key too long", Method::GET, &long_key, "").await;
        call(
            "trigger disabled in the flow",
            Method::GET,
            "/api/v1/executions/webhook/test/hook/off-key",
            "",
        )
        .await;
        call(
            "unknown flow",
            Method::GET,
            "/api/v1/executions/webhook/test/nope/plain-key",
            "",
        )
        .await;
        // Disabled through the API: its state in the store (written by the scheduler).
        api.app
            .store()
            .put_trigger(&saker_storage::TriggerRecord {
                key: saker_storage::TriggerKey {
                    namespace: "test".into(),
                    flow_id: "hook".into(),
                    trigger_id: "paused".into(),
                },
                next_execution_date: None,
                disabled: true,
                context: json!({}),
                lease_owner: None,
                lease_until: None,
                updated: chrono::Utc::now(),
            })
            .await
            .unwrap();
        call(
            "trigger disabled through the API",
            Method::GET,
            "/api/v1/main/executions/webhook/test/hook/paused-key",
            "",
        )
        .await;
        let disabled = FLOW.replace("tasks:", "disabled: true\ntasks:");
        let (status, updated) = api
            .json(
                Method::PUT,
                "/api/v1/flows/test/hook",
                disabled,
                Some("application/x-yaml"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        call(
            "flow disabled",
            Method::POST,
            "/api/v1/executions/webhook/test/hook/plain-key",
            "",
        )
        .await;
        let (status, _) = api
            .json(
                Method::DELETE,
                "/api/v1/flows/test/hook",
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        call(
            "flow deleted",
            Method::POST,
            "/api/v1/executions/webhook/test/hook/plain-key",
            "",
        )
        .await;
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "with and without triggers");
    insta::assert_json_snapshot!("webhook_answers", answers[0]);
}

/// Without triggers (the webserver component), the trigger operations are checked against the
/// stored flow and answer as a server running the triggers does: backfills set, refused twice
/// and on a trigger that is not a Schedule, paused, unpaused and deleted, `disabled` (one and
/// bulk), a state deleted and made again from the flow.
#[tokio::test]
async fn trigger_operations_answer_alike_without_triggers() {
    const FLOW: &str = "id: timed\nnamespace: test\ntasks:\n  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n    format: hi\ntriggers:\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 0 1 1 *\"\n  - id: web\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n";
    let mut answers = Vec::new();
    for triggers in [true, false] {
        let api = api_with(ServerConfig {
            triggers,
            ..ServerConfig::default()
        })
        .await;
        let (status, created) = api.post_flow(FLOW).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        if !triggers {
            // The scheduler component makes the trigger states when it hears of the flow.
            let (_, services) = api.app.service.runtime().expressions();
            let runner = saker_scheduler::Scheduler::new(
                api.app.store().clone(),
                Arc::new(triggers::Launcher {
                    app: Arc::downgrade(&api.app),
                }),
                Arc::new(saker_scheduler::SystemClock),
                services.clone(),
                SchedulerConfig {
                    owner: "scheduler".into(),
                    ..SchedulerConfig::default()
                },
            );
            let flow = api.app.flow("test", "timed", None).await.unwrap();
            runner.flow_changed(flow).await.unwrap();
        }
        let mut seen = Vec::new();
        let mut call = async |what: &str, method: Method, uri: &str, body: Value| {
            let (status, answer) = api
                .json(method, uri, body.to_string(), Some("application/json"))
                .await;
            seen.push(json!({"call": what, "status": status.as_u16(), "answer": redact(&answer)}));
        };
        let tick = json!({"namespace": "test", "flowId": "timed", "triggerId": "tick"});
        let with = |extra: Value| {
            let mut body = tick.clone();
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        let backfill = json!({"backfill": {"start": "2020-01-01T00:00:00Z", "labels": [{"key": "a", "value": "b"}]}});
        call(
            "backfill",
            Method::PUT,
            "/api/v1/triggers",
            with(backfill.clone()),
        )
        .await;
        call(
            "again",
            Method::PUT,
            "/api/v1/triggers",
            with(backfill.clone()),
        )
        .await;
        let mut web = with(backfill.clone());
        web["triggerId"] = json!("web");
        call("webhook", Method::PUT, "/api/v1/triggers", web).await;
        call(
            "pause",
            Method::PUT,
            "/api/v1/triggers/backfill/pause",
            tick.clone(),
        )
        .await;
        call(
            "unpause",
            Method::PUT,
            "/api/v1/triggers/backfill/unpause",
            tick.clone(),
        )
        .await;
        call(
            "delete",
            Method::POST,
            "/api/v1/triggers/backfill/delete",
            tick.clone(),
        )
        .await;
        call(
            "none left",
            Method::POST,
            "/api/v1/triggers/backfill/delete",
            tick.clone(),
        )
        .await;
        call(
            "disable",
            Method::PUT,
            "/api/v1/triggers",
            with(json!({"disabled": true})),
        )
        .await;
        call(
            "enable all",
            Method::POST,
            "/api/v1/triggers/set-disabled/by-query?namespace=test&disabled=false",
            Value::Null,
        )
        .await;
        call(
            "forget",
            Method::DELETE,
            "/api/v1/triggers/test/timed/tick",
            Value::Null,
        )
        .await;
        call(
            "fresh",
            Method::GET,
            "/api/v1/triggers/search?namespace=test",
            Value::Null,
        )
        .await;
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "with and without triggers");
    let status = |i: usize| answers[0][i]["status"].as_u64().unwrap();
    assert_eq!(
        (0..10).map(status).collect::<Vec<_>>(),
        [200, 422, 422, 200, 200, 200, 422, 200, 200, 204]
    );
    assert_eq!(
        answers[0][0]["answer"]["backfill"]["labels"],
        json!([{"key": "a", "value": "b"}])
    );
    assert_eq!(answers[0][3]["answer"]["backfill"]["paused"], json!(true));
    assert_eq!(answers[0][8]["answer"], json!({"count": 2}));
}

mod actions;
mod flows_io;
mod namespace_io;
mod queue;
mod triggers_bulk;
