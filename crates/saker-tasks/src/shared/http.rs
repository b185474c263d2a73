//! What `http.Request` and `http.Download` share (Kestra's `AbstractHttp` and its HTTP client
//! configuration): building the client from `options`, the request from the task's properties,
//! and the status check.

use std::time::Duration;

use saker_task::IsoDuration;
use saker_task::prelude::*;

/// The rendered common properties of the HTTP tasks.
pub struct HttpProps {
    pub uri: String,
    pub method: String,
    pub body: Option<String>,
    pub form_data: Option<Map<String, Value>>,
    pub content_type: Option<String>,
    pub headers: Map<String, Value>,
    pub options: Options,
}

/// `options.auth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Auth {
    #[serde(rename = "type")]
    kind: String,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

/// `options.proxy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Proxy {
    #[serde(rename = "type")]
    kind: Option<String>,
    address: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

/// `options.ssl`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Ssl {
    insecure_trust_all_certificates: Option<bool>,
}

/// Kestra's `HttpConfiguration` (the settings Saker's client can honour; any other key is
/// refused rather than silently ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    connect_timeout: Option<IsoDuration>,
    read_timeout: Option<IsoDuration>,
    read_idle_timeout: Option<IsoDuration>,
    /// Accepted for compatibility: the pool's idle timeout has no effect on results.
    connection_pool_idle_timeout: Option<IsoDuration>,
    max_content_length: Option<u64>,
    follow_redirects: Option<bool>,
    allow_failed: Option<bool>,
    allowed_response_codes: Option<Vec<u16>>,
    default_charset: Option<String>,
    basic_auth_user: Option<String>,
    basic_auth_password: Option<String>,
    auth: Option<Auth>,
    proxy: Option<Proxy>,
    ssl: Option<Ssl>,
    /// Request/response logging levels (`REQUEST_HEADERS`, `RESPONSE_BODY`...).
    logs: Option<Vec<String>>,
}

/// Kestra's default cap on a `Request` body kept in the outputs (10 MB).
pub const DEFAULT_MAX_CONTENT_LENGTH: u64 = 10 * 1024 * 1024;

impl Options {
    pub fn max_content_length(&self) -> u64 {
        self.max_content_length
            .unwrap_or(DEFAULT_MAX_CONTENT_LENGTH)
    }

    pub fn logs(&self, what: &str) -> bool {
        self.logs
            .as_ref()
            .is_some_and(|logs| logs.iter().any(|l| l == what))
    }
}

/// Renders the `http_request` group of a task's `Params`.
macro_rules! http_props {
    ($ctx:expr, $params:expr) => {
        $crate::shared::http::render(
            $ctx,
            &$params.uri,
            &$params.method,
            &$params.body,
            &$params.form_data,
            &$params.content_type,
            &$params.headers,
            &$params.options,
            &$params.allow_failed,
            &$params.ssl_options,
        )
    };
}
pub(crate) use http_props;

