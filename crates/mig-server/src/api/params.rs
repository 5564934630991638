//! Query parameters shared by the listing endpoints.

use super::error::ApiError;

/// `limit` (default 100, at most 10,000) and `offset`. Each query struct carries the two
/// fields itself: serde's `flatten` loses the numbers' types in query strings.
#[derive(Default)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

impl Page {
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Page {
        Page { limit, offset }
    }

    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 10_000)
    }
    pub fn offset(&self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }
}

/// A query's optional RFC 3339 `name` parameter, as Unix milliseconds.
pub fn optional_time(text: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    text.map(|t| parse_time(t, name)).transpose()
}

/// An RFC 3339 time in a query parameter, as Unix milliseconds.
pub fn parse_time(text: &str, name: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            ApiError::bad_request(format!("{name}: {text:?} is not an RFC 3339 time: {e}"))
        })
}

/// A `status` filter must name a status that exists: a typo would otherwise list nothing and
/// look like an answer.
pub fn check_status(status: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match status {
        Some(s) if !allowed.contains(&s) => Err(ApiError::bad_request(format!(
            "status: {s:?} is not one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}
