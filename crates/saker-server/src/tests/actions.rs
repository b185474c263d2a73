//! Replay, change of a task run's state or of an execution's status, the bulk forms and the
//! file preview.

use super::*;

const FLAKY: &str = "id: flaky\nnamespace: ns\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ taskrun.attemptsCount < 1 }}\"\n  - id: c\n    type: io.kestra.plugin.core.debug.Return\n    format: c\n";

impl Api {
    async fn failed_execution(&self) -> Value {
        let (status, created) = self
            .json(
                Method::POST,
                "/api/v1/executions/ns/flaky?wait=true",
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        assert_eq!(created["state"]["current"], "FAILED", "{created}");
        created
    }

    async fn post_json(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.json(
            Method::POST,
            uri,
            body.to_string(),
            Some("application/json"),
        )
        .await
    }
}

/// [`redact`], with the given ids (any length) named.
fn scrub(value: &Value, ids: &[(&str, &str)]) -> Value {
    let mut text = value.to_string();
    for (id, name) in ids {
        text = text.replace(id, name);
    }
    redact(&serde_json::from_str(&text).unwrap())
}

fn run_id(execution: &Value, task: &str) -> String {
    execution["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["taskId"] == task))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("no run of {task} in {execution}"))
        .to_owned()
}

fn tasks(execution: &Value) -> Vec<(String, String)> {
    execution["taskRunList"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|r| {
                    (
                        r["taskId"].as_str().unwrap_or_default().to_owned(),
                        r["state"]["current"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_creates_a_new_execution_from_a_task_run() {
    let api = api().await;
    api.post_flow(FLAKY).await;
    let failed = api.failed_execution().await;
    let id = failed["id"].as_str().unwrap();
    let b = run_id(&failed, "b");
    let (status, replay) = api
        .json(
            Method::POST,
            &format!("/api/v1/main/executions/{id}/replay?taskRunId={b}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    let new_id = replay["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    assert_eq!(replay["parentId"], json!(id));
    assert_eq!(replay["originalId"], json!(id));
    assert_eq!(replay["metadata"]["attemptNumber"], json!(2));
    insta::assert_json_snapshot!("replay_created", scrub(&replay, &[(id, "[old]")]));
    let ended = api.wait(new_id, false).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    assert_eq!(
        tasks(&ended),
        [("a", "SUCCESS"), ("b", "SUCCESS"), ("c", "SUCCESS")].map(|(t, s)| (t.into(), s.into()))
    );
    // The replayed `a` is the old run's copy, not a new attempt.
    assert_ne!(run_id(&ended, "a"), run_id(&failed, "a"));
    // The old execution is untouched.
    let (_, old) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(old["state"]["current"], "FAILED");

    // Without a task run: everything runs again (and fails again).
    let (status, fresh) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/replay"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ended = api.wait(fresh["id"].as_str().unwrap(), false).await;
    assert_eq!(ended["state"]["current"], "FAILED");

    // Errors: unknown execution, task run or revision (404); a running execution (409).
    for (uri, expected) in [
        (
            "/api/v1/executions/nope/replay".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/executions/{id}/replay?taskRunId=nope"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/executions/{id}/replay?revision=9"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/executions/{id}/replay?revision=x"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, error) = api.json(Method::POST, &uri, Body::empty(), None).await;
        assert_eq!(status, expected, "{uri}: {error}");
        assert!(error["message"].is_string(), "{error}");
    }
    let (_, error) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/replay?taskRunId=nope"),
            Body::empty(),
            None,
        )
        .await;
    insta::assert_json_snapshot!("replay_unknown_task_run", scrub(&error, &[(id, "[old]")]));
}

#[tokio::test(flavor = "multi_thread")]
async fn change_state_restarts_from_the_task_run() {
    let api = api().await;
    api.post_flow("id: strict\nnamespace: ns\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.execution.Fail\n  - id: c\n    type: io.kestra.plugin.core.debug.Return\n    format: c\n").await;
    let (_, failed) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/strict?wait=true",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(failed["state"]["current"], "FAILED");
    let id = failed["id"].as_str().unwrap();
    let a = run_id(&failed, "a");
    let uri = format!("/api/v1/executions/{id}/state");
    // Refusals first: unknown task run (404), non-final state and malformed body (422).
    let (status, _) = api
        .post_json(&uri, json!({"taskRunId": "nope", "state": "SUCCESS"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = api
        .post_json(&uri, json!({"taskRunId": a, "state": "RUNNING"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, _) = api.post_json(&uri, json!({"state": "SUCCESS"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .post_json(&uri, json!({"taskRunId": a, "state": "NOPE"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, changed) = api
        .post_json(&uri, json!({"taskRunId": a, "state": "SUCCESS"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["id"], json!(id));
    let ended = api.wait(id, false).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    assert_eq!(
        tasks(&ended),
        [("a", "SUCCESS"), ("c", "SUCCESS")].map(|(t, s)| (t.into(), s.into()))
    );

    // A running execution cannot be changed (409).
    api.post_flow("id: slow\nnamespace: ns\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT10M\n").await;
    let (_, running) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/slow",
            Body::empty(),
            None,
        )
        .await;
    let running_id = running["id"].as_str().unwrap();
    let (status, error) = api
        .post_json(
            &format!("/api/v1/executions/{running_id}/state"),
            json!({"taskRunId": "whatever", "state": "SUCCESS"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    insta::assert_json_snapshot!(
        "change_state_running",
        scrub(&error, &[(running_id, "[id]")])
    );
    let (status, _) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{running_id}/change-status?status=SUCCESS"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    api.json(
        Method::DELETE,
        &format!("/api/v1/executions/{running_id}/kill"),
        Body::empty(),
        None,
    )
    .await;

    // change-status: a terminated execution takes another final state.
    let (status, _) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/change-status?status=RUNNING"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, changed) = api
        .json(
            Method::POST,
            &format!("/api/v1/executions/{id}/change-status?status=WARNING"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["state"]["current"], "WARNING");
    let (_, read) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(read["state"]["current"], "WARNING");
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_actions_by_ids_and_by_query() {
    let api = api().await;
    api.post_flow(FLAKY).await;
    let first = api.failed_execution().await;
    let second = api.failed_execution().await;
    let ids = json!([first["id"], second["id"]]);
    // Kestra's bulk kill is a DELETE; finished executions are refused.
    let (status, refused) = api
        .json(
            Method::DELETE,
            "/api/v1/executions/kill/by-ids",
            ids.to_string(),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["message"], "invalid bulk kill");
    let (status, refused) = api
        .post_json("/api/v1/executions/pause/by-ids", ids.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["message"], "invalid bulk pause");
    let (status, refused) = api
        .post_json("/api/v1/executions/resume/by-ids", ids.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let names = [
        (first["id"].as_str().unwrap(), "[first]"),
        (second["id"].as_str().unwrap(), "[second]"),
    ];
    insta::assert_json_snapshot!("bulk_resume_refused", scrub(&refused, &names));
    let (status, error) = api
        .post_json("/api/v1/executions/nope/by-ids", ids.clone())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, _) = api
        .post_json("/api/v1/executions/change-status/by-ids", ids.clone())
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "newStatus is required"
    );

    // Replay every FAILED execution of the namespace: two new executions.
    let (status, count) = api
        .json(
            Method::POST,
            "/api/v1/executions/replay/by-query?namespace=ns&state=FAILED",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 2})));
    let (_, page) = api
        .json(
            Method::GET,
            "/api/v1/executions/search?namespace=ns",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(page["total"], json!(4));
    for execution in page["results"].as_array().unwrap() {
        api.wait(execution["id"].as_str().unwrap(), false).await;
    }
    let (status, count) = api
        .post_json(
            "/api/v1/executions/change-status/by-ids?newStatus=SUCCESS",
            ids.clone(),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 2})));
    let (_, page) = api
        .json(
            Method::GET,
            "/api/v1/executions/search?namespace=ns&state=SUCCESS",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(page["total"], json!(2));
    let (status, count) = api
        .post_json(
            "/api/v1/executions/labels/by-ids",
            json!({"executionsId": ids, "executionLabels": [{"key": "team", "value": "data"}]}),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 2})));
    let (status, count) = api
        .post_json(
            "/api/v1/executions/labels/by-query?namespace=ns&labels=team:data",
            json!([{"key": "team", "value": "ops"}]),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 2})));
    let (_, page) = api
        .json(
            Method::GET,
            "/api/v1/executions/search?labels=team:ops",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(page["total"], json!(2));
    let (status, _) = api
        .post_json(
            "/api/v1/executions/labels/by-ids",
            json!({"executionsId": ids, "executionLabels": [{"key": "system.x", "value": "1"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, count) = api
        .json(
            Method::DELETE,
            "/api/v1/executions/by-query?namespace=ns",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 4})));
    let (_, page) = api
        .json(
            Method::GET,
            "/api/v1/executions/search?namespace=ns",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(page["total"], json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn file_preview_renders_the_first_rows() {
    let api = api().await;
    api.post_flow("id: writer\nnamespace: ns\ntasks:\n  - id: csv\n    type: io.kestra.plugin.core.storage.Write\n    content: \"a,b\\n1,2\\n3,4\\n\"\n    extension: .csv\n").await;
    let (_, execution) = api
        .json(
            Method::POST,
            "/api/v1/executions/ns/writer?wait=true",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let id = execution["id"].as_str().unwrap();
    let uri = execution["taskRunList"][0]["outputs"]["uri"]
        .as_str()
        .unwrap();
    let encoded: String = form_urlencoded::byte_serialize(uri.as_bytes()).collect();
    let (status, preview) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}/file/preview?path={encoded}&maxRows=2"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    insta::assert_json_snapshot!("file_preview", preview);
    let (status, _) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}/file/preview?path={encoded}&encoding=EBCDIC"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let traversal: String =
        form_urlencoded::byte_serialize(format!("{uri}/../../../../secret").as_bytes()).collect();
    let (status, _) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}/file/preview?path={traversal}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing: String =
        form_urlencoded::byte_serialize(uri.replace(".csv", "-missing.csv").as_bytes()).collect();
    let (status, _) = api
        .json(
            Method::GET,
            &format!("/api/v1/executions/{id}/file/preview?path={missing}"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_files_are_uploaded_listed_moved_and_deleted() {
    let api = api().await;
    let base = "/api/v1/namespaces/company.team/files";
    for (path, content) in [("/scripts/a.py", "print(1)"), ("/readme.md", "# hi")] {
        let (body, ctype) = multipart(&[("fileContent", Some("x"), content)]);
        let (status, error) = api
            .json(
                Method::POST,
                &format!("{base}?path={path}"),
                body,
                Some(&ctype),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{error}");
    }
    let (status, bytes) = api
        .call(
            Method::GET,
            &format!("{base}?path=/scripts/a.py"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(
        (status, bytes.as_slice()),
        (StatusCode::OK, b"print(1)".as_slice())
    );
    let (status, listing) = api
        .json(
            Method::GET,
            &format!("{base}/directory?path=/"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listing = shapes(&listing);
    insta::assert_json_snapshot!("namespace_files_root", scrub_times(&listing));
    let (_, stats) = api
        .json(
            Method::GET,
            &format!("{base}/stats?path=/scripts/a.py"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(
        (stats["type"].clone(), stats["size"].clone()),
        (json!("File"), json!(8))
    );
    let (_, stats) = api
        .json(
            Method::GET,
            &format!("{base}/stats?path=/scripts"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(stats["type"], "Directory");
    let (_, found) = api
        .json(
            Method::GET,
            &format!("{base}/search?q=A.P"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(found, json!(["/scripts/a.py"]));
    // Move a folder: its files follow.
    let (status, _) = api
        .json(
            Method::PUT,
            &format!("{base}?from=/scripts&to=/bin"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call(
            Method::GET,
            &format!("{base}?path=/bin/a.py"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call(
            Method::GET,
            &format!("{base}?path=/scripts/a.py"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .json(
            Method::PUT,
            &format!("{base}?from=/bin&to=/readme.md"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Path traversal is refused everywhere (422); unknown paths are 404.
    for (method, uri) in [
        (Method::GET, format!("{base}?path=../../secret")),
        (Method::GET, format!("{base}/directory?path=a/../..")),
        (Method::GET, format!("{base}/stats?path=%2E%2E/x")),
        (Method::DELETE, format!("{base}?path=../x")),
        (Method::PUT, format!("{base}?from=/bin&to=../../x")),
    ] {
        let (status, error) = api.json(method.clone(), &uri, Body::empty(), None).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri}: {error}"
        );
    }
    let (body, ctype) = multipart(&[("fileContent", Some("x"), "evil")]);
    let (status, _) = api
        .json(
            Method::POST,
            &format!("{base}?path=../evil"),
            body,
            Some(&ctype),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .json(
            Method::GET,
            &format!("{base}/stats?path=/nope"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .json(
            Method::DELETE,
            &format!("{base}?path=/bin"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api
        .json(
            Method::DELETE,
            &format!("{base}?path=/bin"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listing) = api
        .json(
            Method::GET,
            &format!("{base}/directory"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(listing.as_array().map(Vec::len), Some(1));
}

/// Millisecond times vary: zeroed.
fn scrub_times(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if k.ends_with("Time") {
                        (k.clone(), json!("[time]"))
                    } else {
                        (k.clone(), scrub_times(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(scrub_times).collect()),
        other => other.clone(),
    }
}
