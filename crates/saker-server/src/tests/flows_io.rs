//! Flows export/import (zips of YAML sources) and the flows bulk forms.

use super::*;

fn flow(namespace: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"
    )
}

/// A multipart body with one file part of raw bytes.
fn file_part(name: &str, filename: &str, content: &[u8]) -> (Body, String) {
    let boundary = "XBOUNDARYX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        Body::from(body),
        format!("multipart/form-data; boundary={boundary}"),
    )
}

fn zip_names(bytes: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = crate::zip_io::read(bytes, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
}

impl Api {
    async fn flow_disabled(&self, namespace: &str, id: &str) -> Value {
        let (status, flow) = self
            .json(
                Method::GET,
                &format!("/api/v1/flows/{namespace}/{id}"),
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{flow}");
        flow["disabled"].clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_export_as_zips_named_like_kestra() {
    let api = api().await;
    for (ns, id) in [("team", "a"), ("team.sub", "b"), ("other", "c")] {
        assert_eq!(api.post_flow(&flow(ns, id)).await.0, StatusCode::OK);
    }
    let (status, bytes) = api
        .call(
            Method::GET,
            "/api/v1/flows/export/by-query?namespace=team",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(zip_names(&bytes), ["team-a.yml", "team.sub-b.yml"]);
    let files = crate::zip_io::read(&bytes, usize::MAX).unwrap();
    assert!(files.iter().any(|(_, c)| c == flow("team", "a").as_bytes()));

    let ids = json!([{"namespace": "other", "id": "c"}, {"namespace": "team", "id": "a"}]);
    let (status, bytes) = api
        .call(
            Method::POST,
            "/api/v1/main/flows/export/by-ids",
            Body::from(ids.to_string()),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(zip_names(&bytes), ["other.c.yml", "team.a.yml"]);

    let (status, error) = api
        .json(
            Method::POST,
            "/api/v1/flows/export/by-ids",
            json!([{"namespace": "team", "id": "nope"}]).to_string(),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, _) = api
        .json(
            Method::POST,
            "/api/v1/flows/export/by-ids",
            "{\"not\": \"a list\"}",
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_import_a_zip_or_a_yaml_and_list_what_failed() {
    let api = api().await;
    // Round trip: export two flows, delete them, import the zip back (plus a broken entry and a
    // file that is not YAML, skipped).
    api.post_flow(&flow("team", "a")).await;
    api.post_flow(&flow("team", "b")).await;
    let archive = crate::zip_io::write(&[
        ("team.a.yml".into(), flow("team", "a").into_bytes()),
        ("dir/team.b.yaml".into(), flow("team", "b").into_bytes()),
        ("broken.yml".into(), b"id: [oops".to_vec()),
        ("README.md".into(), b"# not a flow".to_vec()),
    ])
    .unwrap();
    let (status, deleted) = api
        .json(
            Method::DELETE,
            "/api/v1/flows/delete/by-query?namespace=team",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!((status, deleted), (StatusCode::OK, json!({"count": 2})));
    let (body, ctype) = file_part("fileUpload", "flows.zip", &archive);
    let (status, failed) = api
        .json(Method::POST, "/api/v1/flows/import", body, Some(&ctype))
        .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    insta::assert_json_snapshot!("flows_import_failed", failed);
    assert_eq!(api.flow_disabled("team", "a").await, json!(false));
    assert_eq!(api.flow_disabled("team", "b").await, json!(false));

    // A multi-document YAML: failures are named by index; an existing flow is updated.
    let yaml = format!(
        "{}---\nid: bad\n---\n{}",
        flow("team", "c"),
        flow("team", "a").replace("format: x", "format: y")
    );
    let (body, ctype) = file_part("fileUpload", "flows.yaml", yaml.as_bytes());
    let (status, failed) = api
        .json(Method::POST, "/api/v1/flows/import", body, Some(&ctype))
        .await;
    assert_eq!((status, failed), (StatusCode::OK, json!(["1"])));
    let (_, a) = api
        .json(
            Method::GET,
            "/api/v1/flows/team/a?source=true",
            Body::empty(),
            None,
        )
        .await;
    assert!(a["source"].as_str().unwrap().contains("format: y"), "{a}");
    assert_eq!(api.flow_disabled("team", "c").await, json!(false));

    // Refused: another type of file, a traversal entry, an archive inflating past the limit.
    let (body, ctype) = file_part("fileUpload", "flows.txt", b"id: x");
    let (status, error) = api
        .json(Method::POST, "/api/v1/flows/import", body, Some(&ctype))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let evil =
        crate::zip_io::write(&[("../evil.yml".into(), flow("team", "e").into_bytes())]).unwrap();
    let (body, ctype) = file_part("fileUpload", "flows.zip", &evil);
    let (status, error) = api
        .json(Method::POST, "/api/v1/flows/import", body, Some(&ctype))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    insta::assert_json_snapshot!("flows_import_traversal", error);
    let small = api_with(ServerConfig {
        max_body_bytes: 4096,
        ..ServerConfig::default()
    })
    .await;
    let bomb = crate::zip_io::write(&[("big.yml".into(), vec![b'#'; 100_000])]).unwrap();
    assert!(bomb.len() < 4000, "{}", bomb.len());
    let (body, ctype) = file_part("fileUpload", "flows.zip", &bomb);
    let (status, error) = small
        .json(Method::POST, "/api/v1/flows/import", body, Some(&ctype))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    let (body, ctype) = file_part("other", "flows.zip", &archive);
    let (status, _) = api
        .json(Method::POST, "/api/v1/flows/import", body, Some(&ctype))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_bulk_disable_enable_and_delete() {
    let api = api().await;
    for (ns, id) in [("team", "a"), ("team", "b"), ("other", "c")] {
        api.post_flow(&flow(ns, id)).await;
    }
    let ids = json!([{"namespace": "team", "id": "a"}, {"namespace": "other", "id": "c"}]);
    let call = |method: Method, uri: &'static str, body: String| {
        let api = &api;
        async move { api.json(method, uri, body, Some("application/json")).await }
    };
    let disable = call(
        Method::POST,
        "/api/v1/flows/disable/by-ids",
        ids.to_string(),
    )
    .await;
    assert_eq!(disable, (StatusCode::OK, json!({"count": 2})));
    assert_eq!(api.flow_disabled("team", "a").await, json!(true));
    assert_eq!(api.flow_disabled("team", "b").await, json!(false));
    // Only flows whose state changes count.
    let again = call(
        Method::POST,
        "/api/v1/flows/disable/by-query?namespace=team",
        String::new(),
    )
    .await;
    assert_eq!(again, (StatusCode::OK, json!({"count": 1})));
    let enable = call(
        Method::POST,
        "/api/v1/flows/enable/by-query?q=team",
        String::new(),
    )
    .await;
    assert_eq!(enable, (StatusCode::OK, json!({"count": 2})));
    assert_eq!(api.flow_disabled("team", "a").await, json!(false));
    let enable = call(Method::POST, "/api/v1/flows/enable/by-ids", ids.to_string()).await;
    assert_eq!(enable, (StatusCode::OK, json!({"count": 1})));

    // An unknown id: 404 and nothing deleted.
    let unknown = json!([{"namespace": "team", "id": "a"}, {"namespace": "team", "id": "zz"}]);
    let (status, _) = call(
        Method::DELETE,
        "/api/v1/flows/delete/by-ids",
        unknown.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.flow_disabled("team", "a").await, json!(false));
    let deleted = call(
        Method::DELETE,
        "/api/v1/flows/delete/by-ids",
        ids.to_string(),
    )
    .await;
    assert_eq!(deleted, (StatusCode::OK, json!({"count": 2})));
    let (status, _) = api
        .json(Method::GET, "/api/v1/flows/team/a", Body::empty(), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        Method::POST,
        "/api/v1/flows/disable/by-ids",
        "[{\"id\": \"a\"}]".into(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
