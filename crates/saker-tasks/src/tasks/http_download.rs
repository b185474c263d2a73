//! `io.kestra.plugin.core.http.Download`: downloads a URL into an internal-storage file.

use saker_task::prelude::*;

/// Properties of `Download`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URL to call.
    pub uri: Property<String>,
    /// HTTP method (default `GET`).
    pub method: Option<Property<String>>,
    /// Request body.
    pub body: Option<Property<String>>,
    /// Form fields (multipart or urlencoded).
    pub form_data: Option<Property<Map<String, Value>>>,
    /// Content type of the body (default `application/json`).
    pub content_type: Option<Property<String>>,
    /// Request headers.
    pub headers: Option<Property<Map<String, Value>>>,
    /// HTTP client configuration (timeouts, auth, proxy, `allowFailed`...); checked when the task runs.
    pub options: Option<Property<Map<String, Value>>>,
    /// Deprecated: do not fail on status >= 400 (use `options.allowFailed`).
    pub allow_failed: Option<Property<bool>>,
    /// Deprecated: TLS options (use `options.ssl`).
    pub ssl_options: Option<Property<Map<String, Value>>>,
    /// Fail when the response is empty (default true).
    pub fail_on_empty_response: Option<Property<bool>>,
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
}
