//! The built-in relay's messages: JSON text frames over a WebSocket on mutual TLS.
//!
//! ```text
//! server → agent   {"type":"challenge","nonce":"<base64>"}
//! agent  → server  {"type":"hello","publickey":"<base64 ed25519>","signature":"<base64>","agent":{heartbeat}}
//! server → agent   {"type":"welcome","agent_id":N}
//! server → agent   {"type":"command","command":{MIG command}}
//! agent  → server  {"type":"heartbeat","agent":{heartbeat}}
//! agent  → server  {"type":"result","command":{MIG command with results}}
//! server → agent   {"type":"ack","command_id":N}        (the result is stored)
//! agent  → server  {"type":"run","run":{scheduled run}}  (a signed schedule ran)
//! server → agent   {"type":"runack","id":N}             (the run is stored)
//! server → agent   {"type":"error","message":"…"}       (then the server closes)
//! ```
//!
//! The agent proves it holds the private key of its identity by signing the challenge; the
//! server pins that key to the agent's queueloc on first sight. Everything on the connection
//! afterwards is attributed to that agent.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use mig_core::{Agent, Command, ScheduledRun};

/// A result frame around a command's JSON.
pub fn result_frame(command_json: &str) -> String {
    format!(r#"{{"type":"result","command":{command_json}}}"#)
}

/// A run frame around a scheduled run's JSON.
pub fn run_frame(run_json: &str) -> String {
    format!(r#"{{"type":"run","run":{run_json}}}"#)
}

use serde::{Deserialize, Serialize};

/// Default cap on one message, either way (a command with large parameters, or a result).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// What an agent sends the server.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AgentMessage {
    /// The answer to the challenge, first thing on a connection: who the agent is, and proof.
    Hello {
        /// The agent's Ed25519 public key, base64 of its 32 bytes.
        publickey: String,
        /// Its signature of the challenge's nonce and its queueloc, base64.
        signature: String,
        /// Its heartbeat.
        agent: Box<Agent>,
    },
    /// The agent is alive; sent periodically.
    Heartbeat {
        /// What it says about itself now.
        agent: Box<Agent>,
    },
    /// The outcome of a command.
    Result {
        /// The command, with its status and results filled in.
        command: Box<Command>,
    },
    /// One run of a signed schedule the agent holds.
    Run {
        /// What ran, and its results.
        run: Box<ScheduledRun>,
    },
}

/// What the server sends an agent.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// First thing on a connection: the agent must sign the nonce.
    Challenge {
        /// 32 random bytes, base64.
        nonce: String,
    },
    /// The hello verified and the agent is registered: the session is open.
    Welcome {
        /// The server's ID for the agent.
        agent_id: u64,
    },
    /// Kept as JSON: the agent parses it itself, so that a command it cannot read still gets
    /// a failure result rather than a silent drop.
    Command {
        /// The command, as MIG's JSON.
        command: serde_json::Value,
    },
    /// A result is stored: the agent may forget it.
    Ack {
        /// The command the result was for.
        command_id: u64,
    },
    /// A scheduled run is stored: the agent may forget it.
    RunAck {
        /// The run's ID (the agent's).
        id: u64,
    },
    /// The agent is refused; the server closes the connection after it.
    Error {
        /// Why.
        message: String,
    },
}

/// A command message built around a command's JSON without parsing it again.
pub fn command_frame(command_json: &str) -> String {
    format!(r#"{{"type":"command","command":{command_json}}}"#)
}

/// What the agent signs to prove its identity.
fn challenge_text(nonce: &[u8], queueloc: &str) -> Vec<u8> {
    let mut t = b"mig-relay-v1\n".to_vec();
    t.extend_from_slice(nonce);
    t.push(b'\n');
    t.extend_from_slice(queueloc.as_bytes());
    t
}

/// An agent's public key as it is sent and pinned: base64 of its 32 bytes.
pub fn public_key_base64(key: &SigningKey) -> String {
    STANDARD.encode(key.verifying_key().as_bytes())
}

/// The agent's answer to a challenge: a hello signing the nonce and its queueloc with its key.
pub fn sign_challenge(
    key: &SigningKey,
    nonce_b64: &str,
    agent: Agent,
) -> Result<AgentMessage, String> {
    let nonce = STANDARD
        .decode(nonce_b64)
        .map_err(|e| format!("bad challenge nonce: {e}"))?;
    let sig = key.sign(&challenge_text(&nonce, &agent.queueloc));
    Ok(AgentMessage::Hello {
        publickey: public_key_base64(key),
        signature: STANDARD.encode(sig.to_bytes()),
        agent: Box::new(agent),
    })
}

/// Checks a hello against the challenge; returns the agent's public key (base64) on success.
pub fn verify_hello(
    nonce: &[u8],
    publickey: &str,
    signature: &str,
    queueloc: &str,
) -> Result<String, String> {
    let pk: [u8; 32] = STANDARD
        .decode(publickey)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("publickey: expected 32 bytes of base64")?;
    let sig: [u8; 64] = STANDARD
        .decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("signature: expected 64 bytes of base64")?;
    let key = VerifyingKey::from_bytes(&pk).map_err(|e| format!("publickey: {e}"))?;
    key.verify(
        &challenge_text(nonce, queueloc),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| "the challenge signature does not verify".to_string())?;
    Ok(publickey.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_round_trip_and_tampering() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let nonce = [1u8; 32];
        let agent = Agent {
            queueloc: "linux.host.abc".into(),
            ..Default::default()
        };
        let AgentMessage::Hello {
            publickey,
            signature,
            ..
        } = sign_challenge(&key, &STANDARD.encode(nonce), agent).unwrap()
        else {
            unreachable!()
        };
        assert!(verify_hello(&nonce, &publickey, &signature, "linux.host.abc").is_ok());
        assert!(
            verify_hello(&nonce, &publickey, &signature, "linux.other.abc").is_err(),
            "bound to the queueloc"
        );
        assert!(
            verify_hello(&[2u8; 32], &publickey, &signature, "linux.host.abc").is_err(),
            "bound to the nonce"
        );
        assert!(verify_hello(&nonce, "AAAA", &signature, "x").is_err());
    }

    #[test]
    fn messages_have_a_type_tag() {
        let m: ServerMessage = serde_json::from_str(r#"{"type":"ack","command_id":5}"#).unwrap();
        assert!(matches!(m, ServerMessage::Ack { command_id: 5 }));
        let m: ServerMessage = serde_json::from_str(r#"{"type":"runack","id":9}"#).unwrap();
        assert!(matches!(m, ServerMessage::RunAck { id: 9 }));
        let frame = run_frame(
            r#"{"id":2,"schedule":5,"seq":1,"ranat":"2026-01-01T00:00:00Z","status":"success"}"#,
        );
        let m: AgentMessage = serde_json::from_str(&frame).unwrap();
        assert!(matches!(m, AgentMessage::Run { run } if run.schedule == 5));
        let frame = command_frame(r#"{"id":1}"#);
        let m: ServerMessage = serde_json::from_str(&frame).unwrap();
        assert!(matches!(m, ServerMessage::Command { command } if command["id"] == 1));
    }
}
