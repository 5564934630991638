//! How commands, results and heartbeats travel between mig-server and agents.
//!
//! - [`builtin`]: WebSocket over mutual TLS, straight to mig-server (the embedded default).
//! - [`amqp`]: RabbitMQ, with MIG's exchange and queue names (scale-out).
//! - [`protocol`]: the messages, and the agent's proof of identity.
//! - [`tls`], [`pki`]: TLS configurations and the deployment's certificates.

#![warn(missing_docs, unreachable_pub)]

pub mod amqp;
pub mod builtin;
pub mod pki;
pub mod protocol;
pub mod tls;
