//! Namespace files: the zip export and folders created empty.

use super::*;

const BASE: &str = "/api/v1/namespaces/company.team/files";

impl Api {
    async fn upload(&self, path: &str, content: &str) {
        let (body, ctype) = multipart(&[("fileContent", Some("x"), content)]);
        let (status, error) = self
            .json(
                Method::POST,
                &format!("{BASE}?path={path}"),
                body,
                Some(&ctype),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{error}");
    }

    async fn names(&self, dir: &str) -> Value {
        let (status, listing) = self
            .json(
                Method::GET,
                &format!("{BASE}/directory?path={dir}"),
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{listing}");
        Value::Array(
            listing
                .as_array()
                .unwrap()
                .iter()
                .map(|e| json!([e["fileName"], e["type"]]))
                .collect(),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_files_and_flows_export_as_a_zip() {
    let api = api().await;
    api.upload("/scripts/a.py", "print(1)").await;
    api.upload("/readme.md", "# hi").await;
    let flow = "id: hello\nnamespace: company.team\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n";
    api.post_flow(flow).await;
    api.post_flow(&flow.replace("company.team", "company.team.child"))
        .await;
    let (status, created) = api
        .call(
            Method::POST,
            &format!("{BASE}/directory?path=/empty"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created:?}");
    let request = Request::builder()
        .uri(format!("{BASE}/export"))
        .body(Body::empty())
        .unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"company.team_files.zip\""
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut files = crate::zip_io::read(&bytes, usize::MAX).unwrap();
    files.sort();
    assert_eq!(
        files,
        [
            ("_flows/hello.yml".to_owned(), flow.as_bytes().to_vec()),
            ("readme.md".to_owned(), b"# hi".to_vec()),
            ("scripts/a.py".to_owned(), b"print(1)".to_vec()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_are_created_empty_listed_moved_and_deleted() {
    let api = api().await;
    api.upload("/readme.md", "# hi").await;
    let create = |path: &'static str| {
        let api = &api;
        async move {
            api.json(
                Method::POST,
                &format!("{BASE}/directory?path={path}"),
                Body::empty(),
                None,
            )
            .await
        }
    };
    assert_eq!(create("/a/b").await.0, StatusCode::OK);
    // Again: nothing changes. The root: nothing to do.
    assert_eq!(create("/a/b").await.0, StatusCode::OK);
    assert_eq!(create("/").await.0, StatusCode::OK);
    assert_eq!(
        api.names("/").await,
        json!([["a", "Directory"], ["readme.md", "File"]])
    );
    assert_eq!(api.names("/a").await, json!([["b", "Directory"]]));
    assert_eq!(api.names("/a/b").await, json!([]));
    let (_, stats) = api
        .json(
            Method::GET,
            &format!("{BASE}/stats?path=/a/b"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(stats["type"], "Directory", "{stats}");

    // Refused: a file in the way (409), a path leaving the namespace (422).
    let (status, error) = create("/readme.md/x").await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    insta::assert_json_snapshot!("directory_over_a_file", error);
    let (status, error) = create("/a/../../x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    insta::assert_json_snapshot!("directory_traversal", error);
    let (status, _) = create("/a/.saker-folder").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Moved with its parent, then deleted.
    let (status, _) = api
        .json(
            Method::PUT,
            &format!("{BASE}?from=/a&to=/c"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.names("/").await,
        json!([["c", "Directory"], ["readme.md", "File"]])
    );
    assert_eq!(api.names("/c").await, json!([["b", "Directory"]]));
    let (status, _) = api
        .json(
            Method::DELETE,
            &format!("{BASE}?path=/c"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.names("/").await, json!([["readme.md", "File"]]));
    let (status, _) = api
        .json(
            Method::GET,
            &format!("{BASE}/directory?path=/c"),
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
