//! Agent side of the built-in relay: connect out (optionally through an HTTP CONNECT proxy),
//! prove the agent's identity, then exchange messages.

use crate::protocol::{sign_challenge, AgentMessage, ServerMessage};
use ed25519_dalek::SigningKey;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use mig_core::Agent;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Stream = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Why a connection attempt or a session failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay URL is not `wss://host[:port][/path]`.
    #[error("invalid relay URL {0:?}: expected wss://host:port[/path]")]
    Url(String),
    /// TCP, the proxy, TLS or the WebSocket handshake failed or timed out (where, why).
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    /// The server answered with an error, or closed the connection, instead of welcoming
    /// the agent.
    #[error("the relay refused us: {0}")]
    Refused(String),
    /// The server said something unexpected, or nothing in time, during the handshake; or a
    /// message could not be encoded.
    #[error("relay protocol error: {0}")]
    Protocol(String),
    /// The connection broke after it was established.
    #[error("connection lost: {0}")]
    Lost(String),
}

/// How an agent reaches the built-in relay.
#[derive(Clone)]
pub struct ClientSettings {
    /// `wss://host:port/path`
    pub url: String,
    /// The TLS configuration: the deployment's CA, and the agents' client certificate.
    pub tls: Arc<rustls::ClientConfig>,
    /// `host:port` of an HTTP proxy that allows CONNECT, if the agent must use one.
    pub proxy: Option<String>,
    /// The largest message taken from the server, in bytes.
    pub max_message: usize,
    /// How long each step of connecting may take: TCP, TLS, WebSocket, challenge, welcome.
    pub timeout: Duration,
}

/// Host, port and path of a `wss://` URL.
pub fn parse_url(url: &str) -> Result<(String, u16, String), RelayError> {
    let bad = || RelayError::Url(url.to_string());
    let rest = url.strip_prefix("wss://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').ok_or_else(bad)?;
        (h.to_string(), p.strip_prefix(':').unwrap_or("443"))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (authority.to_string(), "443"),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port.parse().map_err(|_| bad())?, path))
}

/// A connected, authenticated session.
pub struct Session {
    /// The server's ID for the agent, from the welcome.
    pub agent_id: u64,
    /// Where the agent's messages go.
    pub sender: SessionSender,
    /// Where the server's messages arrive.
    pub receiver: SessionReceiver,
}

/// The sending half of a session.
pub struct SessionSender(SplitSink<Stream, Message>);
/// The receiving half of a session.
pub struct SessionReceiver(SplitStream<Stream>);

impl SessionSender {
    /// Sends a message as a JSON text frame.
    pub async fn send(&mut self, msg: &AgentMessage) -> Result<(), RelayError> {
        let text = serde_json::to_string(msg).map_err(|e| RelayError::Protocol(e.to_string()))?;
        self.0
            .send(Message::text(text))
            .await
            .map_err(|e| RelayError::Lost(e.to_string()))
    }

    /// Sends an already-encoded frame (see `protocol::result_frame`).
    pub async fn send_text(&mut self, text: String) -> Result<(), RelayError> {
        self.0
            .send(Message::text(text))
            .await
            .map_err(|e| RelayError::Lost(e.to_string()))
    }

    /// Closes the connection; a failure is ignored, as the connection goes either way.
    pub async fn close(&mut self) {
        let _ = self.0.close().await;
    }
}

/// What arrived from the server.
#[derive(Debug)]
pub enum Incoming {
    /// A message.
    Message(ServerMessage),
    /// A frame that is not a message (a ping, a pong, a dropped malformed message): the
    /// connection is alive, which is all it says.
    Alive,
}

impl SessionReceiver {
    /// The next frame from the server; `Ok(None)` when the server closed the connection.
    /// Malformed messages are dropped (and logged) and count as [`Incoming::Alive`], as do
    /// pings: an idle connection that the server keeps pinging is a live one.
    pub async fn next(&mut self) -> Result<Option<Incoming>, RelayError> {
        match self.0.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(RelayError::Lost(e.to_string())),
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMessage>(&t) {
                Ok(m) => Ok(Some(Incoming::Message(m))),
                Err(e) => {
                    tracing::warn!("relay: malformed message from the server dropped: {e}");
                    Ok(Some(Incoming::Alive))
                }
            },
            Some(Ok(Message::Close(_))) => Ok(None),
            Some(Ok(_)) => Ok(Some(Incoming::Alive)),
        }
    }

    /// The next message (not a ping), waiting at most `timeout` in all.
    pub async fn next_message(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<ServerMessage>, RelayError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.next()).await {
                Err(_) => return Err(RelayError::Protocol("the server did not answer".into())),
                Ok(Ok(Some(Incoming::Message(m)))) => return Ok(Some(m)),
                Ok(Ok(Some(Incoming::Alive))) => continue,
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(e)) => return Err(e),
            }
        }
    }
}

