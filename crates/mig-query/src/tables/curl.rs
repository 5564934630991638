//! curl: one HTTP(S) GET per `url`, as osquery's table makes it, for checks such as "does
//! this host reach the update server, and what does it answer". It reaches other machines:
//! it runs only where the ACL names it (`query:curl`), and only its query's sandbox may open
//! network sockets.

use super::super::row::table_row;
use super::super::schema::*;
use std::time::{Duration, Instant};

/// osquery's user agent when the query gives none.
const DEFAULT_USER_AGENT: &str = "osquery";
/// How long connecting, and each read, may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_ANSWER: u64 = 16 << 20;

table_row! {
    /// One request and its answer.
    struct CurlRow {
        url: text = "The url for the request",
        method: text = "The HTTP method for the request",
        user_agent: text = "The user-agent string to use for the request",
        response_code: Option<integer> = "The HTTP status code for the response",
        round_trip_time: Option<bigint> = "Time taken to complete the request",
        bytes: Option<bigint> = "Number of bytes in the response",
        result: Option<text> = "The HTTP response body",
    }
}

pub(crate) static CURL: Table = Table {
    name: "curl",
    about: "Perform an http request and return stats about it: a GET of each `url` (`=` or `IN`; http or https, the system's certificate authorities, no redirects followed), with `user_agent` (`=`) or osquery's. `round_trip_time` is in microseconds. A request that fails has NULL answer columns.",
    columns: CurlRow::COLUMNS,
    index: &["url", "user_agent"],
    required: &["url"],
    like: &[],
    generate: gen_curl,
    reach: Reach::Network,
    example: "SELECT url, response_code, bytes FROM curl WHERE url = 'http://127.0.0.1:1/'",
};

fn gen_curl(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let urls = q.texts("url").ok_or_else(|| q.table.missing_required())?;
    let user_agent = match q.texts("user_agent").as_deref() {
        None => DEFAULT_USER_AGENT.to_string(),
        Some([one]) => one.clone(),
        Some(_) => return Err("curl: give one user_agent, not several".into()),
    };
    let timeout = q
        .budget
        .remaining()
        .map_or(REQUEST_TIMEOUT, |left| left.min(REQUEST_TIMEOUT))
        .max(Duration::from_millis(1));
    let mut rows = Vec::new();
    for url in urls {
        q.check()?;
        let start = Instant::now();
        let answer = mig_host::http::get(&url, &user_agent, timeout, MAX_ANSWER);
        let micros = i64::try_from(start.elapsed().as_micros()).unwrap_or(i64::MAX);
        let (response_code, round_trip_time, bytes, result) = match answer {
            Ok(r) => (
                Some(i64::from(r.status)),
                Some(micros),
                Some(r.body.len() as i64),
                Some(String::from_utf8_lossy(&r.body).into_owned()),
            ),
            Err(_) => (None, None, None, None),
        };
        rows.push(CurlRow {
            url,
            method: "GET".into(),
            user_agent: user_agent.clone(),
            response_code,
            round_trip_time,
            bytes,
            result,
        });
    }
    Ok(VecRows::boxed(rows))
}
