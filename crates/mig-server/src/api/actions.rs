//! Actions: create (signed), read, list, cancel, their commands, and a live stream of results.

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::listing;
use super::params::{check_status, optional_time, Page};
use crate::app::{now_ms, App};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Response;
use axum::{Extension, Json};
use mig_core::{Action, GoTime};
use mig_pgp::{verify_action, Window};
use mig_store::actions::ActionFilter;
use mig_store::commands::CommandFilter;
use mig_store::investigators::permission;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// POST /api/v1/actions: a signed action. The signers must be active investigators (and,
/// when the server has a copy of the agents' ACL, weigh enough for every module).
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Action>)> {
    caller.require(permission::INVESTIGATOR)?;
    let action = Action::from_json(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid action: {e}")))?;
    Ok((
        StatusCode::CREATED,
        Json(submit(&app, &caller, action).await?),
    ))
}

/// A schedule runs other modules: the agents' ACL must let the signers run each of them too
/// (the agents check this again, with the modules' own parameter checks).
fn check_scheduled_modules(
    acl: &mig_core::Acl,
    action: &Action,
    verified: &mig_pgp::VerifiedAction,
) -> ApiResult<()> {
    let mut decompressed = action.clone();
    if decompressed.decompress_operations().is_err() {
        return Ok(());
    }
    let fingerprints: Vec<String> = verified
        .signers
        .iter()
        .map(|s| s.fingerprint.clone())
        .collect();
    for op in &decompressed.operations {
        if op.module != mig_core::schedule::SCHEDULE_MODULE {
            continue;
        }
        for module in mig_core::schedule::inner_modules(&op.parameters) {
            acl.check_module(&module, &fingerprints).map_err(|e| {
                ApiError::forbidden(format!(
                    "the agents' ACL would refuse this schedule: it runs module {module}: {e}"
                ))
            })?;
        }
    }
    Ok(())
}

/// Checks a signed action as the agents will (and more: its size, its target, who signed it),
/// stores it for the scheduler and returns it as stored. Shared by this API and MIG's
/// `POST /api/v1/action/create/`.
pub async fn submit(app: &App, caller: &Caller, mut action: Action) -> ApiResult<Action> {
    caller.require(permission::INVESTIGATOR)?;
    let now = GoTime::now();
    action
        .validate(now)
        .map_err(|e| ApiError::bad_request(format!("invalid action: {e}")))?;
    // The agents' caps on an action, checked here too: an action they would refuse is not
    // stored, queued and sent to every agent first.
    action
        .clone()
        .decompress_operations()
        .map_err(|e| ApiError::bad_request(format!("invalid action: {e}")))?;
    mig_core::target::parse(&action.target).map_err(ApiError::bad_request)?;
    let (keyring, by_fp) = app.investigator_keys().await?;
    // The window is the agents' business: actions may be launched for later.
    let verified = verify_action(&action, &keyring, app.acl.as_ref(), now, Window::Ignore)
        .map_err(|e| match e {
            mig_pgp::Refusal::Acl { .. } => {
                ApiError::forbidden(format!("the agents' ACL would refuse this action: {e}"))
            }
            other => ApiError::bad_request(format!("action refused: {other}")),
        })?;
    if let Some(acl) = &app.acl {
        check_scheduled_modules(acl, &action, &verified)?;
    }
    let mut signers = Vec::new();
    for (s, sig) in verified.signers.iter().zip(&action.pgpsignatures) {
        let inv = by_fp.get(&s.fingerprint).ok_or_else(|| {
            ApiError::bad_request(format!(
                "signer {} is not an active investigator",
                s.fingerprint
            ))
        })?;
        // A signature is a decision to run the action: only those who may create actions
        // may make one count (a read-only investigator's signature does not, whoever submits).
        if inv.permission == permission::READONLY {
            return Err(ApiError::forbidden(format!(
                "{} signed the action but is a read-only investigator: only investigators and admins may sign actions",
                inv.name
            )));
        }
        if signers.iter().any(|(id, _)| *id == inv.id) {
            return Err(ApiError::bad_request(format!(
                "{} signed the action twice",
                inv.name
            )));
        }
        signers.push((inv.id, sig.clone()));
    }
    // What the server records about the action is its own, not the submitter's.
    action.id = mig_core::id::generate();
    action.status = Default::default();
    action.reason.clear();
    action.investigators.clear();
    action.counters = Default::default();
    action.starttime = GoTime::zero();
    action.finishtime = GoTime::zero();
    action.lastupdatetime = GoTime::zero();
    app.store
        .insert_action(&action, &signers, caller.id, now_ms())
        .await?;
    app.wake_scheduler.notify_one();
    // Schedulers in other processes (scale-out) start on it now rather than at their next tick.
    if let Err(e) = app.store.announce_new_action().await {
        tracing::warn!("schedulers not told about action {}: {e}", action.id);
    }
    tracing::info!(
        "action {} '{}' created by {}",
        action.id,
        action.name,
        caller.name
    );
    Ok(app.store.get_action(action.id).await?)
}

pub async fn get(State(app): State<Arc<App>>, Path(id): Path<u64>) -> ApiResult<Json<Action>> {
    Ok(Json(app.store.get_action(id).await?))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    name: Option<String>,
    after: Option<String>,
    before: Option<String>,
    investigator: Option<u64>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Response> {
    check_status(q.status.as_deref(), mig_core::action::status::ALL)?;
    let page = Page::new(q.limit, q.offset);
    let filter = ActionFilter {
        status: q.status,
        name: q.name,
        after: optional_time(q.after.as_deref(), "after")?,
        before: optional_time(q.before.as_deref(), "before")?,
        investigator: q.investigator,
        ..Default::default()
    };
    listing::list(&app, &[], "actions", filter, &page).await
}

pub async fn cancel(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    caller.require(permission::INVESTIGATOR)?;
    let n = app.store.cancel_action(id, now_ms()).await?;
    tracing::info!("action {id} cancelled by {} ({n} commands)", caller.name);
    Ok(Json(json!({"id": id, "cancelled": n})))
}

#[derive(Deserialize)]
pub struct CommandsQuery {
    /// `true`: found something; `false`: answered without finding anything.
    found: Option<bool>,
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn commands(
    State(app): State<Arc<App>>,
    Path(id): Path<u64>,
    Query(q): Query<CommandsQuery>,
) -> ApiResult<Response> {
    app.store.get_action(id).await?;
    check_status(q.status.as_deref(), mig_core::command::status::ALL)?;
    let filter = CommandFilter {
        action_id: Some(id),
        found: q.found,
        status: q.status,
        ..Default::default()
    };
    listing::list(&app, &[], "commands", filter, &Page::new(q.limit, q.offset)).await
}

/// Commands read per query while streaming (every answered one is sent, however many).
const STREAM_PAGE: i64 = 5_000;

/// GET /api/v1/actions/{id}/stream: Server-Sent Events, one `command` event per result as it
/// is stored, `counters` after each batch, and `done` once the action has finished.
pub async fn stream(
    State(app): State<Arc<App>>,
    Path(id): Path<u64>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    app.store.get_action(id).await?;
    struct Cursor {
        app: Arc<App>,
        id: u64,
        seen: HashSet<u64>,
        since: i64,
        queue: std::collections::VecDeque<Event>,
        finished: bool,
    }
    let cursor = Cursor {
        app,
        id,
        seen: HashSet::new(),
        since: 0,
        queue: Default::default(),
        finished: false,
    };
    let events = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.queue.pop_front() {
                return Some((Ok(e), c));
            }
            if c.finished {
                return None;
            }
            let poll_start = now_ms();
            // The action first, its commands second: a result stored between the two reads
            // then shows up in this poll's commands, instead of the action reading finished
            // while that last command was never sent.
            let action = c.app.store.get_action(c.id).await;
            // Overlap the last poll: a transaction may commit a little after its timestamp.
            let cmds = c
                .app
                .store
                .commands_done_since(c.id, c.since - 2_000, STREAM_PAGE)
                .await;
            let (cmds, action) = match (cmds, action) {
                (Ok(cmds), Ok(a)) => (cmds, a),
                (Err(e), _) | (_, Err(e)) => {
                    c.queue
                        .push_back(Event::default().event("error").data(e.to_string()));
                    c.finished = true;
                    continue;
                }
            };
            let mut new = 0;
            for cmd in cmds {
                if c.seen.insert(cmd.id) {
                    new += 1;
                    let data = serde_json::to_string(&cmd).unwrap_or_default();
                    c.queue
                        .push_back(Event::default().event("command").data(data));
                }
            }
            c.since = poll_start;
            let done = action.status.is_finished();
            if new > 0 || done {
                let counters = serde_json::to_string(
                    &json!({"status": action.status, "counters": action.counters}),
                )
                .unwrap_or_default();
                c.queue
                    .push_back(Event::default().event("counters").data(counters));
            }
            if done {
                c.queue
                    .push_back(Event::default().event("done").data(action.status.as_str()));
                c.finished = true;
                continue;
            }
            if new == 0 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
