//! mig-server's configuration: a TOML file; every key has a default (docs/server.md).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database (SQLite), certificates and state live.
    pub data_dir: PathBuf,
    pub database: Database,
    pub api: Api,
    pub relay: Relay,
    pub scheduler: Scheduler,
    pub agents: Agents,
    /// A copy of the agents' ACL: when set, the API refuses actions the agents would refuse
    /// (a courtesy; agents check anyway).
    pub acl: Option<PathBuf>,
    /// Where scheduled runs are shipped (`[[export]]` tables; none by default).
    pub export: Vec<Export>,
}

/// The kinds of exporters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    /// RFC 5424 over TCP or TLS.
    Syslog,
    /// JSON lines appended to a file, rotated by size.
    Jsonl,
    /// Elasticsearch/OpenSearch `_bulk` over HTTP(S).
    Http,
}

impl ExportKind {
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Syslog => "syslog",
            ExportKind::Jsonl => "jsonl",
            ExportKind::Http => "http",
        }
    }
}

/// One exporter (docs/monitoring.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// Names the exporter's cursor: renaming it starts over from the first run.
    pub name: String,
    pub kind: ExportKind,
    /// syslog: `host:port` of the receiver.
    #[serde(default)]
    pub address: String,
    /// syslog: TLS (RFC 5425).
    #[serde(default)]
    pub tls: bool,
    /// syslog and http: a CA (PEM) to trust besides the system's.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// jsonl: the file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// jsonl: the file is rotated once it reaches this size.
    #[serde(default = "default_rotate_bytes")]
    pub rotate_bytes: u64,
    /// jsonl: rotated files kept.
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// http: the `_bulk` URL.
    #[serde(default)]
    pub url: String,
    /// http: the index the events go to.
    #[serde(default = "default_index")]
    pub index: String,
    /// http: the Authorization header (`ApiKey …`, `Basic …`).
    #[serde(default)]
    pub authorization: String,
    /// Events per delivery, at most (a run with more rows goes whole).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// The longest wait between retries of a failed delivery.
    #[serde(default = "default_retry_max")]
    pub retry_max: String,
}

