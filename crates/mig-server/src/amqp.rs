//! The scheduler's side of the AMQP relay: publishes queued commands to agents' queues (each
//! command claimed by one scheduler, published until the broker confirms it), and consumes the
//! shared results and heartbeats queues. Reconnects forever when RabbitMQ goes away; nothing is
//! lost meanwhile: commands stay queued in the database, results and heartbeats in the broker.

use crate::app::{now_ms, App, Metrics};
use crate::config::duration;
use crate::relay::{incoming, Ack, PendingResult};
use futures_util::StreamExt;
use lapin::options::BasicAckOptions;
use mig_core::{Agent, Command, ScheduledRun};
use mig_relay::amqp::scheduler::{connect_scheduler, SchedulerLink};
use mig_relay::amqp::{
    AmqpSettings, SignedMessage, HEARTBEATS_KEY, RESULTS_KEY, RUNS_KEY, RUN_KIND,
};
use mig_store::actions::Envelope;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};

/// Claimed commands a scheduler has this long to get confirmed by the broker before another
/// scheduler may publish them again.
const DISPATCH_LEASE_MS: i64 = 30_000;
/// Commands published at once, and batches of them awaiting the broker's confirmation: 1,000
/// commands in flight. With 8,000, the fan-out to 10,000 agents took as long once the agents'
/// queues had carried an action, and 6.0-6.1 s instead of 4.3 s on queues new to it: each
/// command wakes its agent's queue and channel in the broker, and the results coming back, all
/// through the one results queue, waited behind thousands of them (BENCHMARKS.md).
const DISPATCH_BATCH: i64 = 500;
const CONFIRMING: usize = 2;
/// Heartbeats registered at once (each is a small transaction).
const HEARTBEAT_WORKERS: usize = 16;

pub fn settings(app: &App) -> Option<AmqpSettings> {
    let c = &app.config.relay;
    (!c.amqp_url.is_empty()).then(|| AmqpSettings {
        url: c.amqp_url.clone(),
        ca: c.amqp_ca.clone(),
        cert: c.amqp_cert.clone(),
        key: c.amqp_key.clone(),
    })
}

