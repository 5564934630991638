//! The investigator's side of MIG: configuration, signing, building actions and talking to the
//! API. The `mig` binary is built on it; so are the end-to-end tests.

#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod api;
pub mod build;
pub mod config;
pub mod signing;
