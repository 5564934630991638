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

/// 404 unless action `id` exists and is a schedule.
async fn require_schedule(app: &App, id: u64) -> ApiResult<()> {
    let not_found = || ApiError::not_found(format!("schedule {id} not found"));
    let mut action = match app.store.get_action(id).await {
        Ok(a) => a,
        Err(mig_store::StoreError::NotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let is_schedule = action.decompress_operations().is_ok()
        && action.operations.first().map(|o| o.module.as_str())
            == Some(mig_core::schedule::SCHEDULE_MODULE);
    if is_schedule {
        Ok(())
    } else {
        Err(not_found())
    }
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
    require_schedule(&app, id).await?;
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

/// GET /api/v1/schedules/{id}/snapshot: every agent's differential queries as full tables,
/// rebuilt from the runs stored (the first run is a snapshot; each later one applied in
/// order). An agent whose runs have gaps (runs it sent that never arrived), or none that was a
/// snapshot, gets `"complete": false`.
pub async fn snapshot(State(app): State<Arc<App>>, Path(id): Path<u64>) -> ApiResult<Json<Value>> {
    use mig_core::schedule::{Replay, RowChanges};
    use std::collections::BTreeMap;
    require_schedule(&app, id).await?;
    struct AgentState {
        name: String,
        seqs: Vec<u64>,
        tables: BTreeMap<usize, Replay>,
    }
    let mut agents: BTreeMap<u64, AgentState> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = app
            .store
            .runs_after(Some(id), after, 1000, i64::MAX)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        for run in page {
            let agent = agents.entry(run.agent_id).or_insert_with(|| AgentState {
                name: run.agent_name.clone(),
                seqs: Vec::new(),
                tables: BTreeMap::new(),
            });
            agent.seqs.push(run.seq);
            for (op, result) in run.results.iter().enumerate() {
                if let Ok(changes) = serde_json::from_value::<RowChanges>(result.elements.clone()) {
                    agent.tables.entry(op).or_default().apply(&changes);
                }
            }
        }
    }
    let agents: Vec<Value> = agents
        .into_iter()
        .map(|(agent_id, a)| {
            let mut seqs = a.seqs;
            seqs.sort_unstable();
            seqs.dedup();
            let last = seqs.last().copied().unwrap_or(0);
            let missing = last.saturating_sub(seqs.len() as u64);
            let operations: Vec<Value> = a
                .tables
                .into_iter()
                .map(|(op, r)| {
                    json!({"operation": op, "columns": r.columns, "rows": r.rows,
                        "rowcount": r.rows.len(), "complete": r.from_snapshot && missing == 0})
                })
                .collect();
            json!({"agent": {"id": agent_id, "name": a.name}, "lastrun": last,
                "missing_runs": missing, "operations": operations})
        })
        .collect();
    Ok(Json(json!({"schedule": id, "agents": agents})))
}
