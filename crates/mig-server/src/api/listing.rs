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

/// Actions matching `filter`, under `key`, one budgeted page.
pub async fn actions(
    app: &Arc<App>,
    fields: &[(&str, serde_json::Value)],
    key: &str,
    filter: ActionFilter,
    page: &Page,
) -> ApiResult<Response> {
    budgeted(fields, key, page, |offset, limit| {
        let (app, filter) = (
            app.clone(),
            ActionFilter {
                offset,
                limit,
                ..filter.clone()
            },
        );
        async move { app.store.list_actions(&filter).await }
    })
    .await
}

/// Agents matching `filter` (statuses as of `now_ms`), under `key`, one budgeted page.
pub async fn agents(
    app: &Arc<App>,
    fields: &[(&str, serde_json::Value)],
    key: &str,
    filter: AgentFilter,
    page: &Page,
    now_ms: i64,
) -> ApiResult<Response> {
    budgeted(fields, key, page, |offset, limit| {
        let (app, filter) = (
            app.clone(),
            AgentFilter {
                offset,
                limit,
                ..filter.clone()
            },
        );
        async move { app.store.list_agents(&filter, now_ms).await }
    })
    .await
}

/// Commands matching `filter`, under `key`, one budgeted page.
pub async fn commands(
    app: &Arc<App>,
    fields: &[(&str, serde_json::Value)],
    key: &str,
    filter: CommandFilter,
    page: &Page,
) -> ApiResult<Response> {
    budgeted(fields, key, page, |offset, limit| {
        let (app, filter) = (
            app.clone(),
            CommandFilter {
                offset,
                limit,
                ..filter.clone()
            },
        );
        async move { app.store.list_commands(&filter).await }
    })
    .await
}
