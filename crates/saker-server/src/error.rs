//! Kestra's error replies (Micronaut's `JsonError`): `{"message", "_links": {"self": {"href",
//! "templated"}}, "_embedded": {"errors": [{"message", "path"}]}}` with 422 for invalid input,
//! 404 for unknown ids, 409 for illegal state transitions, 413 for oversized bodies.
//!
//! Handlers return [`ApiError`]; the [`error_shape`] middleware writes the body, because only it
//! knows the request URI (`_links.self.href`). It also gives the same shape to the plain-text
//! rejections of axum's extractors (bad query, bad path, body too large) and to unknown routes.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error reply before its body is written.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// `(message, path)` of each violation (`_embedded.errors`).
    pub errors: Vec<(String, Option<String>)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 422: a constraint violation (`Invalid entity: …`).
    pub fn invalid(message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: vec![(message.clone(), None)],
            message: format!("Invalid entity: {message}"),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the resource is not in a state that allows the request.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("Illegal state: {}", message.into()),
        )
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Internal server error: {message}"),
        )
    }

    fn body(&self, href: &str) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|(message, path)| match path {
                Some(path) => json!({"message": message, "path": path}),
                None => json!({"message": message}),
            })
            .collect();
        let mut body = json!({
            "message": self.message,
            "_links": {"self": {"href": href, "templated": false}},
        });
        if !errors.is_empty() {
            body["_embedded"] = json!({ "errors": errors });
        }
        body
    }
}

impl From<saker_storage::Error> for ApiError {
    fn from(error: saker_storage::Error) -> Self {
        match error {
            saker_storage::Error::NotFound(what) => {
                ApiError::not_found(format!("{what} not found"))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<saker_runtime::service::ControlError> for ApiError {
    fn from(error: saker_runtime::service::ControlError) -> Self {
        use saker_runtime::service::ControlError;
        match error {
            ControlError::NotFound(_) | ControlError::TaskRunNotFound(_) => {
                ApiError::not_found(error.to_string())
            }
            ControlError::WrongState(message) => ApiError::conflict(message),
            ControlError::Invalid(message) => ApiError::invalid(message),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Writes every error reply in Kestra's shape (see the module documentation).
pub async fn error_shape(request: Request, next: Next) -> Response {
    let href = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(error) = response.extensions().get::<ApiError>().cloned() {
        let mut shaped = json_error(&error, &href);
        // A 401's challenge must survive the rewrite.
        if let Some(challenge) = response.headers().get(header::WWW_AUTHENTICATE) {
            shaped
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        return shaped;
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    // An extractor's rejection: plain text, possibly empty.
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let message = match (status, text.trim()) {
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            "Request entity too large: the body exceeds the server's limit".to_owned()
        }
        (StatusCode::NOT_FOUND, "") => format!("Page Not Found: {href}"),
        (StatusCode::METHOD_NOT_ALLOWED, "") => format!("Method Not Allowed: {href}"),
        (_, "") => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_owned(),
        (_, text) => text.to_owned(),
    };
    // Malformed parameters are constraint violations for Kestra (422), not 400s.
    let status = if status == StatusCode::BAD_REQUEST {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    json_error(&ApiError::new(status, message), &href)
}

fn json_error(error: &ApiError, href: &str) -> Response {
    let body = error.body(href).to_string();
    Response::builder()
        .status(error.status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| error.status.into_response())
}
