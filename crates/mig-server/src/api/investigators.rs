//! Investigators (admin) and API keys.

use super::auth::{new_api_key, Caller};
use super::error::{ApiError, ApiResult};
use crate::app::{now_ms, App};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use mig_store::investigators::{permission, Investigator, STATUS_ACTIVE, STATUS_DISABLED};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn list(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"investigators": app.store.list_investigators(false).await?}),
    ))
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Investigator>> {
    Ok(Json(app.store.get_investigator(id).await?))
}

#[derive(Deserialize)]
pub struct CreateBody {
    name: String,
    /// The armored OpenPGP public key.
    publickey: String,
    #[serde(default = "default_permission")]
    permission: String,
}

fn default_permission() -> String {
    permission::INVESTIGATOR.into()
}

pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Investigator>)> {
    caller.require(permission::ADMIN)?;
    let req: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request("name: must not be empty"));
    }
    if !permission::is_valid(&req.permission) {
        return Err(ApiError::bad_request(format!(
            "permission: {:?} is not one of readonly, investigator, admin",
            req.permission
        )));
    }
    let mut ring = mig_pgp::Keyring::new();
    ring.add_bytes(req.publickey.as_bytes(), "publickey")
        .map_err(|e| ApiError::bad_request(format!("publickey: {e}")))?;
    if ring.len() != 1 {
        return Err(ApiError::bad_request("publickey: expected exactly one key"));
    }
    let fp = ring
        .keys()
        .next()
        .map(|k| k.fingerprint.clone())
        .unwrap_or_default();
    let inv = app
        .store
        .create_investigator(
            req.name.trim(),
            &req.publickey,
            &fp,
            &req.permission,
            now_ms(),
        )
        .await?;
    app.invalidate_keys();
    tracing::info!(
        "investigator {} ({fp}) created by {}",
        inv.name,
        caller.name
    );
    Ok((StatusCode::CREATED, Json(inv)))
}

#[derive(Deserialize)]
pub struct StatusBody {
    status: String,
}

pub async fn set_status(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Investigator>> {
    caller.require(permission::ADMIN)?;
    let req: StatusBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    if req.status != STATUS_ACTIVE && req.status != STATUS_DISABLED {
        return Err(ApiError::bad_request(format!(
            "status: {:?} is not active or disabled",
            req.status
        )));
    }
    app.store.get_investigator(id).await?;
    let inv = app
        .store
        .set_investigator_status(id, &req.status, now_ms())
        .await?;
    app.invalidate_keys();
    tracing::info!(
        "investigator {} is now {} (by {})",
        inv.name,
        inv.status,
        caller.name
    );
    Ok(Json(inv))
}

#[derive(Deserialize)]
pub struct KeyBody {
    #[serde(default)]
    name: String,
}

/// A new API key for an investigator (admins for anyone, others for themselves). The key is
/// shown once; only its hash is stored.
pub async fn create_api_key(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if caller.id != id {
        caller.require(permission::ADMIN)?;
    }
    let req: KeyBody = if body.is_empty() {
        KeyBody {
            name: String::new(),
        }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?
    };
    app.store.get_investigator(id).await?;
    let key_id = mig_core::id::generate();
    let (key, hash) = new_api_key(key_id);
    app.store
        .create_api_key(key_id, id, &req.name, &hash, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": key_id, "key": key}))))
}

pub async fn revoke_api_key(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    caller.require(permission::ADMIN)?;
    if !app.store.revoke_api_key(id).await? {
        return Err(ApiError::not_found(format!("API key {id} not found")));
    }
    Ok(Json(json!({"id": id, "revoked": true})))
}
