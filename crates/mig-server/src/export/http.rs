//! The HTTP bulk exporter: batches of events POSTed in Elasticsearch's and OpenSearch's
//! `_bulk` format (an `index` line naming the index and the event's `id` as `_id`, then the
//! event), so that a batch sent twice overwrites the same documents instead of adding
//! copies. A batch counts as delivered when the answer is 2xx and says `"errors": false`.

use super::connect::Endpoint;
use super::event::Event;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::time::Duration;

/// How long one bulk request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The most of an answer that is read.
const MAX_ANSWER: usize = 16 << 20;

pub struct Bulk {
    endpoint: Endpoint,
    /// `host[:port]`, for the Host header.
    host: String,
    /// The request's path (`/_bulk`).
    path: String,
    index: String,
    /// The Authorization header's value, if any (`ApiKey …`, `Basic …`).
    authorization: String,
}

/// `http[s]://host[:port]/path` → (tls, host:port, Host header, path).
pub fn split_url(url: &str) -> anyhow::Result<(bool, String, String, String)> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        anyhow::bail!("{url:?} is not an http:// or https:// URL");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/_bulk"),
    };
    if authority.is_empty() || authority.contains('@') {
        anyhow::bail!(
            "{url:?}: expected http[s]://host[:port]/path (credentials go in `authorization`)"
        );
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok() && !authority.ends_with(']'));
    let address = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Ok((tls, address, authority.to_string(), path.to_string()))
}

/// The `_bulk` body of a batch.
pub fn bulk_body(index: &str, events: &[Event]) -> String {
    let mut body = String::new();
    for e in events {
        body.push_str(&json!({"index": {"_index": index, "_id": e.id}}).to_string());
        body.push('\n');
        body.push_str(&e.body.to_string());
        body.push('\n');
    }
    body
}

impl Bulk {
    pub fn new(
        endpoint: Endpoint,
        host: String,
        path: String,
        index: String,
        authorization: String,
    ) -> Bulk {
        Bulk {
            endpoint,
            host,
            path,
            index,
            authorization,
        }
    }

    pub async fn deliver(&mut self, events: &[Event]) -> Result<(), String> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.post(bulk_body(&self.index, events)))
            .await
            .map_err(|_| {
                format!(
                    "{} did not answer within {REQUEST_TIMEOUT:?}",
                    self.endpoint.address
                )
            })?
    }

    async fn post(&self, body: String) -> Result<(), String> {
        let address = &self.endpoint.address;
        let stream = self.endpoint.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP with {address}: {e}"))?;
        let driver = tokio::spawn(connection);
        let mut request = hyper::Request::post(&self.path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "application/x-ndjson");
        if !self.authorization.is_empty() {
            request = request.header(hyper::header::AUTHORIZATION, &self.authorization);
        }
        let request = request
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("POST {}{}: {e}", address, self.path))?;
        let status = response.status();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
        let answer = limited
            .collect()
            .await
            .map_err(|e| format!("reading the answer of {address}: {e}"))?
            .to_bytes();
        driver.abort();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&answer);
            return Err(format!(
                "{address} answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        check_answer(&answer).map_err(|e| format!("{address}: {e}"))
    }
}

/// A `_bulk` answer: `"errors": false`, or the first item's error.
pub fn check_answer(answer: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(answer)
        .map_err(|e| format!("the answer is not _bulk's JSON: {e}"))?;
    match v.get("errors") {
        Some(Value::Bool(false)) => Ok(()),
        Some(Value::Bool(true)) => {
            let first = v["items"]
                .as_array()
                .and_then(|items| {
                    items.iter().find_map(|i| {
                        let item = i.as_object()?.values().next()?;
                        item.get("error").map(|e| e.to_string())
                    })
                })
                .unwrap_or_else(|| "(no error given)".into());
            Err(format!("the receiver refused some events: {first}"))
        }
        _ => Err("the answer has no \"errors\" field: not a _bulk endpoint?".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_bodies_and_answers() {
        let (tls, addr, host, path) = split_url("https://es.example:9200/_bulk").unwrap();
        assert!(tls);
        assert_eq!(
            (addr.as_str(), host.as_str(), path.as_str()),
            ("es.example:9200", "es.example:9200", "/_bulk")
        );
        let (tls, addr, _, path) = split_url("http://127.0.0.1").unwrap();
        assert!(!tls);
        assert_eq!((addr.as_str(), path.as_str()), ("127.0.0.1:80", "/_bulk"));
        assert!(split_url("ftp://x").is_err());
        assert!(split_url("https://user:pw@x/_bulk").is_err());

        let e = Event {
            id: "5-0-1".into(),
            host: "h".into(),
            time: String::new(),
            body: json!({"a": 1}),
        };
        // Key order depends on serde_json's features in the build: compare values.
        let body = bulk_body("mig", &[e]);
        assert!(body.ends_with('\n'));
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            vec![
                json!({"index": {"_index": "mig", "_id": "5-0-1"}}),
                json!({"a": 1})
            ]
        );
        assert!(check_answer(br#"{"took":1,"errors":false,"items":[]}"#).is_ok());
        let err = check_answer(br#"{"errors":true,"items":[{"index":{"status":400,"error":{"type":"mapper_parsing_exception"}}}]}"#).unwrap_err();
        assert!(err.contains("mapper_parsing_exception"), "{err}");
        assert!(check_answer(b"<html>").is_err());
    }
}
