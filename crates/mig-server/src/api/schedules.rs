//! Signed schedules as investigators follow them: each schedule with its agents and what
//! their runs found, and the runs themselves.

use super::error::{ApiError, ApiResult};
use crate::app::{now_ms, App};
use axum::extract::{Path, Query, State};
use axum::Json;
use mig_store::schedules::{ScheduleSummary, StoredRun};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

fn rfc3339(ms: i64) -> Value {
    if ms == 0 {
        return Value::Null;
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

fn summary_json(s: &ScheduleSummary) -> Value {
    let status = if s.cancelled {
        "cancelled"
    } else if s.expireafter_ms <= now_ms() {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": s.id, "name": s.name, "target": s.target, "status": status,
        "expireafter": rfc3339(s.expireafter_ms), "agents": s.agents, "runs": s.runs,
        "lastrun": rfc3339(s.last_run_ms), "added": s.added, "removed": s.removed,
        "alerts": s.alerts,
    })
}

/// A run as the API and the exporters show it.
pub fn run_json(r: &StoredRun) -> Value {
    json!({
        "id": r.id, "schedule": r.schedule, "name": r.name,
        "agent": {"id": r.agent_id, "name": r.agent_name},
        "seq": r.seq, "ranat": rfc3339(r.ranat_ms), "status": r.status,
        "added": r.added, "removed": r.removed, "alert": r.alert, "results": r.results,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
}

/// GET /api/v1/schedules: the newest schedules first.
pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let schedules = app
        .store
        .schedule_summaries(q.limit.unwrap_or(100).clamp(1, 10_000))
        .await?;
    Ok(Json(
        json!({"schedules": schedules.iter().map(summary_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
pub struct RunsQuery {
    /// Runs after this run ID (the previous page's `next`).
    after: Option<u64>,
    limit: Option<i64>,
}

/// GET /api/v1/schedules/{id}/runs: a schedule's runs, oldest first, a page at a time.
pub async fn runs(
    State(app): State<Arc<App>>,
    Path(id): Path<u64>,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Value>> {
    let exists = app
        .store
        .schedule_summaries(10_000)
        .await?
        .iter()
        .any(|s| s.id == id);
    if !exists {
        return Err(ApiError::not_found(format!("schedule {id} not found")));
    }
    let runs = app
        .store
        .runs_after(
            Some(id),
            q.after.unwrap_or(0),
            q.limit.unwrap_or(100).clamp(1, 10_000),
            i64::MAX,
        )
        .await?;
    let next = runs.last().map_or(q.after.unwrap_or(0), |r| r.id);
    Ok(Json(json!({
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        "next": next,
    })))
}
