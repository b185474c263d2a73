//! `io.kestra.plugin.core.http.Download`: downloads a URL into an internal-storage file.

use tokio::io::AsyncWriteExt;

use crate::shared::http::{error_chain, headers_output, http_props, send};
use crate::shared::plugin_params;
use crate::tasks::storage_local_files::stored_name;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Download`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: http_request;
        /// Fail when the response is empty (default true).
        pub fail_on_empty_response: Option<Property<bool>>,
    }
}

/// Runs `http.Download`: the body is streamed to a temporary file, then into internal storage
/// (never held in memory), named after `Content-Disposition` or the URL's last segment.
pub struct Download;

/// The file name a response suggests: `Content-Disposition`'s `filename`, else the last
/// segment of the URL path.
fn file_name(response: &reqwest::Response) -> String {
    let disposition = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .filter_map(|p| p.trim().strip_prefix("filename="))
                .next()
                .map(|name| name.trim_matches('"').to_owned())
        });
    let name = disposition.unwrap_or_else(|| {
        response
            .url()
            .path_segments()
            .and_then(|mut segments| segments.next_back().map(str::to_owned))
            .unwrap_or_default()
    });
    // Only the last component: a server must not choose where the file goes.
    let name = name.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
    if name.is_empty() || name == "." || name == ".." {
        "download".to_owned()
    } else {
        name
    }
}

impl RunnableTask for Download {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let props = http_props!(ctx, params)?;
        let fail_on_empty = ctx.render_opt(&params.fail_on_empty_response)?.unwrap_or(true);
        let mut response = send(ctx, &props).await?;
        let code = response.status().as_u16();
        let headers = headers_output(response.headers());
        let name = file_name(&response);
        let temp = tempfile::NamedTempFile::new()
            .map_err(|e| TaskError::Failed(format!("cannot create a temporary file: {e}")))?;
        let mut file = tokio::fs::File::create(temp.path())
            .await
            .map_err(|e| TaskError::Failed(format!("cannot write the download: {e}")))?;
        let mut length: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            TaskError::Failed(format!(
                "cannot read the response of '{}': {}",
                props.uri,
                error_chain(&e)
            ))
        })? {
            length += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| TaskError::Failed(format!("cannot write the download: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| TaskError::Failed(format!("cannot write the download: {e}")))?;
        drop(file);
        if length == 0 {
            if fail_on_empty {
                return Err(TaskError::Failed(format!(
                    "No response from server: '{}' returned an empty body (set failOnEmptyResponse: false to allow it)",
                    props.uri
                )));
            }
            ctx.logger()
                .warn(format!("'{}' returned an empty body", props.uri));
        }
        let uri = format!("{}{}", ctx.storage_prefix(), stored_name(&name));
        ctx.storage()
            .put_file(&uri, temp.path())
            .await
            .map_err(TaskError::failed)?;
        ctx.logger()
            .debug(format!("Downloaded {length} bytes from '{}' to '{uri}'", props.uri));
        Ok(TaskOutcome::empty()
            .with("uri", uri)
            .with("code", code)
            .with("length", length)
            .with("headers", headers))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.http.Download",
    aliases: [
        "io.kestra.plugin.fs.http.Download",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Download a file over HTTP.",
    slots: [],
    params: Params,
    runnable: Download,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use axum::Router;
    use axum::routing::get;
    use serde_json::json;

    const TY: &str = "io.kestra.plugin.core.http.Download";

    #[tokio::test]
    async fn downloads_into_storage_with_name_length_and_headers() {
        let app = Router::new()
            .route("/files/data.csv", get(|| async { "a,b\n1,2\n" }))
            .route(
                "/export",
                get(|| async { ([("content-disposition", "attachment; filename=\"../../report.json\"")], "{}") }),
            )
            .route("/empty", get(|| async { "" }))
            .route("/gone", get(|| async { (axum::http::StatusCode::GONE, "gone") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let env = env();

        let out = run(&env, TY, json!({"uri": format!("{base}/files/data.csv")}), json!({})).await.unwrap();
        let uri = out.outputs["uri"].as_str().unwrap();
        assert!(uri.starts_with("kestra:///") && uri.ends_with("-data.csv"), "{uri}");
        assert_eq!(env.storage.get_now(uri).unwrap(), b"a,b\n1,2\n");
        assert_eq!(out.outputs["code"], json!(200));
        assert_eq!(out.outputs["length"], json!(8));
        assert_eq!(out.outputs["headers"]["content-length"], json!(["8"]));

        let out = run(&env, TY, json!({"uri": format!("{base}/export")}), json!({})).await.unwrap();
        let uri = out.outputs["uri"].as_str().unwrap();
        assert!(uri.ends_with("-report.json") && !uri.contains(".."), "{uri}");

        let error = run(&env, TY, json!({"uri": format!("{base}/empty")}), json!({})).await.unwrap_err();
        assert!(error.to_string().starts_with("No response from server"), "{error}");
        let out = run(&env, TY, json!({"uri": format!("{base}/empty"), "failOnEmptyResponse": false}), json!({}))
            .await
            .unwrap();
        assert_eq!(out.outputs["length"], json!(0));

        let error = run(&env, TY, json!({"uri": format!("{base}/gone")}), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("response code '410'"), "{error}");
    }
}