/// Runs forever: connect, work until the connection fails, wait, reconnect.
pub async fn run(app: Arc<App>, settings: AmqpSettings, results: mpsc::Sender<PendingResult>) {
    let name = format!("mig-scheduler {}", std::process::id());
    let identities: Arc<Mutex<Identities>> = Arc::default();
    let mut wait = Duration::from_secs(1);
    loop {
        match connect_scheduler(&settings, &name).await {
            Ok(link) => {
                info!("connected to RabbitMQ");
                wait = Duration::from_secs(1);
                let link = Arc::new(link);
                let launched = app.amqp_outbox.open();
                let outcome = tokio::select! {
                    r = dispatch(app.clone(), link.clone(), launched) => r,
                    r = consume_results(app.clone(), link.clone(), results.clone(), identities.clone()) => r,
                    r = consume_heartbeats(app.clone(), link.clone()) => r,
                    r = consume_runs(app.clone(), link.clone(), identities.clone()) => r,
                };
                app.amqp_outbox.close();
                if let Err(e) = outcome {
                    warn!("RabbitMQ: {e:#}");
                }
            }
            Err(e) => warn!("cannot connect to RabbitMQ: {e}"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// Commands this process's scheduler launched, handed straight to its AMQP publisher instead
/// of being claimed back from the database: the fan-out starts as soon as they are committed.
/// Only while a publisher is connected; otherwise they wait in the database for whichever
/// scheduler's claim loop finds them first.
#[derive(Default)]
pub struct Outbox {
    publisher: Mutex<Option<mpsc::UnboundedSender<Vec<Envelope>>>>,
}

impl Outbox {
    /// The dispatch lease to take on commands launched now: until `now + lease` when this
    /// process's publisher will publish them, 0 (anyone's to claim) when it is not connected.
    pub fn claim_until(&self, now_ms: i64) -> i64 {
        let connected = self.lock().as_ref().is_some_and(|tx| !tx.is_closed());
        if connected {
            now_ms + DISPATCH_LEASE_MS
        } else {
            0
        }
    }

    /// Hands launched commands to the publisher. If it went away since `claim_until`, their
    /// lease ends and a claim loop publishes them then.
    pub fn hand_over(&self, envelopes: Vec<Envelope>) {
        if let Some(tx) = self.lock().as_ref() {
            let _ = tx.send(envelopes);
        }
    }

    fn open(&self) -> mpsc::UnboundedReceiver<Vec<Envelope>> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.lock() = Some(tx);
        rx
    }

    fn close(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<mpsc::UnboundedSender<Vec<Envelope>>>> {
        self.publisher.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Publishes the commands launched here as they come, and what the database says is queued and
/// not yet confirmed (launched while no publisher was connected, or by a scheduler that died
/// before the broker confirmed them). Up to `CONFIRMING` batches wait for their confirmations
/// while the next ones are published.
async fn dispatch(
    app: Arc<App>,
    link: Arc<SchedulerLink>,
    mut launched: mpsc::UnboundedReceiver<Vec<Envelope>>,
) -> anyhow::Result<()> {
    let tick = duration(&app.config.scheduler.tick, "scheduler.tick")?;
    let confirming = Arc::new(Semaphore::new(CONFIRMING));
    let mut handed_over = Vec::new();
    loop {
        for batch in handed_over.chunks(DISPATCH_BATCH as usize) {
            let permit = confirming.clone().acquire_owned().await?;
            publish(&app, &link, batch, permit).await?;
        }
        loop {
            let permit = confirming.clone().acquire_owned().await?;
            let batch = match app
                .store
                .claim_dispatch(now_ms(), DISPATCH_LEASE_MS, DISPATCH_BATCH)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    warn!("claiming commands to publish: {e}");
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            publish(&app, &link, &batch, permit).await?;
        }
        handed_over = tokio::select! {
            Some(envelopes) = launched.recv() => envelopes,
            _ = app.wake_dispatch.notified() => Vec::new(),
            _ = tokio::time::sleep(tick) => Vec::new(),
        };
    }
}

/// Publishes a batch of claimed commands, and leaves their confirmation to a task that holds
/// `permit` until the broker answers.
async fn publish(
    app: &Arc<App>,
    link: &SchedulerLink,
    batch: &[Envelope],
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    // Published together: the channel pipelines them instead of one round trip through the
    // connection's I/O loop each.
    let now = now_ms();
    let published = futures_util::future::join_all(
        batch
            .iter()
            .map(|e| link.publish_command(&e.queueloc, &e.payload, e.expireafter - now)),
    )
    .await;
    let mut confirms = Vec::with_capacity(batch.len());
    for (e, confirm) in batch.iter().zip(published) {
        confirms.push((e.command_id, confirm?));
    }
    tokio::spawn(confirm_batch(app.clone(), confirms, permit));
    Ok(())
}

/// Marks a batch published once the broker confirms it. What it does not confirm (a nack, a
/// lost connection) stays claimed until the lease ends, and is then published again.
async fn confirm_batch(
    app: Arc<App>,
    confirms: Vec<(u64, lapin::PublisherConfirm)>,
    _permit: OwnedSemaphorePermit,
) {
    let published = std::time::Instant::now();
    let mut done = Vec::with_capacity(confirms.len());
    for (id, confirm) in confirms {
        if matches!(confirm.await, Ok(c) if c.is_ack()) {
            done.push(id);
        }
    }
    debug!(
        "{} commands confirmed by the broker in {} ms",
        done.len(),
        published.elapsed().as_millis()
    );
    Metrics::add(&app.metrics.commands_sent, done.len() as u64);
    if let Err(e) = app.store.mark_dispatched(&done).await {
        warn!(
            "{} commands published but not marked so (they will be published again): {e}",
            done.len()
        );
    }
}

/// The pinned keys of the agents, by queueloc: filled in bulk from the database, again when
/// an unknown queueloc or key shows up (a new or re-pinned agent) and the last load is over a
/// second old.
#[derive(Default)]
struct Identities {
    keys: HashMap<String, (u64, String)>,
    loaded: Option<std::time::Instant>,
}

const IDENTITIES_RELOAD: Duration = Duration::from_secs(1);

/// The agent a signed message comes from, if its key is the one pinned for its queueloc.
async fn sender(
    app: &App,
    identities: &Mutex<Identities>,
    m: &SignedMessage,
) -> anyhow::Result<Option<u64>> {
    let lock = || identities.lock().unwrap_or_else(|p| p.into_inner());
    let (mut known, stale) = {
        let ids = lock();
        let stale = ids.loaded.is_none_or(|t| t.elapsed() > IDENTITIES_RELOAD);
        (ids.keys.get(&m.queueloc).cloned(), stale)
    };
    // Unknown, or pinned to another key (an agent re-pinned by an administrator): reload.
    let mismatch = known.as_ref().is_none_or(|(_, key)| *key != m.publickey);
    if mismatch && stale {
        let all = app.store.agent_identities().await?;
        let mut ids = lock();
        ids.keys = all.into_iter().map(|(q, id, key)| (q, (id, key))).collect();
        ids.loaded = Some(std::time::Instant::now());
        known = ids.keys.get(&m.queueloc).cloned();
    }
    Ok(match known {
        Some((id, key)) if key == m.publickey => Some(id),
        Some(_) => {
            warn!("result from {} signed by another key: dropped", m.queueloc);
            None
        }
        None => {
            warn!("result from unregistered agent {}: dropped", m.queueloc);
            None
        }
    })
}

async fn consume_results(
    app: Arc<App>,
    link: Arc<SchedulerLink>,
    results: mpsc::Sender<PendingResult>,
    identities: Arc<Mutex<Identities>>,
) -> anyhow::Result<()> {
    let batch = app
        .config
        .scheduler
        .result_batch
        .clamp(1, u16::MAX as usize) as u16;
    // Several batches in hand while one is stored: results wait here, not in the broker's
    // queue, whose single process slows down as they pile up (BENCHMARKS.md, fan-out).
    let mut consumer = link
        .consume(
            RESULTS_KEY,
            batch.saturating_mul(8),
            "mig-scheduler-results",
        )
        .await?;
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let parsed = serde_json::from_slice::<SignedMessage>(&delivery.data)
            .map_err(|e| e.to_string())
            .and_then(|m| m.verify("result").map(|_| m));
        let message = match parsed {
            Ok(m) => m,
            Err(e) => {
                warn!("malformed result dropped: {e}");
                delivery.acker.ack(BasicAckOptions::default()).await?;
                continue;
            }
        };
        let command = match Command::from_json(message.body.as_bytes()) {
            Ok(c) => c,
            Err(e) => {
                warn!("unreadable result from {} dropped: {e}", message.queueloc);
                delivery.acker.ack(BasicAckOptions::default()).await?;
                continue;
            }
        };
        match sender(&app, &identities, &message).await? {
            Some(agent_id) => {
                let pending = PendingResult {
                    result: incoming(agent_id, command),
                    ack: Ack::Amqp(delivery.acker),
                };
                if results.send(pending).await.is_err() {
                    anyhow::bail!("the result writer stopped");
                }
            }
            None => {
                delivery.acker.ack(BasicAckOptions::default()).await?;
            }
        }
    }
    anyhow::bail!("the results consumer ended")
}

/// Scheduled runs: each stored (once) as it comes, then acknowledged; one the database did
/// not take goes back to the queue.
async fn consume_runs(
    app: Arc<App>,
    link: Arc<SchedulerLink>,
    identities: Arc<Mutex<Identities>>,
) -> anyhow::Result<()> {
    if let Some(why) = &link.runs_unavailable {
        warn!(
            "scheduled runs cannot be read from RabbitMQ ({why}): give the scheduler's user access to {RUNS_KEY} (deploy/rabbitmq-setup.sh init does)"
        );
        return std::future::pending().await;
    }
    let mut consumer = link.consume(RUNS_KEY, 100, "mig-scheduler-runs").await?;
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let parsed = serde_json::from_slice::<SignedMessage>(&delivery.data)
            .map_err(|e| e.to_string())
            .and_then(|m| m.verify(RUN_KIND).map(|_| m))
            .and_then(|m| {
                let run: ScheduledRun = serde_json::from_str(&m.body)
                    .map_err(|e| format!("unreadable run from {}: {e}", m.queueloc))?;
                Ok((m, run))
            });
        let (message, run) = match parsed {
            Ok(p) => p,
            Err(e) => {
                warn!("scheduled run dropped: {e}");
                delivery.acker.ack(BasicAckOptions::default()).await?;
                continue;
            }
        };
        let done = match sender(&app, &identities, &message).await? {
            Some(agent_id) => crate::relay::store_run(&app, agent_id, &run).await,
            None => true,
        };
        if done {
            delivery.acker.ack(BasicAckOptions::default()).await?;
        } else {
            let requeue = lapin::options::BasicNackOptions {
                requeue: true,
                ..Default::default()
            };
            delivery.acker.nack(requeue).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    anyhow::bail!("the runs consumer ended")
}

async fn consume_heartbeats(app: Arc<App>, link: Arc<SchedulerLink>) -> anyhow::Result<()> {
    let mut consumer = link
        .consume(HEARTBEATS_KEY, 500, "mig-scheduler-heartbeats")
        .await?;
    let workers = Arc::new(Semaphore::new(HEARTBEAT_WORKERS));
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let permit = workers.clone().acquire_owned().await?;
        let app = app.clone();
        tokio::spawn(async move {
            register_heartbeat(&app, &delivery.data).await;
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            drop(permit);
        });
    }
    anyhow::bail!("the heartbeats consumer ended")
}

/// Registers a heartbeat signed by its agent; anything else is logged and dropped.
async fn register_heartbeat(app: &App, data: &[u8]) {
    let parsed = serde_json::from_slice::<SignedMessage>(data)
        .map_err(|e| e.to_string())
        .and_then(|m| m.verify("heartbeat").map(|_| m))
        .and_then(|m| {
            let agent: Agent = serde_json::from_str(&m.body).map_err(|e| e.to_string())?;
            if agent.queueloc != m.queueloc {
                return Err(format!("heartbeat from {} names another agent", m.queueloc));
            }
            crate::admission::check_heartbeat(&agent)
                .map_err(|e| format!("heartbeat from {}: {e}", m.queueloc))?;
            Ok((m, agent))
        });
    match parsed {
        Ok((m, agent)) => match app
            .store
            .register_heartbeat_admitting(&agent, &m.publickey, now_ms(), || app.admit_new_agent())
            .await
        {
            Ok(_) => Metrics::add(&app.metrics.heartbeats, 1),
            Err(e) => {
                Metrics::add(&app.metrics.relay_refused, 1);
                warn!("heartbeat from {}: {e}", agent.queueloc);
            }
        },
        Err(e) => warn!("heartbeat dropped: {e}"),
    }
}
