//! Who is calling: MIG's `X-PGPAUTHORIZATION` token (refusing any nonce seen before) or an
//! API key (`Authorization: Bearer mig_<id>_<secret>`, or MIG's `X-MIGAPIKEY` header), and
//! what they may do.

use super::error::ApiError;
use crate::app::{now_ms, App, Metrics};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use mig_store::investigators::{permission, STATUS_ACTIVE};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The authenticated investigator of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: u64,
    pub name: String,
    pub fingerprint: String,
    pub permission: String,
}

impl Caller {
    pub fn require(&self, needed: &str) -> Result<(), ApiError> {
        if permission::allows(&self.permission, needed) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} has permission '{}'; this needs '{needed}'",
                self.name, self.permission
            )))
        }
    }
}

pub const TOKEN_HEADER: &str = "x-pgpauthorization";
/// MIG's API key header.
pub const MIG_API_KEY_HEADER: &str = "x-migapikey";

pub async fn authenticate(
    State(app): State<Arc<App>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    Metrics::add(&app.metrics.api_requests, 1);
    let caller = identify(&app, req.headers()).await?;
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

async fn identify(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if let Some(token) = headers.get(TOKEN_HEADER) {
        let token = token
            .to_str()
            .map_err(|_| ApiError::unauthorized("X-PGPAUTHORIZATION is not valid text"))?;
        return from_token(app, token).await;
    }
    // MIG's clients send an API key in their own header (`[gpg] useapikeyauth` in MIG's
    // client configuration); it takes the keys this server issues.
    if let Some(key) = headers.get(MIG_API_KEY_HEADER) {
        let key = key
            .to_str()
            .map_err(|_| ApiError::unauthorized("X-MIGAPIKEY is not valid text"))?;
        return from_api_key(app, key.trim()).await;
    }
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        let auth = auth
            .to_str()
            .map_err(|_| ApiError::unauthorized("Authorization is not valid text"))?;
        let key = auth.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthorized("Authorization: expected `Bearer mig_<id>_<secret>`")
        })?;
        return from_api_key(app, key.trim()).await;
    }
    Err(ApiError::unauthorized(
        "authentication required: send an X-PGPAUTHORIZATION token, or an API key as Authorization: Bearer or X-MIGAPIKEY",
    ))
}

async fn from_token(app: &App, token: &str) -> Result<Caller, ApiError> {
    let window = app.token_window.as_secs() as i64;
    let (mut keyring, mut by_fp) = app.investigator_keys().await?;
    let mut verified = mig_pgp::token::verify_token(&keyring, token, chrono::Utc::now(), window);
    if matches!(verified, Err(mig_pgp::PgpError::UnknownSigner { .. }))
        && app.refresh_keys_if_changed().await?
    {
        (keyring, by_fp) = app.investigator_keys().await?;
        verified = mig_pgp::token::verify_token(&keyring, token, chrono::Utc::now(), window);
    }
    let t = verified.map_err(|e| ApiError::unauthorized(format!("token refused: {e}")))?;
    let inv = by_fp.get(&t.signer.fingerprint).ok_or_else(|| {
        ApiError::unauthorized("token refused: the signer is not an active investigator")
    })?;
    if t.nonce > i64::MAX as u64 {
        return Err(ApiError::unauthorized("token refused: nonce out of range"));
    }
    // Tokens are valid for ±window; remembering nonces for twice that covers every replay.
    let fresh = app
        .store
        .use_nonce(&inv.pgpfingerprint, t.nonce, now_ms(), 2 * window * 1000)
        .await?;
    if !fresh {
        return Err(ApiError::unauthorized(
            "token refused: this token was already used (replayed nonce)",
        ));
    }
    Ok(Caller {
        id: inv.id,
        name: inv.name.clone(),
        fingerprint: inv.pgpfingerprint.clone(),
        permission: inv.permission.clone(),
    })
}

/// `mig_<id>_<secret>`
async fn from_api_key(app: &App, key: &str) -> Result<Caller, ApiError> {
    let bad = || ApiError::unauthorized("API key refused");
    let rest = key.strip_prefix("mig_").ok_or_else(bad)?;
    let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
    let id: u64 = id.parse().map_err(|_| bad())?;
    let (inv_id, hash) = app.store.api_key(id).await?.ok_or_else(bad)?;
    if hash_secret(secret) != hash {
        return Err(bad());
    }
    let inv = app.store.get_investigator(inv_id).await?;
    if inv.status != STATUS_ACTIVE {
        return Err(ApiError::unauthorized(format!(
            "investigator {} is {}",
            inv.name, inv.status
        )));
    }
    Ok(Caller {
        id: inv.id,
        name: inv.name,
        fingerprint: inv.pgpfingerprint,
        permission: inv.permission,
    })
}

/// API key secrets are 32 random bytes, so a plain SHA-256 is enough to store them.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new API key: (the key to hand out once, its secret's hash to store).
pub fn new_api_key(id: u64) -> (String, String) {
    let secret: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    (format!("mig_{id}_{secret}"), hash_secret(&secret))
}
