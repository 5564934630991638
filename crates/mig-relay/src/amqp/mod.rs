//! The AMQP relay (RabbitMQ), with MIG's names: agents consume their own durable queue
//! `mig.agt.<queueloc>`, bound to the `toagents` exchange (schedulers publish commands straight
//! to that queue, through the default exchange); they publish results to the
//! `toschedulers` exchange with the routing key `mig.agt.results`, and heartbeats with
//! `mig.agt.heartbeats`.
//!
//! RabbitMQ credentials are shared by all agents, so they identify nobody: every message an
//! agent publishes is signed with the agent's own key (the same Ed25519 identity it proves to
//! the built-in relay), and the scheduler pins that key to the queueloc.

pub mod agent;
pub mod scheduler;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The exchange agents bind their queues to.
pub const EXCHANGE_AGENTS: &str = "toagents";
/// The exchange agents publish results and heartbeats to.
pub const EXCHANGE_SCHEDULERS: &str = "toschedulers";
/// The routing key of results, and the name of the schedulers' shared queue for them.
pub const RESULTS_KEY: &str = "mig.agt.results";
/// The routing key of heartbeats, and the name of the schedulers' shared queue for them.
pub const HEARTBEATS_KEY: &str = "mig.agt.heartbeats";
/// The routing key of scheduled runs, and the name of the schedulers' shared queue for them.
pub const RUNS_KEY: &str = "mig.agt.runs";
/// The kind a scheduled run is signed as (results are `result`, heartbeats `heartbeat`).
pub const RUN_KIND: &str = "run";

/// An agent's queue: `mig.agt.<queueloc>`.
pub fn agent_queue(queueloc: &str) -> String {
    format!("mig.agt.{queueloc}")
}

/// How to reach RabbitMQ.
#[derive(Debug, Clone)]
pub struct AmqpSettings {
    /// `amqps://user:password@host:5671/vhost` (or `amqp://` on a trusted network).
    pub url: String,
    /// The CA of the broker's certificate (amqps).
    pub ca: Option<PathBuf>,
    /// The client certificate and key the broker asks for (amqps).
    pub cert: Option<PathBuf>,
    /// The client certificate's private key, PEM (amqps).
    pub key: Option<PathBuf>,
}

/// Why the AMQP relay failed.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// The broker or the connection to it failed. lapin's message already says what it
    /// wraps; not a `source`, so error chains do not repeat it.
    #[error("AMQP: {0}")]
    Broker(lapin::Error),
    /// A CA, certificate or key file of the settings could not be read (path, why).
    #[error("AMQP: cannot read {0}: {1}")]
    File(String, std::io::Error),
    /// The broker is not set up as the relay needs (an exchange or queue missing), refused a
    /// message, or a message could not be encoded.
    #[error("AMQP: {0}")]
    Protocol(String),
}

impl From<lapin::Error> for AmqpError {
    fn from(e: lapin::Error) -> AmqpError {
        AmqpError::Broker(e)
    }
}

/// Connects to the broker, with the settings' TLS files; `name` names the connection in the
/// broker's management view.
pub async fn connect(settings: &AmqpSettings, name: &str) -> Result<Connection, AmqpError> {
    let read =
        |p: &PathBuf| std::fs::read(p).map_err(|e| AmqpError::File(p.display().to_string(), e));
    let mut tls = OwnedTLSConfig::default();
    if let Some(ca) = &settings.ca {
        tls.cert_chain = Some(String::from_utf8_lossy(&read(ca)?).into_owned());
    }
    if let (Some(cert), Some(key)) = (&settings.cert, &settings.key) {
        tls.identity = Some(OwnedIdentity::PKCS8 {
            pem: read(cert)?,
            key: read(key)?,
        });
    }
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let runtime = lapin::runtime::default_runtime().map_err(AmqpError::Broker)?;
    Ok(Connection::connect_with_config(&settings.url, props, tls, runtime).await?)
}

/// Declares MIG's exchanges, and the schedulers' shared queues (durable).
pub async fn declare_topology(channel: &Channel) -> Result<(), AmqpError> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for exchange in [EXCHANGE_AGENTS, EXCHANGE_SCHEDULERS] {
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// The schedulers' queues: results and heartbeats, shared by every scheduler process.
pub async fn declare_scheduler_queues(channel: &Channel) -> Result<(), AmqpError> {
    for key in [RESULTS_KEY, HEARTBEATS_KEY] {
        declare_shared_queue(channel, key).await?;
    }
    Ok(())
}

/// A durable queue named `key`, bound to `toschedulers` with that routing key.
pub async fn declare_shared_queue(channel: &Channel, key: &str) -> Result<(), AmqpError> {
    channel
        .queue_declare(
            key.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            key.into(),
            EXCHANGE_SCHEDULERS.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// What an agent publishes: a body signed with its key.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct SignedMessage {
    /// The publishing agent's queueloc.
    pub queueloc: String,
    /// The agent's Ed25519 public key, base64 of its 32 bytes.
    pub publickey: String,
    /// Its signature of the message's kind, queueloc and body, base64.
    pub signature: String,
    /// The heartbeat or the command, as JSON text.
    pub body: String,
}

fn signed_text(kind: &str, queueloc: &str, body: &str) -> Vec<u8> {
    format!("mig-amqp-v1\n{kind}\n{queueloc}\n{body}").into_bytes()
}

impl SignedMessage {
    /// Signs `body`, a message of `kind` (`heartbeat` or `result`) from `queueloc`.
    pub fn sign(key: &SigningKey, kind: &str, queueloc: &str, body: String) -> SignedMessage {
        let sig = key.sign(&signed_text(kind, queueloc, &body));
        SignedMessage {
            queueloc: queueloc.to_string(),
            publickey: crate::protocol::public_key_base64(key),
            signature: STANDARD.encode(sig.to_bytes()),
            body,
        }
    }

    /// Checks the signature; the caller must then check the key is the one pinned for
    /// the queueloc.
    pub fn verify(&self, kind: &str) -> Result<(), String> {
        let pk: [u8; 32] = STANDARD
            .decode(&self.publickey)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("publickey: expected 32 bytes of base64")?;
        let sig: [u8; 64] = STANDARD
            .decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("signature: expected 64 bytes of base64")?;
        VerifyingKey::from_bytes(&pk)
            .map_err(|e| format!("publickey: {e}"))?
            .verify(
                &signed_text(kind, &self.queueloc, &self.body),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| format!("the {kind} from {} is not signed by its key", self.queueloc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_messages_verify_and_tampering_fails() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let m = SignedMessage::sign(&key, "result", "linux.h.x", "{\"id\":1}".into());
        assert!(m.verify("result").is_ok());
        assert!(m.verify("heartbeat").is_err(), "bound to its kind");
        let mut t = m.clone();
        t.body = "{\"id\":2}".into();
        assert!(t.verify("result").is_err());
        let mut t = m;
        t.queueloc = "linux.other.x".into();
        assert!(t.verify("result").is_err());
    }
}
