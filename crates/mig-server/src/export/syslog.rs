//! The syslog exporter: RFC 5424 messages over TCP (RFC 6587, octet-counting framing) or TLS
//! (RFC 5425), one per event, the event's JSON as the message.
//!
//! Syslog over TCP has no acknowledgement. A batch counts as delivered once the receiver's
//! kernel acknowledged every byte (the socket's send queue is empty) and, a moment later, the
//! receiver either is still there or closed cleanly (a clean close means it read everything:
//! a receiver closing with unread bytes resets the connection instead). A reset sends the
//! batch again on a new connection, so a receiver that read part of it before dying gets that
//! part twice: every event carries its `id` to drop them by.

use super::connect::{peer, unacknowledged, Endpoint, Peer, Stream};
use super::event::Event;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// local0.info
const PRIORITY: u32 = 16 * 8 + 6;
/// How long the receiver has to acknowledge a batch.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after the acknowledgement a receiver that is stopping would have closed.
const SETTLE: Duration = Duration::from_millis(50);

pub struct Syslog {
    endpoint: Endpoint,
    stream: Option<Box<dyn Stream>>,
}

/// RFC 5424's HOSTNAME: printable US-ASCII without spaces, at most 255 characters, `-` when
/// empty. An agent's name is whatever the agent said: anything else is replaced.
fn hostname(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(255)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

/// One event as an RFC 5424 message, framed with its length.
pub fn frame(event: &Event) -> String {
    let time = if event.time.is_empty() {
        "-".to_string()
    } else {
        event.time.replace("+00:00", "Z")
    };
    let msgid = event.body["type"].as_str().unwrap_or("schedule");
    let message = format!(
        "<{PRIORITY}>1 {time} {} mig - {msgid} - {}",
        hostname(&event.host),
        event.body
    );
    format!("{} {message}", message.len())
}

impl Syslog {
    pub fn new(endpoint: Endpoint) -> Syslog {
        Syslog {
            endpoint,
            stream: None,
        }
    }

    pub async fn deliver(&mut self, events: &[Event]) -> Result<(), String> {
        let mut bytes = String::new();
        for e in events {
            bytes.push_str(&frame(e));
        }
        // A connection the receiver closed since the last batch (it restarted) is replaced
        // before anything is written into it.
        if let Some(stream) = self.stream.as_mut() {
            if peer(stream).await != Peer::Open {
                self.stream = None;
            }
        }
        let result = self.send(bytes.as_bytes()).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.stream.is_none() {
            self.stream = Some(self.endpoint.connect().await?);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err("not connected".into());
        };
        let address = &self.endpoint.address;
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("writing to {address}: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("writing to {address}: {e}"))?;
        let waited = tokio::time::Instant::now();
        while unacknowledged(stream.tcp()) > 0 {
            if waited.elapsed() > ACK_TIMEOUT {
                return Err(format!(
                    "{address} did not take the batch within {ACK_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(SETTLE).await;
        match peer(stream).await {
            Peer::Open => Ok(()),
            // It read the whole batch, then left (a restart): the next batch reconnects.
            Peer::Closed => {
                self.stream = None;
                Ok(())
            }
            Peer::Reset => Err(format!(
                "{address} reset the connection while taking the batch (it had not read all of it)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_rfc5424_framed_by_length() {
        let e = Event {
            id: "1-0-0".into(),
            host: "bad host\n<script>".into(),
            time: "2026-01-02T03:04:05.678+00:00".into(),
            body: json!({"type": "schedule", "id": "1-0-0", "name": "é"}),
        };
        let f = frame(&e);
        let (len, msg) = f.split_once(' ').unwrap();
        assert_eq!(
            len.parse::<usize>().unwrap(),
            msg.len(),
            "octet count, in bytes"
        );
        assert!(
            msg.starts_with("<134>1 2026-01-02T03:04:05.678Z bad_host_<script> mig - schedule - {"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }
}
