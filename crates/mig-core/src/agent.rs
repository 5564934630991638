//! Agents as the platform knows them, and the heartbeats they send.

use crate::action::null_as_default;
use crate::gotime::GoTime;
use crate::id;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An agent: what it says about itself in heartbeats, plus what the scheduler records
/// (id, status, authorized). MIG's `mig.Agent`, also sent as the heartbeat message.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Agent {
    #[serde(
        default,
        deserialize_with = "id::deserialize_opt",
        skip_serializing_if = "is_zero_u64"
    )]
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub queueloc: String,
    /// `daemon` or `checkin`.
    #[serde(default)]
    pub mode: AgentMode,
    /// MIG's older heartbeats carried the OS at the top level; newer ones in `environment`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pid: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub loadername: String,
    #[serde(default)]
    pub starttime: GoTime,
    #[serde(default)]
    pub destructiontime: GoTime,
    #[serde(default)]
    pub heartbeatts: GoTime,
    #[serde(default)]
    pub refreshts: GoTime,
    #[serde(default, skip_serializing_if = "AgentStatus::is_empty")]
    pub status: AgentStatus,
    #[serde(default, skip_serializing_if = "is_false")]
    pub authorized: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub environment: AgentEnv,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tags: BTreeMap<String, String>,
}

/// What the agent found out about its host.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct AgentEnv {
    /// systemd, upstart, sysvinit, launchd, windows…
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub init: String,
    /// The distribution, e.g. "Debian GNU/Linux 12 (bookworm)".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ident: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    #[serde(default)]
    pub isproxied: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub publicip: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub modules: Vec<String>,
}

impl Agent {
    /// The agent's OS family, wherever the heartbeat put it.
    pub fn os_family(&self) -> &str {
        if self.environment.os.is_empty() {
            &self.os
        } else {
            &self.environment.os
        }
    }
}

crate::wire_enum! {
    /// Where an agent is, as the scheduler sees it.
    AgentStatus {
        Online = "online",
        Idle = "idle",
        Offline = "offline",
        Destroyed = "destroyed",
        Upgraded = "upgraded",
    }
}

crate::wire_enum! {
    /// How an agent runs: connected all the time, or now and then.
    AgentMode {
        Daemon = "daemon",
        Checkin = "checkin",
    }
}

/// Agent statuses kept by the scheduler, as text (for SQL and comparisons).
pub mod status {
    pub const ONLINE: &str = "online";
    pub const IDLE: &str = "idle";
    pub const OFFLINE: &str = "offline";
    pub const DESTROYED: &str = "destroyed";
    pub const UPGRADED: &str = "upgraded";

    /// Every status, for checking a filter.
    pub const ALL: &[&str] = &[ONLINE, IDLE, OFFLINE, DESTROYED, UPGRADED];
}

/// Agent modes.
pub mod mode {
    pub const DAEMON: &str = "daemon";
    pub const CHECKIN: &str = "checkin";
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_migs_sample_heartbeat() {
        // The heartbeat from MIG's concepts document.
        let hb = r#"{
            "destructiontime": "0001-01-01T00:00:00Z",
            "environment": {"arch": "amd64", "ident": "Red Hat Enterprise Linux Server release 6.5 (Santiago)", "init": "upstart"},
            "heartbeatts": "2014-07-31T14:00:20.00442837-07:00",
            "name": "someserver.example.net",
            "os": "linux",
            "pid": 26256,
            "queueloc": "linux.someserver.example.net.5hsa811oda",
            "starttime": "2014-07-30T21:34:48.525449401-07:00",
            "version": "201407310027+bcbdd94.prod"
        }"#;
        let a: Agent = serde_json::from_str(hb).unwrap();
        assert_eq!(a.os_family(), "linux");
        assert_eq!(a.environment.init, "upstart");
        assert_eq!(a.pid, 26256);
        assert!(a.destructiontime.is_zero());
    }
}
