//! The agent's configuration (TOML, e.g. /etc/mig/agent.toml); every key has a default and is
//! documented in docs/agent.md.

use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The agent's name in heartbeats; empty = the machine's hostname.
    pub name: String,
    /// `wss://host:port/` (built-in relay) or `amqps://…` (RabbitMQ).
    pub relay: String,
    /// The CA that signed the relay's certificate.
    pub ca: PathBuf,
    /// The client certificate and key the relay asks for.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Investigators' public keys: a file, or a directory of armored keys.
    pub keyring: PathBuf,
    /// Who may run what (MIG's ACL JSON).
    pub acl: PathBuf,
    pub heartbeat: String,
    /// Longest a module may run (also bounded by the action's expiry).
    pub module_timeout: String,
    /// Address-space limit of a module process, in MiB.
    pub module_memory_mb: u64,
    /// Share of the machine's CPU modules may use together.
    pub module_cpu_percent: u32,
    /// Module processes running at once across every action (0: one per core); the other
    /// operations wait for a free slot.
    pub module_slots: usize,
    /// The largest message the relay takes (the server's `relay.max_message_bytes`): a
    /// command's results are cut to fit in it.
    pub max_message_bytes: usize,
    pub tags: BTreeMap<String, String>,
    /// `host:port` of an HTTP proxy (CONNECT) to reach the relay through.
    pub proxy: String,
    /// MIG's extra privacy mode: file names and error texts are masked in results.
    pub privacy: bool,
    /// Where `mig-agent.ok` (the last heartbeat) is written.
    pub run_dir: PathBuf,
    /// Identity, replay memory and unsent results.
    pub state_dir: PathBuf,
    /// The audit log of everything received (readable by the machine's users).
    pub audit_log: PathBuf,
    /// Unsent results kept on disk at most (the oldest are dropped beyond).
    pub outbox_max_bytes: u64,
    /// Events each event table's buffer holds at most, while a schedule asks for them.
    pub event_buffer: usize,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: String,
    /// The built-in relay's connection is taken for dead after this long without any frame
    /// from the server (it pings every `relay.ping_interval`, 30 s by default).
    pub relay_silence: String,
    /// Check-in mode: exit after this long with nothing new.
    pub checkin_idle: String,
    /// An upgraded agent must stay connected to the relay this long before the upgrade
    /// counts as done; until then (and twice as long at most) the old agent rolls back if
    /// the new one exits or cannot connect.
    pub upgrade_probation: String,
    /// Release keys (a file or a folder of armored keys): when set, an upgrade installs only a
    /// binary listed, with its checksum, in a release manifest one of them signed.
    pub release_keyring: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: String::new(),
            relay: String::new(),
            ca: PathBuf::from("/etc/mig/ca.pem"),
            cert: PathBuf::from("/etc/mig/agent.pem"),
            key: PathBuf::from("/etc/mig/agent.key"),
            keyring: PathBuf::from("/etc/mig/investigators"),
            acl: PathBuf::from("/etc/mig/acl.json"),
            heartbeat: "300s".into(),
            module_timeout: "300s".into(),
            module_memory_mb: 1024,
            module_cpu_percent: 50,
            module_slots: 0,
            max_message_bytes: 16 << 20,
            tags: BTreeMap::new(),
            proxy: String::new(),
            privacy: false,
            run_dir: PathBuf::from("/var/run/mig"),
            state_dir: PathBuf::from("/var/lib/mig-agent"),
            audit_log: PathBuf::from("/var/log/mig-agent/audit.log"),
            outbox_max_bytes: 64 << 20,
            event_buffer: 10_000,
            reconnect_max: "300s".into(),
            relay_silence: "100s".into(),
            checkin_idle: "10s".into(),
            upgrade_probation: "60s".into(),
            release_keyring: None,
        }
    }
}

/// `500ms`, `30s`, `5m`, `1h30m`, `2d`, or a bare number of seconds.
pub fn duration(text: &str, key: &str) -> anyhow::Result<Duration> {
    mig_core::gotime::parse_duration_or_seconds(text).map_err(|e| anyhow::anyhow!("{key}: {e}"))
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let c: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for (v, k) in [
            (&c.heartbeat, "heartbeat"),
            (&c.module_timeout, "module_timeout"),
            (&c.reconnect_max, "reconnect_max"),
            (&c.relay_silence, "relay_silence"),
            (&c.checkin_idle, "checkin_idle"),
            (&c.upgrade_probation, "upgrade_probation"),
        ] {
            duration(v, k)?;
        }
        if c.max_message_bytes < 1 << 20 {
            anyhow::bail!(
                "max_message_bytes: expected at least 1 MiB (1048576), got {}",
                c.max_message_bytes
            );
        }
        if !(1..=100).contains(&c.module_cpu_percent) {
            anyhow::bail!(
                "module_cpu_percent: expected 1 to 100, got {}",
                c.module_cpu_percent
            );
        }
        Ok(c)
    }

    pub fn heartbeat_period(&self) -> Duration {
        duration(&self.heartbeat, "heartbeat").unwrap_or(Duration::from_secs(300))
    }

    pub fn module_slots(&self) -> usize {
        match self.module_slots {
            0 => crate::executor::default_slots(),
            n => n,
        }
    }

    pub fn relay_silence(&self) -> Duration {
        duration(&self.relay_silence, "relay_silence").unwrap_or(Duration::from_secs(100))
    }

    pub fn upgrade_probation(&self) -> Duration {
        duration(&self.upgrade_probation, "upgrade_probation").unwrap_or(Duration::from_secs(60))
    }

    pub fn module_timeout(&self) -> Duration {
        duration(&self.module_timeout, "module_timeout").unwrap_or(Duration::from_secs(300))
    }
}
