//! `io.kestra.plugin.core.http.Request`: sends one HTTP request and returns its status, headers and body.

use saker_task::prelude::*;

/// Properties of `Request`.
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
    /// Store the body encrypted in the outputs (default false).
    pub encrypt_body: Option<Property<bool>>,
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
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

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
