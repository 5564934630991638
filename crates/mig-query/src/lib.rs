//! osquery-compatible SQL over the machine: an in-memory SQLite engine that can only read,
//! whose tables are osquery's (names, columns, types), each an eponymous virtual table that
//! reads the machine through mig-host when a statement scans it, with the constraints of the
//! WHERE clause pushed down. The query module (in mig-modules) runs it as a MIG module; the
//! agent's `shell` runs it interactively.

#![warn(missing_docs, unreachable_pub)]

pub mod budget;
pub mod engine;
pub mod events;
pub mod format;
mod functions;
mod paths;
mod row;
pub mod schema;
mod tables;
pub mod version;
mod vtab;
pub mod yara;

pub use tables::{all as all_tables, lookup as lookup_table};
