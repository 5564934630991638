//! Commands: one action as delivered to one agent, and what the agent sends back.

use crate::action::{null_as_default, Action};
use crate::agent::Agent;
use crate::error::ParseError;
use crate::gotime::GoTime;
use crate::id;
use crate::module_result::ModuleResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One action for one agent: what the server sends, and, with status and results filled in,
/// what the agent sends back. MIG's `mig.Command`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Command {
    /// The server's ID for the command, given when the action is launched.
    #[serde(default, deserialize_with = "id::deserialize_opt")]
    pub id: u64,
    /// The action to run, signatures included.
    #[serde(default)]
    pub action: Action,
    /// The agent it is for (ID, name, queueloc, mode, version).
    #[serde(default)]
    pub agent: Agent,
    /// Where it is; in a result, how the agent's run ended.
    #[serde(default)]
    pub status: CommandStatus,
    /// One result per operation, in operation order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<ModuleResult>,
    /// When the agent started on it; zero until it has.
    #[serde(default)]
    pub starttime: GoTime,
    /// When the agent finished it; zero until it has.
    #[serde(default)]
    pub finishtime: GoTime,
}

crate::wire_enum! {
    /// Where a command is: MIG's statuses.
    CommandStatus {
        /// MIG's: created, not yet sent. This server creates commands as sent.
        Prepared = "prepared",
        /// On its way to its agent, or running there: no result yet.
        Sent = "sent",
        /// Every operation ran and succeeded.
        Success = "success",
        /// Its action was cancelled before the agent answered.
        Cancelled = "cancelled",
        /// Its action expired before the agent answered.
        Expired = "expired",
        /// The agent refused it or could not read it, or an operation failed.
        Failed = "failed",
        /// A module ran out of time on the agent and was killed.
        Timeout = "timeout",
    }
}

impl CommandStatus {
    /// A status after which a command no longer changes.
    pub fn is_final(&self) -> bool {
        status::is_final(self.as_str())
    }
}

/// MIG's command statuses, as text (for SQL and comparisons).
pub mod status {
    /// [`CommandStatus::Prepared`](super::CommandStatus::Prepared).
    pub const PREPARING: &str = "prepared";
    /// [`CommandStatus::Sent`](super::CommandStatus::Sent).
    pub const SENT: &str = "sent";
    /// [`CommandStatus::Success`](super::CommandStatus::Success).
    pub const SUCCESS: &str = "success";
    /// [`CommandStatus::Cancelled`](super::CommandStatus::Cancelled).
    pub const CANCELLED: &str = "cancelled";
    /// [`CommandStatus::Expired`](super::CommandStatus::Expired).
    pub const EXPIRED: &str = "expired";
    /// [`CommandStatus::Failed`](super::CommandStatus::Failed).
    pub const FAILED: &str = "failed";
    /// [`CommandStatus::Timeout`](super::CommandStatus::Timeout).
    pub const TIMEOUT: &str = "timeout";

    /// Every status, for checking a filter.
    pub const ALL: &[&str] = &[
        PREPARING, SENT, SUCCESS, CANCELLED, EXPIRED, FAILED, TIMEOUT,
    ];

    /// Statuses after which a command no longer changes.
    pub fn is_final(s: &str) -> bool {
        matches!(s, SUCCESS | CANCELLED | EXPIRED | FAILED | TIMEOUT)
    }
}

impl Command {
    /// Parses a command; the embedded action gets the same case-insensitive field matching as
    /// [`Action::from_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Command, ParseError> {
        let mut value: Value = serde_json::from_slice(bytes).map_err(ParseError::json)?;
        if let Some(action) = value.get_mut("action") {
            Action::fold_field_names(action);
        }
        serde_path_to_error::deserialize(value).map_err(ParseError::path)
    }

    /// True when any operation found something.
    pub fn found_anything(&self) -> bool {
        self.results.iter().any(|r| r.foundanything)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_migs_float_ids_and_results() {
        let c = Command::from_json(
            br#"{"id": 1.427392971126604e+18, "action": {"Name": "x"},
                 "agent": {"id": 1.4271760437936648e+18, "name": "h", "queueloc": "linux.h.1", "mode": "daemon"},
                 "status": "success",
                 "results": [{"foundanything": true, "success": true, "elements": {}, "statistics": {}, "errors": null}],
                 "starttime": "2015-03-26T18:02:51.126605Z", "finishtime": "2015-03-26T18:03:00.671232Z"}"#,
        )
        .unwrap();
        assert_eq!(c.id, 1427392971126604032);
        assert_eq!(c.action.name, "x");
        assert!(c.found_anything());
        assert!(c.status.is_final());
    }
}
