//! Agents: list/search, detail, and the target preview.

use super::error::{ApiError, ApiResult};
use super::listing;
use super::params::{check_status, optional_time, Page};
use crate::app::{now_ms, App};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use mig_core::Agent;
use mig_store::agents::AgentFilter;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    name: Option<String>,
    /// A target expression, as in actions.
    target: Option<String>,
    after: Option<String>,
    before: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Response> {
    check_status(q.status.as_deref(), mig_core::agent::status::ALL)?;
    let target = q
        .target
        .as_deref()
        .map(mig_core::target::parse)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let filter = AgentFilter {
        status: q.status,
        name: q.name,
        target,
        after: optional_time(q.after.as_deref(), "after")?,
        before: optional_time(q.before.as_deref(), "before")?,
        ..Default::default()
    };
    let agents = listing::AgentsAt {
        filter,
        now_ms: now_ms(),
    };
    listing::list(&app, &[], "agents", agents, &Page::new(q.limit, q.offset)).await
}

pub async fn get(State(app): State<Arc<App>>, Path(id): Path<u64>) -> ApiResult<Json<Agent>> {
    Ok(Json(app.store.get_agent(id).await?))
}

#[derive(Deserialize)]
pub struct PreviewBody {
    target: String,
    #[serde(default = "default_sample")]
    sample: i64,
}

fn default_sample() -> i64 {
    10
}

/// POST /api/v1/target/preview: how many agents a target selects, and a few of them.
pub async fn preview(
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let req: PreviewBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    let target = mig_core::target::parse(&req.target).map_err(ApiError::bad_request)?;
    let (count, agents) = app
        .store
        .preview_target(&target, now_ms(), req.sample.clamp(0, 1000))
        .await?;
    Ok(Json(
        json!({"target": req.target, "count": count, "agents": agents}),
    ))
}
