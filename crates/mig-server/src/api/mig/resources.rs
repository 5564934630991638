//! MIG's single-object endpoints (action, command, agent, investigator), the dashboard, the
//! action upload, and the unauthenticated heartbeat, ip and publickey.

use super::cljs::{bare_text, Item, Resource};
use super::{id_parameter, Origin};
use crate::api::actions;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::app::{now_ms, App};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use base64::Engine;
use mig_core::Action;
use mig_store::actions::ActionFilter;
use mig_store::investigators::{permission, Investigator};
use mig_store::StoreError;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// What a MIG handler answers: a resource, or a refusal the error layer puts in MIG's form.
pub enum Reply {
    /// Already in MIG's form.
    Resource(Box<Resource>),
    /// Ours, rewritten by the error layer.
    Api(ApiError),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Resource(r) => r.into_response(),
            Reply::Api(e) => e.into_response(),
        }
    }
}

impl From<Box<Resource>> for Reply {
    fn from(r: Box<Resource>) -> Reply {
        Reply::Resource(r)
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Api(e)
    }
}

impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Reply {
        Reply::Api(e.into())
    }
}

pub type MigResult = Result<Resource, Reply>;

/// A store lookup by ID, with MIG's "<What> ID 'N' not found" when there is none.
async fn found<T>(
    lookup: impl std::future::Future<Output = Result<T, StoreError>>,
    what: &str,
    id: u64,
    origin: &Origin,
) -> Result<T, Reply> {
    match lookup.await {
        Ok(v) => Ok(v),
        Err(StoreError::NotFound { .. }) => Err(Box::new(
            Resource::new(origin.location())
                .fail(StatusCode::NOT_FOUND, format!("{what} ID '{id}' not found")),
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// An item holding one object, at MIG's address for it.
fn object(origin: &Origin, kind: &str, id: u64, value: impl Serialize) -> Item {
    Item::new(
        format!("{}/{kind}?{kind}id={id}", origin.base()),
        kind,
        value,
    )
}

/// GET /heartbeat: MIG's liveness answer, word for word.
pub async fn heartbeat(origin: Origin) -> Resource {
    let mut r = Resource::new(origin.location());
    r.push(Item::new(
        origin.path_and_query.clone(),
        "heartbeat",
        "gatorz say hi",
    ));
    r
}

/// GET /ip: the caller's address as this server sees it (MIG's default, the socket's peer),
/// as bare text.
pub async fn ip(peer: Option<Extension<PeerAddr>>) -> Response {
    let ip = peer.map_or_else(
        || "0.0.0.0".to_string(),
        |Extension(p)| p.0.ip().to_string(),
    );
    bare_text(StatusCode::OK, ip)
}

/// The address of the connection a request came on, set by the server for each connection.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// GET /publickey/{fingerprint}: an investigator's armored public key, as bare text.
pub async fn public_key(
    State(app): State<Arc<App>>,
    Path(fingerprint): Path<String>,
) -> Result<Response, Reply> {
    // Fingerprints are stored uppercase; MIG's clients send them as gpg prints them.
    match app
        .store
        .investigator_by_fingerprint(&fingerprint.to_uppercase())
        .await?
    {
        Some(inv) => Ok(bare_text(StatusCode::OK, inv.publickey)),
        None => Ok(bare_text(
            StatusCode::NOT_FOUND,
            format!("Invalid Fingerprint : No PublicKey found for fingerprint '{fingerprint}'"),
        )),
    }
}

/// GET /action?actionid=N
pub async fn action(
    State(app): State<Arc<App>>,
    origin: Origin,
    Query(q): Query<HashMap<String, String>>,
) -> MigResult {
    let id = id_parameter(&q, "actionid", "Action", &origin)?;
    let action = found(app.store.get_action(id), "Action", id, &origin).await?;
    let mut r = Resource::new(origin.location());
    r.push(object(&origin, "action", id, &action));
    Ok(r)
}

/// GET /command?commandid=N, with a link to its action.
pub async fn command(
    State(app): State<Arc<App>>,
    origin: Origin,
    Query(q): Query<HashMap<String, String>>,
) -> MigResult {
    let id = id_parameter(&q, "commandid", "Command", &origin)?;
    let command = found(app.store.get_command(id), "Command", id, &origin).await?;
    let mut r = Resource::new(origin.location());
    let action_href = format!("{}/action?actionid={}", origin.base(), command.action.id);
    r.push(object(&origin, "command", id, &command).link("action", action_href));
    Ok(r)
}

/// GET /agent?agentid=N
pub async fn agent(
    State(app): State<Arc<App>>,
    origin: Origin,
    Query(q): Query<HashMap<String, String>>,
) -> MigResult {
    let id = id_parameter(&q, "agentid", "Agent", &origin)?;
    let agent = found(app.store.get_agent(id), "Agent", id, &origin).await?;
    let mut r = Resource::new(origin.location());
    r.push(object(&origin, "agent", id, &agent));
    Ok(r)
}

/// GET /investigator?investigatorid=N
pub async fn investigator(
    State(app): State<Arc<App>>,
    origin: Origin,
    Query(q): Query<HashMap<String, String>>,
) -> MigResult {
    let id = id_parameter(&q, "investigatorid", "Investigator", &origin)?;
    let inv = found(app.store.get_investigator(id), "Investigator", id, &origin).await?;
    let mut r = Resource::new(origin.location());
    let history = format!(
        "{}/search?type=action&investigatorid={id}&limit=100",
        origin.base()
    );
    r.push(
        object(&origin, "investigator", id, mig_investigator(&inv))
            .link("investigator history", history),
    );
    Ok(r)
}

/// An investigator as MIG writes one: the key as bytes (base64), and MIG's permission flags
/// for what each of this server's three permissions may do.
pub fn mig_investigator(inv: &Investigator) -> serde_json::Value {
    let at_least = |p: &str| permission::allows(&inv.permission, p);
    let (read, act, admin) = (
        at_least(permission::READONLY),
        at_least(permission::INVESTIGATOR),
        at_least(permission::ADMIN),
    );
    let mut v = json!({
        "id": inv.id,
        "name": inv.name,
        "pgpfingerprint": inv.pgpfingerprint,
        "status": inv.status,
        "createdat": inv.createdat,
        "lastmodified": inv.lastmodified,
        "permissions": {
            "search": read, "action": read, "action_create": act, "command": read,
            "agent": read, "dashboard": read,
            // Loaders and manifests are MIG's upgrade machinery, not served here.
            "loader": false, "loader_status": false, "loader_expect": false, "loader_key": false,
            "loader_new": false, "manifest": false, "manifest_sign": false,
            "manifest_status": false, "manifest_new": false, "manifest_loaders": false,
            "investigator": read, "investigator_create": admin, "investigator_update": admin,
        },
    });
    if !inv.publickey.is_empty() {
        v["publickey"] =
            json!(base64::engine::general_purpose::STANDARD.encode(inv.publickey.as_bytes()));
    }
    v
}

/// GET /dashboard: MIG's agent statistics, then the last 10 actions.
pub async fn dashboard(State(app): State<Arc<App>>, origin: Origin) -> MigResult {
    let s = app.store.agents_stats(now_ms()).await?;
    let mut r = Resource::new(origin.location());
    r.push(Item::with_values(
        format!("{}/dashboard", origin.base()),
        vec![
            ("online agents", json!(s.onlineagents)),
            ("online agents by version", json!(s.onlineagentsbyversion)),
            ("online endpoints", json!(s.onlineendpoints)),
            ("idle agents", json!(s.idleagents)),
            ("idle agents by version", json!(s.idleagentsbyversion)),
            ("idle endpoints", json!(s.idleendpoints)),
            ("new endpoints", json!(s.newendpoints)),
            (
                "endpoints running 2 or more agents",
                json!(s.multiagentsendpoints),
            ),
            ("disappeared endpoints", json!(s.disappearedendpoints)),
            ("flapping endpoints", json!(s.flappingendpoints)),
        ],
    ));
    let last = app
        .store
        .list_actions(&ActionFilter {
            limit: 10,
            ..Default::default()
        })
        .await?;
    for a in last {
        r.push(object(&origin, "action", a.id, &a));
    }
    Ok(r)
}

/// POST /action/create/ with the signed action in the form field `action`: checked and
/// stored as `POST /api/v1/actions` does, answered 202 as MIG answers.
pub async fn create_action(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    origin: Origin,
    Form(form): Form<HashMap<String, String>>,
) -> MigResult {
    let text = form
        .get("action")
        .ok_or_else(|| ApiError::bad_request("the form has no 'action' field"))?;
    let action = Action::from_json(text.as_bytes())
        .map_err(|e| ApiError::bad_request(format!("invalid action: {e}")))?;
    let stored = actions::submit(&app, &caller, action).await?;
    let mut r = Resource::new(origin.location()).with_status(StatusCode::ACCEPTED);
    r.push(Item::new(
        format!("{}/action?actionid={}", origin.base(), stored.id),
        format!("action ID {}", stored.id),
        &stored,
    ));
    Ok(r)
}
