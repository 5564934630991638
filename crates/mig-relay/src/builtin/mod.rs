//! The built-in relay: WebSocket over mutual TLS, straight to mig-server.

pub mod client;
pub mod server;
