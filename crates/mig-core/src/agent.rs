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
    /// The server's ID for the agent, given when it first registers; 0 in a heartbeat.
    #[serde(
        default,
        deserialize_with = "id::deserialize_opt",
        skip_serializing_if = "is_zero_u64"
    )]
    pub id: u64,
    /// The host's name.
    #[serde(default)]
    pub name: String,
    /// Where its commands go: MIG's `<os>.<hostname>.<random>`, one per agent.
    #[serde(default)]
    pub queueloc: String,
    /// `daemon` or `checkin`.
    #[serde(default)]
    pub mode: AgentMode,
    /// MIG's older heartbeats carried the OS at the top level; newer ones in `environment`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    /// The agent's version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The agent's process ID.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pid: i64,
    /// The MIG loader that installed the agent, if one did; the server does not keep it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub loadername: String,
    /// When the agent's process started.
    #[serde(default)]
    pub starttime: GoTime,
    /// When MIG destroyed the agent (upgrade or kill); zero while it lives.
    #[serde(default)]
    pub destructiontime: GoTime,
    /// When it sent the heartbeat; as the server records it, when the last one arrived.
    #[serde(default)]
    pub heartbeatts: GoTime,
    /// When MIG's scheduler last refreshed the record; the server does not keep it (zero).
    #[serde(default)]
    pub refreshts: GoTime,
    /// Where it is, as the scheduler sees it; empty in a heartbeat.
    #[serde(default, skip_serializing_if = "AgentStatus::is_empty")]
    pub status: AgentStatus,
    /// MIG's whitelist flag: whether the agent is allowed on the platform (true unless the
    /// database says otherwise).
    #[serde(default, skip_serializing_if = "is_false")]
    pub authorized: bool,
    /// What it found out about its host.
    #[serde(default, deserialize_with = "null_as_default")]
    pub environment: AgentEnv,
    /// Its configured tags (name → value), which targets can select on.
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
    /// The OS family, as Go names it (`linux`, `darwin`, `windows`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    /// The CPU architecture, as Go names it (`amd64`, `arm64`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// Whether the agent reaches its relay through a proxy.
    #[serde(default)]
    pub isproxied: bool,
    /// The proxy it goes through, when proxied.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy: String,
    /// The host's addresses in CIDR form (`10.0.0.5/24`), loopback excluded.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<String>,
    /// The address the host is seen from outside, as MIG's agents looked it up; empty here.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub publicip: String,
    /// The modules the agent can run.
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
        /// Its last heartbeat is recent.
        Online = "online",
        /// No heartbeat for the scheduler's idle delay.
        Idle = "idle",
        /// No heartbeat for the scheduler's offline delay.
        Offline = "offline",
        /// MIG's: the agent was killed (`destructiontime` says when). Not set by this server.
        Destroyed = "destroyed",
        /// MIG's: a newer agent replaced it. Not set by this server.
        Upgraded = "upgraded",
    }
}

crate::wire_enum! {
    /// How an agent runs: connected all the time, or now and then.
    AgentMode {
        /// Runs all the time, connected to its relay.
        Daemon = "daemon",
        /// Starts now and then, runs what is queued for it, and exits.
        Checkin = "checkin",
    }
}

/// Agent statuses kept by the scheduler, as text (for SQL and comparisons).
pub mod status {
    /// [`AgentStatus::Online`](super::AgentStatus::Online).
    pub const ONLINE: &str = "online";
    /// [`AgentStatus::Idle`](super::AgentStatus::Idle).
    pub const IDLE: &str = "idle";
    /// [`AgentStatus::Offline`](super::AgentStatus::Offline).
    pub const OFFLINE: &str = "offline";
    /// [`AgentStatus::Destroyed`](super::AgentStatus::Destroyed).
    pub const DESTROYED: &str = "destroyed";
    /// [`AgentStatus::Upgraded`](super::AgentStatus::Upgraded).
    pub const UPGRADED: &str = "upgraded";

    /// Every status, for checking a filter.
    pub const ALL: &[&str] = &[ONLINE, IDLE, OFFLINE, DESTROYED, UPGRADED];
}

/// Agent modes.
pub mod mode {
    /// [`AgentMode::Daemon`](super::AgentMode::Daemon).
    pub const DAEMON: &str = "daemon";
    /// [`AgentMode::Checkin`](super::AgentMode::Checkin).
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