/// Connects, answers the challenge with the agent's key, and waits for the welcome.
pub async fn connect(
    settings: &ClientSettings,
    key: &SigningKey,
    heartbeat: Agent,
) -> Result<Session, RelayError> {
    let (host, port, path) = parse_url(&settings.url)?;
    let target = format!("{host}:{port}");
    let timeout = settings.timeout;
    let tcp = tokio::time::timeout(timeout, open_tcp(&host, port, settings.proxy.as_deref()))
        .await
        .map_err(|_| RelayError::Connect(target.clone(), "timed out".into()))??;
    let _ = tcp.set_nodelay(true);
    let server_name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| RelayError::Connect(target.clone(), e.to_string()))?;
    let tls = tokio::time::timeout(
        timeout,
        tokio_rustls::TlsConnector::from(settings.tls.clone()).connect(server_name, tcp),
    )
    .await
    .map_err(|_| RelayError::Connect(target.clone(), "TLS handshake timed out".into()))?
    .map_err(|e| RelayError::Connect(target.clone(), format!("TLS: {e}")))?;
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(settings.max_message);
    config.max_frame_size = Some(settings.max_message);
    let request = format!("wss://{target}{path}");
    let (ws, _) = tokio::time::timeout(
        timeout,
        tokio_tungstenite::client_async_with_config(request, tls, Some(config)),
    )
    .await
    .map_err(|_| RelayError::Connect(target.clone(), "WebSocket handshake timed out".into()))?
    .map_err(|e| RelayError::Connect(target.clone(), format!("WebSocket: {e}")))?;
    let (sink, stream) = ws.split();
    let mut sender = SessionSender(sink);
    let mut receiver = SessionReceiver(stream);
    let first = receiver.next_message(timeout).await.map_err(|e| match e {
        RelayError::Protocol(_) => RelayError::Protocol("no challenge from the server".into()),
        other => other,
    })?;
    let nonce = match first {
        Some(ServerMessage::Challenge { nonce }) => nonce,
        Some(ServerMessage::Error { message }) => return Err(RelayError::Refused(message)),
        other => {
            return Err(RelayError::Protocol(format!(
                "expected a challenge, got {other:?}"
            )))
        }
    };
    let hello = sign_challenge(key, &nonce, heartbeat).map_err(RelayError::Protocol)?;
    sender.send(&hello).await?;
    let reply = receiver.next_message(timeout).await.map_err(|e| match e {
        RelayError::Protocol(_) => RelayError::Protocol("no welcome from the server".into()),
        other => other,
    })?;
    match reply {
        Some(ServerMessage::Welcome { agent_id }) => Ok(Session {
            agent_id,
            sender,
            receiver,
        }),
        Some(ServerMessage::Error { message }) => Err(RelayError::Refused(message)),
        None => Err(RelayError::Refused(
            "the server closed the connection".into(),
        )),
        Some(other) => Err(RelayError::Protocol(format!(
            "expected welcome, got {other:?}"
        ))),
    }
}

/// A TCP connection to the relay, directly or through an HTTP CONNECT proxy.
async fn open_tcp(host: &str, port: u16, proxy: Option<&str>) -> Result<TcpStream, RelayError> {
    let target = format!("{host}:{port}");
    let Some(proxy) = proxy else {
        return TcpStream::connect((host, port))
            .await
            .map_err(|e| RelayError::Connect(target, e.to_string()));
    };
    let mut tcp = TcpStream::connect(proxy)
        .await
        .map_err(|e| RelayError::Connect(format!("proxy {proxy}"), e.to_string()))?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        target.clone()
    };
    tcp.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| RelayError::Connect(format!("proxy {proxy}"), e.to_string()))?;
    // Read the proxy's answer up to the blank line, byte by byte (it is short).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(RelayError::Connect(
                format!("proxy {proxy}"),
                "oversized CONNECT response".into(),
            ));
        }
        let b = tcp
            .read_u8()
            .await
            .map_err(|e| RelayError::Connect(format!("proxy {proxy}"), e.to_string()))?;
        head.push(b);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or("");
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(RelayError::Connect(
            format!("proxy {proxy}"),
            format!("CONNECT refused: {status_line}"),
        ));
    }
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("wss://mig.example.com:4443/relay").unwrap(),
            ("mig.example.com".into(), 4443, "/relay".into())
        );
        assert_eq!(
            parse_url("wss://10.0.0.1").unwrap(),
            ("10.0.0.1".into(), 443, "/".into())
        );
        assert_eq!(
            parse_url("wss://[::1]:4443").unwrap(),
            ("::1".into(), 4443, "/".into())
        );
        assert!(parse_url("ws://x:1").is_err());
        assert!(parse_url("wss://:1").is_err());
        assert!(parse_url("wss://x:notaport").is_err());
    }
}
