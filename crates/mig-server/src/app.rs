//! The state shared by the API, the scheduler and the relay of one mig-server process.

use crate::config::{duration, Config};
use mig_core::Acl;
use mig_pgp::Keyring;
use mig_relay::builtin::server::Hub;
use mig_store::investigators::{Investigator, STATUS_ACTIVE};
use mig_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub struct App {
    pub store: Store,
    pub config: Config,
    /// Agents connected to this process's built-in relay.
    pub hub: Hub,
    /// Wakes the scheduler when an action is created here.
    pub wake_scheduler: Notify,
    /// Wakes the AMQP publisher when commands were queued here.
    pub wake_dispatch: Notify,
    /// Wakes the exporters when a scheduled run was stored here.
    pub wake_exporters: Notify,
    /// Launched commands on their way to this process's AMQP publisher.
    pub amqp_outbox: crate::amqp::Outbox,
    pub metrics: Metrics,
    pub acl: Option<Acl>,
    pub token_window: Duration,
    /// The scheduler's own key (scheduler processes only): it signs agentdestroy actions that
    /// retire old agents after an upgrade.
    pub scheduler_key: std::sync::OnceLock<Arc<crate::retire::SchedulerKey>>,
    /// The exporters running in this process, and their counters.
    pub export_stats: std::sync::OnceLock<Vec<Arc<crate::export::SinkStats>>>,
    /// Registrations of agents never seen before, rate-limited.
    new_agents: crate::admission::NewAgents,
    keys: RwLock<KeyCache>,
}

/// Counters for /metrics (process-local; gauges come from the database).
#[derive(Default)]
pub struct Metrics {
    pub results_stored: AtomicU64,
    pub results_duplicate: AtomicU64,
    pub commands_sent: AtomicU64,
    pub heartbeats: AtomicU64,
    pub relay_refused: AtomicU64,
    /// Scheduled runs stored, and dropped (for a schedule never sent to their agent).
    pub runs_stored: AtomicU64,
    pub runs_refused: AtomicU64,
    pub api_requests: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Active investigators' keys, rebuilt when stale (other API processes may change them).
struct KeyCache {
    loaded: Option<Instant>,
    /// Wall-clock time of the load, to compare with investigators' last modification.
    loaded_at_ms: i64,
    keyring: Arc<Keyring>,
    by_fingerprint: Arc<HashMap<String, Investigator>>,
}

const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

impl App {
    /// May an agent never seen before register now? (The error is what it is told.)
    pub fn admit_new_agent(&self) -> Result<(), String> {
        if self.new_agents.admit() {
            Ok(())
        } else {
            Metrics::add(&self.metrics.relay_refused, 1);
            Err(crate::admission::TOO_MANY_NEW_AGENTS.into())
        }
    }

    pub fn new(store: Store, config: Config, acl: Option<Acl>) -> anyhow::Result<App> {
        let token_window = duration(&config.api.token_window, "api.token_window")?;
        let new_agents =
            crate::admission::NewAgents::new(config.agents.new_per_second, config.agents.new_burst);
        Ok(App {
            store,
            config,
            hub: Hub::default(),
            wake_scheduler: Notify::new(),
            wake_dispatch: Notify::new(),
            wake_exporters: Notify::new(),
            amqp_outbox: Default::default(),
            metrics: Metrics::default(),
            acl,
            token_window,
            scheduler_key: std::sync::OnceLock::new(),
            export_stats: std::sync::OnceLock::new(),
            new_agents,
            keys: RwLock::new(KeyCache {
                loaded: None,
                loaded_at_ms: 0,
                keyring: Arc::new(Keyring::new()),
                by_fingerprint: Arc::new(HashMap::new()),
            }),
        })
    }

    /// The keyring of active investigators and who each fingerprint belongs to.
    pub async fn investigator_keys(
        &self,
    ) -> anyhow::Result<(Arc<Keyring>, Arc<HashMap<String, Investigator>>)> {
        {
            let cache = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if cache.loaded.is_some_and(|t| t.elapsed() < KEY_CACHE_TTL) {
                return Ok((cache.keyring.clone(), cache.by_fingerprint.clone()));
            }
        }
        let loaded_at_ms = now_ms();
        let mut keyring = Keyring::new();
        let mut by_fp = HashMap::new();
        for inv in self.store.list_investigators(true).await? {
            if inv.status != STATUS_ACTIVE {
                continue;
            }
            if let Err(e) = keyring.add_bytes(inv.publickey.as_bytes(), &inv.name) {
                tracing::warn!("investigator {} has an unusable key: {e}", inv.name);
                continue;
            }
            by_fp.insert(inv.pgpfingerprint.clone(), inv);
        }
        let (keyring, by_fp) = (Arc::new(keyring), Arc::new(by_fp));
        let mut cache = self.keys.write().unwrap_or_else(|p| p.into_inner());
        *cache = KeyCache {
            loaded: Some(Instant::now()),
            loaded_at_ms,
            keyring: keyring.clone(),
            by_fingerprint: by_fp.clone(),
        };
        Ok((keyring, by_fp))
    }

    /// Forget the cached keys (an investigator was added or disabled here).
    pub fn invalidate_keys(&self) {
        self.keys.write().unwrap_or_else(|p| p.into_inner()).loaded = None;
    }

    /// Reloads the keys if investigators changed since they were loaded (another process may
    /// have added the unknown signer a moment ago). One cheap query; no reload otherwise, so a
    /// flood of unknown signers costs no key parsing.
    pub async fn refresh_keys_if_changed(&self) -> anyhow::Result<bool> {
        let changed_at = self.store.investigators_changed_at().await?;
        let mut cache = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if cache.loaded_at_ms < changed_at {
            cache.loaded = None;
            return Ok(true);
        }
        Ok(false)
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
