//! `io.kestra.plugin.core.http.Trigger`: polls an HTTP endpoint and starts an execution when `responseCondition` is truthy.

use saker_task::prelude::*;

/// Properties of `Trigger`.
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
    /// Expression on `response` (default `{{ response.statusCode < 400 }}`).
    pub response_condition: Option<Property<String>>,
    /// Polling period (default `PT60S`).
    pub interval: Option<Property<IsoDuration>>,
    /// Store the body encrypted in the trigger variables (default false).
    pub encrypt_body: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.http.Trigger",
    aliases: [
        "io.kestra.plugin.fs.http.Trigger",
    ],
    kind: PluginKind::Trigger,
    title: "Poll an HTTP endpoint and start an execution when the response matches.",
    slots: [],
    params: Params,
}
