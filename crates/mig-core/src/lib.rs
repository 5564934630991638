//! The MIG protocol as plain data and rules: actions, commands, agents, module results,
//! validation, MIG's signing text, ACL evaluation and identifiers. No I/O, no async.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

#[macro_use]
pub mod wire_enum;
pub mod acl;
pub mod action;
pub mod agent;
pub mod command;
pub mod error;
pub mod events;
pub mod gojson;
pub mod gotime;
pub mod id;
pub mod module_result;
pub mod redact;
pub mod schedule;
#[cfg(feature = "target")]
pub mod target;
pub mod words;

pub use acl::{Acl, AclError, Grant};
pub use action::{Action, Counters, Operation};
pub use agent::{Agent, AgentEnv};
pub use command::Command;
pub use error::{FieldError, ParseError};
pub use gotime::GoTime;
pub use module_result::ModuleResult;
pub use schedule::{RowChanges, ScheduledRun};
