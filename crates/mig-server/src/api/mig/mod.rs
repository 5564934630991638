//! MIG's own API, served beside ours so that MIG's clients (`mig`, `mig-console`, scripts
//! written against MIG) work unchanged: its paths under `/api/v1/`, its query parameters,
//! its form-encoded action upload, and its Collection+JSON answers, errors included.
//! docs/api.md maps MIG's endpoints to ours.

mod cljs;
mod resources;
mod search;

use super::auth;
use crate::app::App;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cljs::Resource;
pub use resources::PeerAddr;
use std::convert::Infallible;
use std::sync::Arc;

/// MIG's routes. The unauthenticated ones (heartbeat, ip, publickey) as MIG serves them; the
/// others behind the same authentication as ours (MIG's token, or an API key in
/// `X-MIGAPIKEY`).
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    let authenticated = Router::new()
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/action", get(resources::action))
        .route("/api/v1/action/create/", post(resources::create_action))
        .route("/api/v1/command", get(resources::command))
        .route("/api/v1/agent", get(resources::agent))
        .route("/api/v1/dashboard", get(resources::dashboard))
        .route("/api/v1/investigator", get(resources::investigator))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::authenticate,
        ));
    Router::new()
        .route("/api/v1/heartbeat", get(resources::heartbeat))
        .route("/api/v1/ip", get(resources::ip))
        .route(
            "/api/v1/publickey/{fingerprint}",
            get(resources::public_key),
        )
        .merge(authenticated)
        .route("/api/v1/investigator/create/", post(not_served))
        .route("/api/v1/investigator/update/", post(not_served))
        .route("/api/v1/loader", get(not_served))
        .route("/api/v1/loader/{*rest}", post(not_served))
        .route("/api/v1/manifest", get(not_served))
        .route("/api/v1/manifest/{*rest}", get(not_served).post(not_served))
        .layer(axum::middleware::from_fn_with_state(app, cljs_errors))
}

/// MIG's endpoints this server does not serve (docs/api.md says what to use instead).
async fn not_served(uri: axum::http::Uri) -> super::ApiError {
    super::ApiError::not_found(format!(
        "MIG's {} is not served by this server: investigators are managed with `mig investigator` or POST /api/v1/investigators, and MIG's loaders and manifests have no equivalent here",
        uri.path()
    ))
}

/// Where a request was addressed, for the `href`s MIG's answers carry.
pub struct Origin {
    /// `https://host:port`
    host: String,
    /// The request's path and query, as MIG's `request.URL.String()`.
    path_and_query: String,
}

impl Origin {
    /// MIG's `BaseURL`: `https://host:port/api/v1`.
    fn base(&self) -> String {
        format!("{}/api/v1", self.host)
    }

    /// The request's own address: MIG's collection `href`.
    fn location(&self) -> String {
        format!("{}{}", self.host, self.path_and_query)
    }
}

impl FromRequestParts<Arc<App>> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Infallible> {
        Ok(origin(parts, app))
    }
}

fn origin(parts: &Parts, app: &App) -> Origin {
    let scheme = if app.config.api.tls { "https" } else { "http" };
    let authority = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| app.config.api.listen.clone());
    Origin {
        host: format!("{scheme}://{authority}"),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    }
}

/// Every refusal on MIG's routes is a Collection+JSON error, as MIG's client expects: ours
/// (`{"error": …}`: authentication, a body over the limit, a store error) and axum's plain
/// text (a form that does not parse) alike. Answers already in MIG's form pass unchanged.
async fn cljs_errors(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let location = origin(&parts, &app).location();
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<cljs::Marker>().is_some()
    {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or(text);
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        message
    };
    Resource::new(location)
        .fail(status, message)
        .into_response()
}

/// A MIG ID from a query parameter (MIG parses IDs as floats), or MIG's refusal.
fn id_parameter(
    query: &std::collections::HashMap<String, String>,
    name: &str,
    what: &str,
    origin: &Origin,
) -> Result<u64, Box<Resource>> {
    let fail =
        |status, message: String| Box::new(Resource::new(origin.location()).fail(status, message));
    let text = query.get(name).ok_or_else(|| {
        fail(
            StatusCode::BAD_REQUEST,
            format!("Wrong parameters '{name}': missing"),
        )
    })?;
    let id: f64 = text.trim().parse().map_err(|e| {
        fail(
            StatusCode::BAD_REQUEST,
            format!("Wrong parameters '{name}': '{e}'"),
        )
    })?;
    if !(id >= 1.0 && id <= mig_core::id::MAX_SAFE_ID as f64 && id.fract() == 0.0) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("Invalid {what} ID '{text}'"),
        ));
    }
    Ok(id as u64)
}
