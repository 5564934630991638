//! Query parameters shared by the listing endpoints.

use super::error::ApiError;
use serde::Deserialize;

/// `limit` (default 100, at most 10,000) and `offset`.
#[derive(Deserialize, Default)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

impl Page {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 10_000)
    }
    pub fn offset(&self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }
}

/// An RFC 3339 time in a query parameter, as Unix milliseconds.
pub fn parse_time(text: &str, name: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| ApiError::bad_request(format!("{name}: {text:?} is not an RFC 3339 time: {e}")))
}