#[allow(clippy::too_many_arguments)]
pub fn render(
    ctx: &RunContext,
    uri: &Property<String>,
    method: &Option<Property<String>>,
    body: &Option<Property<String>>,
    form_data: &Option<Property<Map<String, Value>>>,
    content_type: &Option<Property<String>>,
    headers: &Option<Property<Map<String, Value>>>,
    options: &Option<Property<Map<String, Value>>>,
    allow_failed: &Option<Property<bool>>,
    ssl_options: &Option<Property<Map<String, Value>>>,
) -> Result<HttpProps, TaskError> {
    let options = ctx.render_opt(options)?.unwrap_or_default();
    let mut options: Options = serde_json::from_value(Value::Object(options))
        .map_err(|e| TaskError::Failed(format!("invalid HTTP options: {e}")))?;
    if let Some(allow) = ctx.render_opt(allow_failed)? {
        options.allow_failed.get_or_insert(allow);
    }
    if let Some(ssl) = ctx.render_opt(ssl_options)? {
        let ssl: Ssl = serde_json::from_value(Value::Object(ssl))
            .map_err(|e| TaskError::Failed(format!("invalid sslOptions: {e}")))?;
        options.ssl.get_or_insert(ssl);
    }
    Ok(HttpProps {
        uri: ctx.render_property(uri)?,
        method: ctx
            .render_opt(method)?
            .unwrap_or_else(|| "GET".to_owned())
            .to_ascii_uppercase(),
        body: ctx.render_opt(body)?,
        form_data: ctx.render_opt(form_data)?,
        content_type: ctx.render_opt(content_type)?,
        headers: ctx.render_opt(headers)?.unwrap_or_default(),
        options,
    })
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn failed(what: &str, error: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(format!("{what}: {error}"))
}

/// Sends the request; returns the response after the status check.
pub async fn send(ctx: &RunContext, props: &HttpProps) -> Result<reqwest::Response, TaskError> {
    let options = &props.options;
    let mut client = reqwest::Client::builder();
    if let Some(timeout) = &options.connect_timeout {
        client = client.connect_timeout(timeout.as_duration());
    }
    // Kestra's read timeouts bound each wait for data, not the whole transfer.
    let read = options
        .read_timeout
        .as_ref()
        .or(options.read_idle_timeout.as_ref())
        .map(IsoDuration::as_duration)
        .unwrap_or(Duration::from_secs(300));
    client = client.read_timeout(read);
    if let Some(idle) = &options.connection_pool_idle_timeout {
        client = client.pool_idle_timeout(idle.as_duration());
    }
    if options.follow_redirects == Some(false) {
        client = client.redirect(reqwest::redirect::Policy::none());
    }
    if let Some(ssl) = &options.ssl
        && ssl.insecure_trust_all_certificates == Some(true)
    {
        client = client.tls_danger_accept_invalid_certs(true);
    }
    if let Some(proxy) = &options.proxy {
        let kind = proxy.kind.as_deref().unwrap_or("HTTP");
        if !kind.eq_ignore_ascii_case("HTTP") && !kind.eq_ignore_ascii_case("DIRECT") {
            return Err(TaskError::Failed(format!(
                "unsupported proxy type '{kind}': Saker supports HTTP proxies"
            )));
        }
        if !kind.eq_ignore_ascii_case("DIRECT") {
            let mut target =
                reqwest::Proxy::all(format!("http://{}:{}", proxy.address, proxy.port))
                    .map_err(|e| failed("invalid proxy", e))?;
            if let Some(user) = &proxy.username {
                target = target.basic_auth(user, proxy.password.as_deref().unwrap_or(""));
            }
            client = client.proxy(target);
        }
    }
    let client = client
        .build()
        .map_err(|e| failed("cannot build the HTTP client", e))?;

    let method = reqwest::Method::from_bytes(props.method.as_bytes())
        .map_err(|_| TaskError::Failed(format!("invalid HTTP method '{}'", props.method)))?;
    let url = reqwest::Url::parse(&props.uri)
        .map_err(|e| TaskError::Failed(format!("invalid URI '{}': {e}", props.uri)))?;
    let mut request = client.request(method, url);
    for (name, value) in &props.headers {
        request = request.header(name.as_str(), text_of(value));
    }
    if let Some(auth) = &options.auth {
        request = match auth.kind.to_ascii_uppercase().as_str() {
            "BASIC" => request.basic_auth(
                auth.username.as_deref().unwrap_or(""),
                auth.password.as_deref(),
            ),
            "BEARER" => request.bearer_auth(auth.token.as_deref().ok_or_else(|| {
                TaskError::Failed("options.auth of type BEARER needs a token".to_owned())
            })?),
            other => {
                return Err(TaskError::Failed(format!(
                    "unsupported authentication type '{other}': use BASIC or BEARER"
                )));
            }
        };
    } else if let Some(user) = &options.basic_auth_user {
        request = request.basic_auth(user, options.basic_auth_password.as_deref());
    }
    let content_type = props.content_type.as_deref().unwrap_or("application/json");
    if let Some(form) = &props.form_data {
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = reqwest::multipart::Form::new();
            for (name, value) in form {
                multipart = multipart.text(name.clone(), text_of(value));
            }
            request = request.multipart(multipart);
        } else {
            let pairs: Vec<(String, String)> =
                form.iter().map(|(k, v)| (k.clone(), text_of(v))).collect();
            request = request.form(&pairs);
        }
    } else if let Some(body) = &props.body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.clone());
    }
    if options.logs("REQUEST_HEADERS") {
        ctx.logger()
            .info(format!("request: {} {}", props.method, props.uri));
    }
    let response = request.send().await.map_err(|e| {
        failed(
            &format!("HTTP request to '{}' failed", props.uri),
            error_chain(&e),
        )
    })?;
    let code = response.status().as_u16();
    if options.logs("RESPONSE_HEADERS") {
        ctx.logger()
            .info(format!("response: {code} {:?}", response.headers()));
    }
    let allowed = match &options.allowed_response_codes {
        Some(codes) => codes.contains(&code),
        None => code < 400,
    };
    if !allowed && options.allow_failed != Some(true) {
        let body = response.text().await.unwrap_or_default();
        let shown: String = body.chars().take(2000).collect();
        return Err(TaskError::Failed(format!(
            "Failed http request with response code '{code}' and body:\n{shown}"
        )));
    }
    Ok(response)
}

/// The error and its causes ("connection refused" sits a few levels down in reqwest's errors).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Response headers as Kestra outputs them: name → list of values.
pub fn headers_output(headers: &reqwest::header::HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let entry = out
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    Value::Object(out)
}

/// Reads the body (at most `options.maxContentLength` bytes) and decodes it with the charset of
/// its `Content-Type`, else `options.defaultCharset`, else UTF-8.
pub async fn body_text(
    mut response: reqwest::Response,
    options: &Options,
) -> Result<String, TaskError> {
    let limit = options.max_content_length();
    let charset = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| {
            ct.split(';')
                .filter_map(|p| p.trim().strip_prefix("charset="))
                .next()
                .map(|c| c.trim_matches('"').to_owned())
        })
        .or_else(|| options.default_charset.clone())
        .unwrap_or_else(|| "utf-8".to_owned());
    let encoding = encoding_rs::Encoding::for_label(charset.as_bytes())
        .ok_or_else(|| TaskError::Failed(format!("unknown charset '{charset}'")))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed("cannot read the response", error_chain(&e)))?
    {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(TaskError::Failed(format!(
                "the response is larger than options.maxContentLength ({limit} bytes); use http.Download for big responses"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(encoding.decode(&bytes).0.into_owned())
}
