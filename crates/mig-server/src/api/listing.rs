//! Lists answered within a response budget. A page of actions or commands can be large (a
//! command holds its results, up to the relay's message cap; an action its parameters): the
//! server reads a list a few rows at a time, writes each row's JSON as it goes, and stops at
//! about [`RESPONSE_BUDGET`] bytes, saying where the next page starts (`next_offset`). Four
//! `limit=10000` reads at once then cost a few tens of MiB, not gigabytes.

use super::error::ApiResult;
use super::params::Page;
use crate::app::App;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mig_store::actions::ActionFilter;
use mig_store::agents::AgentFilter;
use mig_store::commands::CommandFilter;
use mig_store::StoreError;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

/// Bytes of JSON one list response holds at most (one row more when the first row alone is
/// larger).
pub const RESPONSE_BUDGET: usize = 8 << 20;
/// Rows read by the first query; later queries size themselves on the rows seen.
const FIRST_FETCH: i64 = 20;
/// Rows read by one query at most.
const MAX_FETCH: i64 = 500;

/// `{<fields>, "<key>": [rows…], "next_offset": N}`: at most `page.limit()` rows from
/// `fetch(offset, limit)`, within the budget; `next_offset` only when the budget cut the list.
pub async fn budgeted<T, F, Fut>(
    fields: &[(&str, serde_json::Value)],
    key: &str,
    page: &Page,
    fetch: F,
) -> ApiResult<Response>
where
    T: Serialize,
    F: Fn(i64, i64) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let limit = page.limit();
    let mut offset = page.offset();
    let mut body = Vec::with_capacity(4096);
    body.push(b'{');
    for (name, value) in fields {
        body.extend(serde_json::to_vec(name).unwrap_or_default());
        body.push(b':');
        body.extend(serde_json::to_vec(value).unwrap_or_default());
        body.push(b',');
    }
    body.extend(serde_json::to_vec(key).unwrap_or_default());
    body.extend(b":[");
    let rows_start = body.len();
    let mut count = 0i64;
    let mut cut_at = None;
    let mut fetch_size = FIRST_FETCH;
    'pages: while count < limit {
        let want = fetch_size.min(limit - count);
        let rows = fetch(offset, want).await?;
        let got = rows.len() as i64;
        for row in rows {
            let json = serde_json::to_vec(&row).map_err(anyhow::Error::from)?;
            if count > 0 && body.len() + json.len() > RESPONSE_BUDGET {
                cut_at = Some(offset);
                break 'pages;
            }
            if count > 0 {
                body.push(b',');
            }
            body.extend(json);
            count += 1;
            offset += 1;
        }
        if got < want {
            break;
        }
        let per_row = ((body.len() - rows_start) / count.max(1) as usize).max(1);
        fetch_size =
            ((RESPONSE_BUDGET.saturating_sub(body.len()) / per_row) as i64 + 1).clamp(1, MAX_FETCH);
    }
    body.push(b']');
    if let Some(next) = cut_at {
        body.extend(format!(",\"next_offset\":{next}").as_bytes());
    }
    body.push(b'}');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A store listing that [`list`] pages through: a filter that can be narrowed to one page,
/// and the store call that reads it.
pub trait Listing: Clone + Send + Sync {
    /// What one row of the listing is.
    type Row: Serialize;
    /// The same filter, for `limit` rows from `offset`.
    fn page(&self, offset: i64, limit: i64) -> Self;
    /// Reads the rows.
    fn fetch(&self, app: &App) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send;
}

impl Listing for ActionFilter {
    type Row = mig_core::Action;
    fn page(&self, offset: i64, limit: i64) -> Self {
        ActionFilter {
            offset,
            limit,
            ..self.clone()
        }
    }
    async fn fetch(&self, app: &App) -> Result<Vec<Self::Row>, StoreError> {
        app.store.list_actions(self).await
    }
}

impl Listing for CommandFilter {
    type Row = mig_core::Command;
    fn page(&self, offset: i64, limit: i64) -> Self {
        CommandFilter {
            offset,
            limit,
            ..self.clone()
        }
    }
    async fn fetch(&self, app: &App) -> Result<Vec<Self::Row>, StoreError> {
        app.store.list_commands(self).await
    }
}

/// Agents matching a filter, with their statuses as of `now_ms` (a target's `NOW()`).
#[derive(Clone)]
pub struct AgentsAt {
    /// Which agents.
    pub filter: AgentFilter,
    /// The time the target's `NOW()` stands for, Unix ms.
    pub now_ms: i64,
}

impl Listing for AgentsAt {
    type Row = mig_core::Agent;
    fn page(&self, offset: i64, limit: i64) -> Self {
        AgentsAt {
            filter: AgentFilter {
                offset,
                limit,
                ..self.filter.clone()
            },
            now_ms: self.now_ms,
        }
    }
    async fn fetch(&self, app: &App) -> Result<Vec<Self::Row>, StoreError> {
        app.store.list_agents(&self.filter, self.now_ms).await
    }
}

/// The rows `listing` selects, under `key`, one budgeted page.
pub async fn list<L: Listing>(
    app: &Arc<App>,
    fields: &[(&str, serde_json::Value)],
    key: &str,
    listing: L,
    page: &Page,
) -> ApiResult<Response> {
    budgeted(fields, key, page, |offset, limit| {
        let (app, one_page) = (app.clone(), listing.page(offset, limit));
        async move { one_page.fetch(&app).await }
    })
    .await
}
