//! Unqueue and force run of executions waiting for their flow's concurrency limit.

use super::*;

/// One execution at a time, the others queued; each pauses until resumed.
const LIMITED: &str = "id: limited\nnamespace: ns\nconcurrency:\n  limit: 1\n  behavior: QUEUE\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n  - id: done\n    type: io.kestra.plugin.core.debug.Return\n    format: done\n";

impl Api {
    async fn start_limited(&self) -> (String, String) {
        let (status, created) = self
            .json(
                Method::POST,
                "/api/v1/executions/ns/limited",
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        // Queued at once, or running until its Pause.
        let execution = self
            .wait_until(&id, |state| state == "QUEUED" || state == "PAUSED")
            .await;
        (
            id,
            execution["state"]["current"].as_str().unwrap().to_owned(),
        )
    }

    async fn post_action(&self, uri: &str) -> (StatusCode, Value) {
        self.json(Method::POST, uri, Body::empty(), None).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unqueue_starts_or_ends_a_queued_execution() {
    let api = api().await;
    assert_eq!(api.post_flow(LIMITED).await.0, StatusCode::OK);
    let (first, state) = api.start_limited().await;
    assert_eq!(state, "PAUSED");
    let (second, state) = api.start_limited().await;
    assert_eq!(state, "QUEUED");

    // Refusals: unknown, not queued, a target Kestra does not allow, an unknown state.
    let (status, error) = api.post_action("/api/v1/executions/nope/unqueue").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, error) = api
        .post_action(&format!("/api/v1/executions/{first}/unqueue"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let error: Value = serde_json::from_str(&error.to_string().replace(&first, "[id]")).unwrap();
    insta::assert_json_snapshot!("unqueue_not_queued", error);
    for bad in ["SUCCESS", "nonsense"] {
        let (status, error) = api
            .post_action(&format!("/api/v1/executions/{second}/unqueue?state={bad}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {error}");
    }

    // Into CANCELLED: it ends without any task run, and the queue is empty again.
    let (status, cancelled) = api
        .post_action(&format!(
            "/api/v1/main/executions/{second}/unqueue?state=CANCELLED"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["state"]["current"], "CANCELLED");
    assert_eq!(api.wait(&second, false).await["taskRunList"], Value::Null);

    // Into RUNNING (the default): it starts though the first still holds the only slot.
    let (third, state) = api.start_limited().await;
    assert_eq!(state, "QUEUED");
    let (status, running) = api
        .post_action(&format!("/api/v1/executions/{third}/unqueue"))
        .await;
    assert_eq!(status, StatusCode::OK, "{running}");
    insta::assert_json_snapshot!("unqueue_running", redact(&running));
    assert_eq!(api.wait(&third, false).await["state"]["current"], "PAUSED");
    assert_eq!(api.wait(&first, false).await["state"]["current"], "PAUSED");
}

#[tokio::test(flavor = "multi_thread")]
async fn force_run_resumes_paused_and_starts_queued_executions() {
    let api = api().await;
    api.post_flow(LIMITED).await;
    let (first, _) = api.start_limited().await;
    let (second, state) = api.start_limited().await;
    assert_eq!(state, "QUEUED");

    let (status, error) = api.post_action("/api/v1/executions/nope/force-run").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, queued) = api
        .post_action(&format!("/api/v1/executions/{second}/force-run"))
        .await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    assert_eq!(queued["state"]["current"], "RUNNING");
    assert_eq!(api.wait(&second, false).await["state"]["current"], "PAUSED");

    let (status, paused) = api
        .post_action(&format!("/api/v1/executions/{first}/force-run"))
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    let ended = api.wait(&first, true).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");

    let (status, error) = api
        .post_action(&format!("/api/v1/executions/{first}/force-run"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unqueue_and_force_run_by_ids_check_every_id_then_count() {
    let api = api().await;
    api.post_flow(LIMITED).await;
    let (first, _) = api.start_limited().await;
    let (second, _) = api.start_limited().await;
    let (third, _) = api.start_limited().await;

    let ids = |ids: &[&str]| json!(ids).to_string();
    let (status, refused) = api
        .json(
            Method::POST,
            "/api/v1/executions/unqueue/by-ids",
            ids(&[&second, &first]),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["message"], "invalid bulk unqueue");
    assert_eq!(refused["invalids"][0]["invalidValue"], json!(first));

    let (status, count) = api
        .json(
            Method::POST,
            "/api/v1/executions/unqueue/by-ids?state=FAILED",
            ids(&[&second]),
            Some("application/json"),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    assert_eq!(api.wait(&second, false).await["state"]["current"], "FAILED");

    let (status, count) = api
        .json(
            Method::POST,
            "/api/v1/executions/force-run/by-query?namespace=ns&flowId=limited&state=QUEUED",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    assert_eq!(api.wait(&third, false).await["state"]["current"], "PAUSED");

    let (status, refused) = api
        .json(
            Method::POST,
            "/api/v1/executions/force-run/by-ids",
            ids(&[&second]),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["message"], "invalid bulk force run");
}
