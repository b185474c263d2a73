//! `io.kestra.plugin.core.http.Request`: sends one HTTP request and returns its status, headers and body.

use crate::shared::http::{body_text, headers_output, http_props, send};
use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Request`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: http_request;
        /// Store the body encrypted in the outputs (default false).
        pub encrypt_body: Option<Property<bool>>,
    }
}

/// Runs `http.Request`: the body is kept as text in the outputs (Kestra does not parse it; use
/// `fromJson`), capped at `options.maxContentLength`.
pub struct Request;

impl RunnableTask for Request {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let props = http_props!(ctx, params)?;
        if ctx.render_opt(&params.encrypt_body)? == Some(true) {
            return Err(TaskError::Failed(
                "encryptBody is not supported: tasks have no access to the encryption key; remove it or mask the body with secrets"
                    .to_owned(),
            ));
        }
        let response = send(ctx, &props).await?;
        let code = response.status().as_u16();
        let headers = headers_output(response.headers());
        let body = body_text(response, &props.options).await?;
        let mut outcome = TaskOutcome::empty()
            .with("uri", props.uri.clone())
            .with("code", code)
            .with("headers", headers)
            .with("body", body);
        if let Some(form) = props.form_data {
            outcome = outcome.with("formData", Value::Object(form));
        }
        Ok(outcome)
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.http.Request",
    aliases: [
        "io.kestra.plugin.fs.http.Request",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Send an HTTP request.",
    slots: [],
    params: Params,
    runnable: Request,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid, env, run};
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{any, get};
    use serde_json::json;

    /// A local server: `/echo` returns what it received as JSON, `/status/{code}` answers that
    /// code, `/slow` waits 5 s.
    async fn server() -> String {
        async fn echo(method: axum::http::Method, headers: HeaderMap, body: String) -> String {
            let auth = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            let content_type = headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let custom = headers.get("x-custom").map(|v| v.to_str().unwrap().to_owned());
            json!({"method": method.as_str(), "auth": auth, "contentType": content_type, "custom": custom, "body": body})
                .to_string()
        }
        let app = Router::new()
            .route("/echo", any(echo))
            .route(
                "/status/{code}",
                get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    (StatusCode::from_u16(code).unwrap(), "oops")
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/latin1",
                get(|| async {
                    ([("content-type", "text/plain; charset=ISO-8859-1")], vec![0x63u8, 0x61, 0x66, 0xe9])
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    const TY: &str = "io.kestra.plugin.core.http.Request";

    #[tokio::test]
    async fn sends_method_headers_body_and_auth() {
        let base = server().await;
        let env = env();
        let out = run(&env, TY, json!({
            "uri": format!("{base}/echo"),
            "method": "post",
            "headers": {"X-Custom": "{{ 1 + 1 }}"},
            "body": "{\"a\": 1}",
            "options": {"auth": {"type": "BEARER", "token": "t0k"}}
        }), json!({}))
        .await
        .unwrap();
        assert_eq!(out.outputs["code"], json!(200));
        assert_eq!(out.outputs["uri"], json!(format!("{base}/echo")));
        assert_eq!(out.outputs["headers"]["content-type"], json!(["text/plain; charset=utf-8"]));
        // The body stays a string, as in Kestra.
        let echoed: serde_json::Value = serde_json::from_str(out.outputs["body"].as_str().unwrap()).unwrap();
        assert_eq!(echoed, json!({"method": "POST", "auth": "Bearer t0k", "contentType": "application/json", "custom": "2", "body": "{\"a\": 1}"}));

        let out = run(&env, TY, json!({
            "uri": format!("{base}/echo"), "method": "POST",
            "formData": {"user": "John Doe", "n": 3},
            "options": {"basicAuthUser": "admin", "basicAuthPassword": "pw"}
        }), json!({}))
        .await
        .unwrap();
        let echoed: serde_json::Value = serde_json::from_str(out.outputs["body"].as_str().unwrap()).unwrap();
        assert_eq!(echoed["body"], json!("user=John+Doe&n=3"));
        assert_eq!(echoed["contentType"], json!("application/x-www-form-urlencoded"));
        assert_eq!(echoed["auth"], json!("Basic YWRtaW46cHc="));
        assert_eq!(out.outputs["formData"], json!({"user": "John Doe", "n": 3}));

        let out = run(&env, TY, json!({
            "uri": format!("{base}/echo"), "method": "POST", "contentType": "multipart/form-data",
            "formData": {"user": "x"},
            "options": {"auth": {"type": "BASIC", "username": "u", "password": "p"}}
        }), json!({}))
        .await
        .unwrap();
        let echoed: serde_json::Value = serde_json::from_str(out.outputs["body"].as_str().unwrap()).unwrap();
        assert!(echoed["contentType"].as_str().unwrap().starts_with("multipart/form-data; boundary="));
        assert!(echoed["body"].as_str().unwrap().contains("name=\"user\"\r\n\r\nx\r\n"));

        let out = run(&env, TY, json!({"uri": format!("{base}/latin1")}), json!({})).await.unwrap();
        assert_eq!(out.outputs["body"], json!("café"));
    }

    #[tokio::test]
    async fn status_checks_timeouts_and_limits() {
        let base = server().await;
        let env = env();
        let error = run(&env, TY, json!({"uri": format!("{base}/status/404")}), json!({}))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "Failed http request with response code '404' and body:\noops");
        let out = run(&env, TY, json!({"uri": format!("{base}/status/500"), "options": {"allowFailed": true}}), json!({}))
            .await
            .unwrap();
        assert_eq!(out.outputs["code"], json!(500));
        assert_eq!(out.outputs["body"], json!("oops"));
        // The deprecated top-level flag still works.
        let out = run(&env, TY, json!({"uri": format!("{base}/status/503"), "allowFailed": true}), json!({}))
            .await
            .unwrap();
        assert_eq!(out.outputs["code"], json!(503));
        let out = run(&env, TY, json!({"uri": format!("{base}/status/404"), "options": {"allowedResponseCodes": [404]}}), json!({}))
            .await
            .unwrap();
        assert_eq!(out.outputs["code"], json!(404));
        let error = run(&env, TY, json!({"uri": format!("{base}/status/200"), "options": {"allowedResponseCodes": [201]}}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("response code '200'"), "{error}");

        let error = run(&env, TY, json!({"uri": format!("{base}/slow"), "options": {"readTimeout": "PT0.3S"}}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("HTTP request to"), "{error}");
        let error = run(&env, TY, json!({"uri": format!("{base}/echo"), "options": {"maxContentLength": 10}}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("maxContentLength"), "{error}");
        let error = run(&env, TY, json!({"uri": format!("{base}/echo"), "options": {"proxyy": 1}}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("invalid HTTP options: unknown field `proxyy`"), "{error}");
        // Nothing listens on port 9 of localhost.
        let error = run(&env, TY, json!({"uri": "http://127.0.0.1:9/x"}), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("HTTP request to 'http://127.0.0.1:9/x' failed"), "{error}");
    }

    #[test]
    fn request_props() {
        let ty = "io.kestra.plugin.fs.http.Request";
        assert_valid(
            ty,
            json!({"uri": "https://x", "method": "POST", "headers": {"a": "b"}, "options": {"allowFailed": true}}),
        );
        assert_invalid(
            ty,
            json!({"url": "https://x"}),
            "url",
            "Unrecognized field \"url\"",
        );
    }
}
