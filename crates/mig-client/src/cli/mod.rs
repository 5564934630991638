//! The `mig` command line.

pub mod action;
pub mod agents;
pub mod console;
pub mod follow;
pub mod module;
pub mod output;
pub mod release;
pub mod schedule;
pub mod upgrade;
