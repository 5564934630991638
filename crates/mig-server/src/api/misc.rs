//! Who am I, commands, search, the dashboard, metrics, the OpenAPI document, and health.

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::listing;
use super::params::{check_status, optional_time, Page};
use crate::app::{now_ms, App};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use mig_core::Command;
use mig_store::actions::ActionFilter;
use mig_store::agents::AgentFilter;
use mig_store::commands::CommandFilter;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub async fn heartbeat() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

pub async fn me(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(
        json!({"id": caller.id, "name": caller.name, "pgpfingerprint": caller.fingerprint, "permission": caller.permission}),
    )
}

pub async fn command(State(app): State<Arc<App>>, Path(id): Path<u64>) -> ApiResult<Json<Command>> {
    Ok(Json(app.store.get_command(id).await?))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(rename = "type")]
    kind: String,
    status: Option<String>,
    name: Option<String>,
    after: Option<String>,
    before: Option<String>,
    target: Option<String>,
    actionid: Option<u64>,
    agentid: Option<u64>,
    investigatorid: Option<u64>,
    found: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// GET /api/v1/search?type=action|agent|command|investigator: MIG's search, with its filters.
pub async fn search(
    State(app): State<Arc<App>>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Response> {
    let after = optional_time(q.after.as_deref(), "after")?;
    let before = optional_time(q.before.as_deref(), "before")?;
    let like = q.name.map(|n| n.replace('*', "%"));
    let page = Page::new(q.limit, q.offset);
    let kind = [("type", json!(q.kind))];
    let statuses: &[&str] = match q.kind.as_str() {
        "action" => mig_core::action::status::ALL,
        "agent" => mig_core::agent::status::ALL,
        "command" => mig_core::command::status::ALL,
        _ => &["active", "disabled"],
    };
    check_status(q.status.as_deref(), statuses)?;
    match q.kind.as_str() {
        "action" => {
            let filter = ActionFilter {
                status: q.status,
                name: like,
                after,
                before,
                investigator: q.investigatorid,
                ..Default::default()
            };
            listing::list(&app, &kind, "results", filter, &page).await
        }
        "agent" => {
            let target = q
                .target
                .as_deref()
                .map(mig_core::target::parse)
                .transpose()
                .map_err(ApiError::bad_request)?;
            let filter = AgentFilter {
                status: q.status,
                name: like,
                target,
                after,
                before,
                ..Default::default()
            };
            let agents = listing::AgentsAt {
                filter,
                now_ms: now_ms(),
            };
            listing::list(&app, &kind, "results", agents, &page).await
        }
        "command" => {
            let filter = CommandFilter {
                action_id: q.actionid,
                agent_id: q.agentid,
                found: q.found,
                status: q.status,
                done_since: None,
                ..Default::default()
            };
            listing::list(&app, &kind, "results", filter, &page).await
        }
        "investigator" => {
            let all = app.store.list_investigators(false).await?;
            let name = like.map(|n| n.replace('%', "").to_lowercase());
            let results: Vec<_> = all
                .into_iter()
                .filter(|i| q.status.as_ref().is_none_or(|s| &i.status == s))
                .filter(|i| {
                    name.as_ref()
                        .is_none_or(|n| i.name.to_lowercase().contains(n))
                })
                .collect();
            Ok(Json(json!({"type": q.kind, "results": results})).into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "type: {other:?} is not one of action, agent, command, investigator"
        ))),
    }
}

pub async fn dashboard(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let to_map =
        |v: Vec<(String, i64)>| v.into_iter().collect::<std::collections::BTreeMap<_, _>>();
    let duplicates: Vec<Value> = app
        .store
        .duplicate_agents()
        .await?
        .into_iter()
        .map(|(name, queuelocs)| json!({"name": name, "queuelocs": queuelocs}))
        .collect();
    Ok(Json(json!({
        "agents": to_map(app.store.agent_counts().await?),
        "actions": to_map(app.store.action_counts().await?),
        "duplicate_agents": duplicates,
        "relay_connections": app.hub.connected(),
        "queued_commands": app.store.queued_commands().await?,
    })))
}

/// Prometheus text format.
pub async fn metrics(State(app): State<Arc<App>>) -> ApiResult<impl IntoResponse> {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, rows: &[(String, i64)], label: &str| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (l, n) in rows {
            out.push_str(&format!("{name}{{{label}=\"{l}\"}} {n}\n"));
        }
    };
    gauge(
        "mig_actions",
        "Actions by status.",
        &app.store.action_counts().await?,
        "status",
    );
    gauge(
        "mig_agents",
        "Agents by status.",
        &app.store.agent_counts().await?,
        "status",
    );
    let m = &app.metrics;
    let counters = [
        (
            "mig_results_stored_total",
            "Command results stored.",
            &m.results_stored,
        ),
        (
            "mig_results_duplicate_total",
            "Command results received again and ignored.",
            &m.results_duplicate,
        ),
        (
            "mig_commands_pushed_total",
            "Commands pushed to connected agents.",
            &m.commands_sent,
        ),
        (
            "mig_heartbeats_total",
            "Agent heartbeats received.",
            &m.heartbeats,
        ),
        (
            "mig_relay_refused_total",
            "Agent connections refused.",
            &m.relay_refused,
        ),
        (
            "mig_api_requests_total",
            "Authenticated API requests.",
            &m.api_requests,
        ),
        (
            "mig_schedule_runs_stored_total",
            "Scheduled runs stored.",
            &m.runs_stored,
        ),
        (
            "mig_schedule_runs_refused_total",
            "Scheduled runs dropped: their schedule was never sent to their agent.",
            &m.runs_refused,
        ),
    ];
    for (name, help, c) in counters {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            c.load(Ordering::Relaxed)
        ));
    }
    let sinks = app
        .export_stats
        .get()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (name, help, read) in [
        (
            "mig_export_events_total",
            "Events an exporter delivered.",
            (|s: &crate::export::SinkStats| s.exported.load(Ordering::Relaxed))
                as fn(&crate::export::SinkStats) -> u64,
        ),
        (
            "mig_export_failures_total",
            "Deliveries an exporter failed (and retried).",
            |s| s.failures.load(Ordering::Relaxed),
        ),
        (
            "mig_export_cursor",
            "The last scheduled run an exporter delivered.",
            |s| s.cursor.load(Ordering::Relaxed),
        ),
    ] {
        if sinks.is_empty() {
            break;
        }
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for s in sinks {
            out.push_str(&format!(
                "{name}{{sink=\"{}\",kind=\"{}\"}} {}\n",
                s.name,
                s.kind,
                read(s)
            ));
        }
    }
    out.push_str(&format!(
        "# HELP mig_relay_connections Agents connected to this process.\n# TYPE mig_relay_connections gauge\nmig_relay_connections {}\n",
        app.hub.connected()
    ));
    out.push_str(&format!(
        "# HELP mig_commands_queued Commands waiting for delivery.\n# TYPE mig_commands_queued gauge\nmig_commands_queued {}\n",
        app.store.queued_commands().await?
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
