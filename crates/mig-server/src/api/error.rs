//! API errors: every error is a JSON body `{"error": "…"}` with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mig_store::StoreError;

#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    pub fn bad_request(msg: impl std::fmt::Display) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, msg.to_string())
    }
    pub fn unauthorized(msg: impl std::fmt::Display) -> ApiError {
        ApiError(StatusCode::UNAUTHORIZED, msg.to_string())
    }
    pub fn forbidden(msg: impl std::fmt::Display) -> ApiError {
        ApiError(StatusCode::FORBIDDEN, msg.to_string())
    }
    pub fn not_found(msg: impl std::fmt::Display) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, msg.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { .. } => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            other => {
                tracing::error!("api: {other}");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error (see the server log)".into(),
                )
            }
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        tracing::error!("api: {e:#}");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (see the server log)".into(),
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Error responses made outside our handlers (axum's rejections: a path segment that is not
/// a number, a body over the limit, a method the route does not take) come as plain text:
/// rewritten as `{"error": "…"}` with the same status, so that every error is JSON.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut json = Json(serde_json::json!({"error": message})).into_response();
    *json.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}
