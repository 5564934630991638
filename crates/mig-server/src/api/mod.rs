//! The REST API (`/api/v1`, JSON), served over HTTPS.

pub(crate) mod actions;
mod agents;
pub mod auth;
mod error;
mod investigators;
mod listing;
mod mig;
mod misc;
mod params;
mod releases;
pub(crate) mod schedules;

use crate::app::App;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, warn};

pub use error::ApiError;

/// Largest request body (a signed action with its parameters).
const MAX_BODY: usize = 16 << 20;

pub fn router(app: Arc<App>) -> Router {
    let authenticated = Router::new()
        .route("/api/v1/me", get(misc::me))
        .route("/api/v1/actions", get(actions::list).post(actions::create))
        .route("/api/v1/actions/{id}", get(actions::get))
        .route("/api/v1/actions/{id}/cancel", post(actions::cancel))
        .route("/api/v1/actions/{id}/commands", get(actions::commands))
        .route("/api/v1/actions/{id}/stream", get(actions::stream))
        .route("/api/v1/commands/{id}", get(misc::command))
        .route("/api/v1/agents", get(agents::list))
        .route("/api/v1/agents/{id}", get(agents::get))
        .route("/api/v1/target/preview", post(agents::preview))
        .route(
            "/api/v1/investigators",
            get(investigators::list).post(investigators::create),
        )
        .route("/api/v1/investigators/{id}", get(investigators::get))
        .route(
            "/api/v1/investigators/{id}/status",
            post(investigators::set_status),
        )
        .route(
            "/api/v1/investigators/{id}/apikeys",
            post(investigators::create_api_key),
        )
        .route(
            "/api/v1/apikeys/{id}",
            delete(investigators::revoke_api_key),
        )
        .route("/api/v1/schedules", get(schedules::list))
        .route("/api/v1/schedules/{id}/runs", get(schedules::runs))
        .route("/api/v1/schedules/{id}/snapshot", get(schedules::snapshot))
        .route("/api/v1/find", get(misc::search))
        .route("/api/v1/overview", get(misc::dashboard))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::authenticate,
        ));
    Router::new()
        .route("/api/v1/health", get(misc::heartbeat))
        .route("/api/v1/openapi.json", get(misc::openapi))
        .route("/metrics", get(misc::metrics))
        .route("/releases/{*path}", get(releases::get))
        .merge(authenticated)
        .merge(mig::router(app.clone()))
        .fallback(|| async { ApiError::not_found("no such endpoint (see /api/v1/openapi.json)") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(app)
}

/// Serves the API on `listener`, over TLS when `tls` is given. TLS handshakes run in each
/// connection's task, never in the accept loop.
pub async fn serve(listener: TcpListener, app: Arc<App>, tls: Option<Arc<rustls::ServerConfig>>) {
    let router = router(app);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("api: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // MIG's /ip answers with the caller's address.
        let router = router.clone();
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(mig::PeerAddr(peer));
                tower::ServiceExt::oneshot(router.clone(), request)
            },
        ));
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    {
                        Ok(Ok(tls)) => {
                            builder
                                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                                .await
                        }
                        Ok(Err(e)) => return debug!("api: TLS handshake with {peer} failed: {e}"),
                        Err(_) => return debug!("api: TLS handshake with {peer} timed out"),
                    }
                }
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                        .await
                }
            };
            if let Err(e) = result {
                debug!("api: connection from {peer}: {e}");
            }
        });
    }
}
