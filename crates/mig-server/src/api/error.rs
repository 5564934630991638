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
