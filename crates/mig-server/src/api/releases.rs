//! GET /releases/<path>: files of `<data_dir>/releases/`, for agents to download upgrades
//! from the server they already trust (its certificate is signed by the deployment's CA).
//! No authentication: what an agent installs is decided by the SHA-256 investigators signed,
//! not by who may read the file.

use super::error::ApiError;
use crate::app::App;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use std::sync::Arc;

pub async fn get(
    State(app): State<Arc<App>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    // Plain names only: no `..`, no hidden files, no absolute paths.
    let safe = !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~'))
        });
    if !safe {
        return Err(ApiError::not_found(format!("no release file {path:?}")));
    }
    let file = app.config.data_dir.join("releases").join(&path);
    let data = match tokio::fs::read(&file).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!("no release file {path:?}")))
        }
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(ApiError::not_found(format!("{path:?} is a folder")))
        }
        Err(e) => {
            tracing::warn!("releases: cannot read {}: {e}", file.display());
            return Err(ApiError::not_found(format!(
                "cannot read release file {path:?}"
            )));
        }
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(data))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}
