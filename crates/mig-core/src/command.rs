//! Commands: one action as delivered to one agent, and what the agent sends back.

use crate::action::{null_as_default, Action};
use crate::agent::Agent;
use crate::error::ParseError;
use crate::gotime::GoTime;
use crate::id;
use crate::module_result::ModuleResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Command {
    #[serde(default, deserialize_with = "id::deserialize_opt")]
    pub id: u64,
    #[serde(default)]
    pub action: Action,
    #[serde(default)]
    pub agent: Agent,
    #[serde(default)]
    pub status: CommandStatus,
    /// One result per operation, in operation order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<ModuleResult>,
    #[serde(default)]
    pub starttime: GoTime,
    #[serde(default)]
    pub finishtime: GoTime,
}

crate::wire_enum! {
    /// Where a command is: MIG's statuses.
    CommandStatus {
        Prepared = "prepared",
        Sent = "sent",
        Success = "success",
        Cancelled = "cancelled",
        Expired = "expired",
        Failed = "failed",
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
    pub const PREPARING: &str = "prepared";
    pub const SENT: &str = "sent";
    pub const SUCCESS: &str = "success";
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
    pub const FAILED: &str = "failed";
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