fn default_rotate_bytes() -> u64 {
    100 << 20
}
fn default_keep() -> usize {
    5
}
fn default_index() -> String {
    "mig".into()
}
fn default_batch() -> usize {
    500
}
fn default_retry_max() -> String {
    "60s".into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; empty = SQLite file `<data_dir>/mig.db`.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    pub listen: String,
    /// Serve HTTPS (false: plain HTTP, e.g. behind a TLS-terminating proxy).
    pub tls: bool,
    /// Empty = `<data_dir>/pki/server.pem` / `server.key`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// How far a token's time may be from the server's clock (MIG: 10 minutes).
    pub token_window: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Relay {
    /// Where agents connect (empty string: no built-in relay, e.g. with AMQP).
    pub listen: String,
    /// The CA that signs agents' client certificates; empty = `<data_dir>/pki/ca.pem`.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub max_message_bytes: usize,
    pub ping_interval: String,
    /// RabbitMQ (`amqps://user:password@host:5671/vhost`): when set, commands are also
    /// published there, and results and heartbeats consumed from there.
    pub amqp_url: String,
    /// The broker's CA, and the client certificate it asks for (amqps).
    pub amqp_ca: Option<PathBuf>,
    pub amqp_cert: Option<PathBuf>,
    pub amqp_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scheduler {
    /// How often the scheduler looks for work (new actions also wake it at once).
    pub tick: String,
    /// How long a scheduler owns an action it is preparing before another may take over.
    pub lease: String,
    /// Results are written in batches: at most this many per transaction…
    pub result_batch: usize,
    /// …collected for at most this long.
    pub result_batch_wait: String,
    /// The scheduler's own OpenPGP key, which signs the agentdestroy actions that retire old
    /// agents after an upgrade; empty = `<data_dir>/scheduler.key.asc`, made on first start.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Agents {
    /// The agents' heartbeat period (their `heartbeat` setting).
    pub heartbeat_period: String,
    /// online → idle after this many periods without a heartbeat.
    pub idle_after_periods: u32,
    /// → offline after this long without a heartbeat.
    pub offline_after: String,
    /// Only agents whose queueloc is listed (exact, or `re:<regex>`) may connect.
    pub whitelist_enabled: bool,
    pub whitelist: Vec<String>,
    /// Agents never seen before may register at this rate (per second, per process)…
    pub new_per_second: u32,
    /// …after a first burst of this many.
    pub new_burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/mig"),
            database: Database::default(),
            api: Api::default(),
            relay: Relay::default(),
            scheduler: Scheduler::default(),
            agents: Agents::default(),
            acl: None,
            export: Vec::new(),
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Api {
            listen: "127.0.0.1:8443".into(),
            tls: true,
            cert: None,
            key: None,
            token_window: "10m".into(),
        }
    }
}

impl Default for Relay {
    fn default() -> Self {
        Relay {
            listen: "0.0.0.0:4443".into(),
            ca: None,
            cert: None,
            key: None,
            max_message_bytes: mig_relay::protocol::DEFAULT_MAX_MESSAGE,
            ping_interval: "30s".into(),
            amqp_url: String::new(),
            amqp_ca: None,
            amqp_cert: None,
            amqp_key: None,
        }
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            tick: "1s".into(),
            lease: "30s".into(),
            result_batch: 1000,
            result_batch_wait: "20ms".into(),
            key: None,
        }
    }
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            heartbeat_period: "300s".into(),
            idle_after_periods: 5,
            offline_after: "1h".into(),
            whitelist_enabled: false,
            whitelist: Vec::new(),
            new_per_second: 200,
            new_burst: 2_000,
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
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        config.check()?;
        Ok(config)
    }

    /// Fails on values that would only fail later.
    pub fn check(&self) -> anyhow::Result<()> {
        duration(&self.api.token_window, "api.token_window")?;
        duration(&self.relay.ping_interval, "relay.ping_interval")?;
        duration(&self.scheduler.tick, "scheduler.tick")?;
        duration(&self.scheduler.lease, "scheduler.lease")?;
        duration(
            &self.scheduler.result_batch_wait,
            "scheduler.result_batch_wait",
        )?;
        duration(&self.agents.heartbeat_period, "agents.heartbeat_period")?;
        duration(&self.agents.offline_after, "agents.offline_after")?;
        let mut names = std::collections::HashSet::new();
        for e in &self.export {
            if e.name.is_empty() || !names.insert(e.name.as_str()) {
                anyhow::bail!(
                    "export: every exporter needs a name of its own ({:?})",
                    e.name
                );
            }
            let missing = match e.kind {
                ExportKind::Syslog if e.address.is_empty() => Some("address"),
                ExportKind::Jsonl if e.path.is_none() => Some("path"),
                ExportKind::Http if e.url.is_empty() => Some("url"),
                _ => None,
            };
            if let Some(key) = missing {
                anyhow::bail!(
                    "export {}: a {} exporter needs `{key}`",
                    e.name,
                    e.kind.name()
                );
            }
            if e.batch == 0 {
                anyhow::bail!("export {}: batch must be at least 1", e.name);
            }
            duration(&e.retry_max, &format!("export {}: retry_max", e.name))?;
        }
        for w in &self.agents.whitelist {
            if let Some(re) = w.strip_prefix("re:") {
                crate::whitelist::compile(re)
                    .map_err(|e| anyhow::anyhow!("agents.whitelist: {w:?}: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("mig.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.data_dir.join("pki").join(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s", "k").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("5m", "k").unwrap(), Duration::from_secs(300));
        assert_eq!(duration("250ms", "k").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("12", "k").unwrap(), Duration::from_secs(12));
        assert!(duration("soon", "k")
            .unwrap_err()
            .to_string()
            .contains("k:"));
        assert!(duration("5y", "k").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[api]\nlisten_addr = 'x'\n").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
        let c: Config = toml::from_str("data_dir = '/tmp/x'\n[relay]\nlisten = ''\n").unwrap();
        assert_eq!(c.database_url(), "sqlite:///tmp/x/mig.db");
        assert_eq!(c.api.listen, "127.0.0.1:8443");
    }
}
