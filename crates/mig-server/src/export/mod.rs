//! Exporters (MIG's workers, osquery's loggers): every scheduled run stored, shipped as events
//! to syslog, a JSON lines file or an HTTP `_bulk` endpoint. Each sink follows the runs with
//! its own cursor in the database, moved only once the sink took the events: a sink that is
//! down loses nothing and catches up when it is back (at least once; every event carries a
//! stable `id`). Retries back off up to the sink's `retry_max`. Run exporters in one server
//! process (the cursor is shared through the database, the work is not).

mod connect;
mod event;
mod http;
mod jsonl;
mod syslog;

use crate::app::{now_ms, App};
use crate::config::{duration, Export, ExportKind};
use connect::Endpoint;
use event::Event;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// Runs stored less than this long ago are left for the next pass: a run whose ID was drawn
/// before another's may be committed after it, and a cursor past it would skip it.
const SETTLE_MS: i64 = 1_000;
/// Runs read per pass.
const RUNS_PER_PASS: i64 = 200;
/// How often an idle exporter looks for runs (a run stored in this process wakes it sooner).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// One sink's counters, for /metrics.
#[derive(Default)]
pub struct SinkStats {
    pub name: String,
    pub kind: &'static str,
    pub exported: AtomicU64,
    pub failures: AtomicU64,
    /// The last run delivered.
    pub cursor: AtomicU64,
    pub last_error: Mutex<String>,
}

enum Sink {
    Syslog(syslog::Syslog),
    JsonLines(jsonl::JsonLines),
    Bulk(http::Bulk),
}

impl Sink {
    fn open(c: &Export) -> anyhow::Result<Sink> {
        Ok(match c.kind {
            ExportKind::Syslog => Sink::Syslog(syslog::Syslog::new(Endpoint::new(
                &c.address,
                c.tls,
                c.ca.as_deref(),
            )?)),
            ExportKind::Jsonl => {
                let path = c
                    .path
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("export {}: `path` is required", c.name))?;
                Sink::JsonLines(jsonl::JsonLines::new(path, c.rotate_bytes, c.keep))
            }
            ExportKind::Http => {
                let (tls, address, host, path) = http::split_url(&c.url)?;
                Sink::Bulk(http::Bulk::new(
                    Endpoint::new(&address, tls, c.ca.as_deref())?,
                    host,
                    path,
                    c.index.clone(),
                    c.authorization.clone(),
                ))
            }
        })
    }

    async fn deliver(&mut self, events: &[Event]) -> Result<(), String> {
        match self {
            Sink::Syslog(s) => s.deliver(events).await,
            Sink::JsonLines(s) => s.deliver(events).await,
            Sink::Bulk(s) => s.deliver(events).await,
        }
    }
}

/// Checks every configured sink (so a mistake stops the server at start) and starts them.
pub fn start(app: &Arc<App>) -> anyhow::Result<Vec<Arc<SinkStats>>> {
    let mut all = Vec::new();
    for c in &app.config.export {
        let sink = Sink::open(c).map_err(|e| anyhow::anyhow!("export {}: {e:#}", c.name))?;
        let retry_max = duration(&c.retry_max, &format!("export {}: retry_max", c.name))?;
        let stats = Arc::new(SinkStats {
            name: c.name.clone(),
            kind: c.kind.name(),
            ..Default::default()
        });
        all.push(stats.clone());
        info!("exporter {} ({}) started", c.name, c.kind.name());
        tokio::spawn(follow(app.clone(), c.clone(), sink, stats, retry_max));
    }
    Ok(all)
}

/// The modules of a schedule's operations, in order, from its action.
async fn modules_of(app: &App, schedule: u64) -> Vec<String> {
    let Ok(mut action) = app.store.get_action(schedule).await else {
        return Vec::new();
    };
    if action.decompress_operations().is_err() {
        return Vec::new();
    }
    action
        .operations
        .first()
        .and_then(|op| op.parameters["operations"].as_array().cloned())
        .map(|ops| {
            ops.iter()
                .map(|o| o["module"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Follows the runs for one sink, forever.
async fn follow(
    app: Arc<App>,
    c: Export,
    mut sink: Sink,
    stats: Arc<SinkStats>,
    retry_max: Duration,
) {
    let mut modules: HashMap<u64, Vec<String>> = HashMap::new();
    let mut backoff = Duration::from_secs(1);
    let mut cursor = loop {
        match app.store.export_cursor(&c.name).await {
            Ok(n) => break n,
            Err(e) => {
                warn!("exporter {}: cannot read its cursor: {e}", c.name);
                tokio::time::sleep(backoff).await;
            }
        }
    };
    stats.cursor.store(cursor, Ordering::Relaxed);
    loop {
        let runs = match app
            .store
            .runs_after(None, cursor, RUNS_PER_PASS, now_ms() - SETTLE_MS)
            .await
        {
            Ok(runs) => runs,
            Err(e) => {
                warn!("exporter {}: cannot read runs: {e}", c.name);
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        if runs.is_empty() {
            let _ = tokio::time::timeout(IDLE_POLL, app.wake_exporters.notified()).await;
            continue;
        }
        // Runs in order, a batch at a time; the cursor moves past the runs of each batch
        // delivered, and a failure sends the batch again from there.
        let mut pending: Vec<Event> = Vec::new();
        let mut failed = false;
        for (i, run) in runs.iter().enumerate() {
            if let std::collections::hash_map::Entry::Vacant(slot) = modules.entry(run.schedule) {
                slot.insert(modules_of(&app, run.schedule).await);
            }
            pending.extend(event::events(run, &modules[&run.schedule]));
            let end = i + 1 == runs.len();
            if pending.len() < c.batch && !end {
                continue;
            }
            match sink.deliver(&pending).await {
                Ok(()) => {
                    stats
                        .exported
                        .fetch_add(pending.len() as u64, Ordering::Relaxed);
                    pending.clear();
                    cursor = run.id;
                    stats.cursor.store(cursor, Ordering::Relaxed);
                    if let Err(e) = app.store.set_export_cursor(&c.name, cursor).await {
                        // Delivered but not recorded: sent again after a restart.
                        warn!("exporter {}: cannot save its cursor: {e}", c.name);
                    }
                    backoff = Duration::from_secs(1);
                }
                Err(e) => {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    warn!(
                        "exporter {}: {e}; retrying in {:.0}s",
                        c.name,
                        backoff.as_secs_f64()
                    );
                    *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(retry_max);
        }
    }
}
