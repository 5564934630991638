//! The server's side of the built-in relay: registering agents, storing their results in
//! batches (one transaction per batch, then acknowledgements), and sending them commands.

use crate::admission::check_heartbeat;
use crate::app::{now_ms, App, Metrics};
use crate::whitelist::Whitelist;
use mig_core::{Agent, Command, ScheduledRun};
use mig_relay::builtin::server::Backend;
use mig_store::commands::IncomingResult;
use mig_store::schedules::RunStored;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// A result waiting to be stored, and how to acknowledge it once it is.
pub struct PendingResult {
    pub result: IncomingResult,
    pub ack: Ack,
}

pub enum Ack {
    /// Tell the agent over its built-in relay connection.
    Builtin,
    /// Acknowledge the AMQP delivery (until then the broker keeps it).
    Amqp(lapin::Acker),
}

/// Starts the task that stores results in batches; returns its queue.
pub fn start_result_writer(app: &Arc<App>) -> anyhow::Result<mpsc::Sender<PendingResult>> {
    let (tx, rx) = mpsc::channel(100_000);
    let batch = app.config.scheduler.result_batch.max(1);
    let wait = crate::config::duration(
        &app.config.scheduler.result_batch_wait,
        "scheduler.result_batch_wait",
    )?;
    tokio::spawn(write_results(app.clone(), rx, batch, wait));
    Ok(tx)
}

pub struct RelayBackend {
    app: Arc<App>,
    whitelist: Option<Whitelist>,
    results: mpsc::Sender<PendingResult>,
    /// The queueloc each connected agent registered with: heartbeats may not change it.
    queuelocs: Mutex<HashMap<u64, String>>,
}

impl RelayBackend {
    pub fn new(
        app: Arc<App>,
        results: mpsc::Sender<PendingResult>,
    ) -> anyhow::Result<Arc<RelayBackend>> {
        let whitelist = if app.config.agents.whitelist_enabled {
            Some(
                Whitelist::new(&app.config.agents.whitelist)
                    .map_err(|e| anyhow::anyhow!("agents.whitelist: {e}"))?,
            )
        } else {
            None
        };
        Ok(Arc::new(RelayBackend {
            app,
            whitelist,
            results,
            queuelocs: Mutex::new(HashMap::new()),
        }))
    }
}

impl Backend for RelayBackend {
    async fn register(
        &self,
        agent: Agent,
        publickey: String,
        peer: SocketAddr,
    ) -> Result<u64, String> {
        check_heartbeat(&agent)?;
        if let Some(w) = &self.whitelist {
            if !w.allows(&agent.queueloc) {
                Metrics::add(&self.app.metrics.relay_refused, 1);
                return Err(format!("agent {} is not whitelisted", agent.queueloc));
            }
        }
        match self
            .app
            .store
            .register_heartbeat_admitting(&agent, &publickey, now_ms(), || {
                self.app.admit_new_agent()
            })
            .await
        {
            Ok(reg) => {
                if reg.new {
                    info!("new agent {} ({}) from {peer}", agent.queueloc, reg.id);
                }
                self.queuelocs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(reg.id, agent.queueloc.clone());
                Metrics::add(&self.app.metrics.heartbeats, 1);
                Ok(reg.id)
            }
            Err(e) => {
                Metrics::add(&self.app.metrics.relay_refused, 1);
                Err(e.to_string())
            }
        }
    }

    async fn heartbeat(&self, agent_id: u64, agent: Agent) {
        let registered = self
            .queuelocs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&agent_id)
            .cloned();
        if registered.as_deref() != Some(agent.queueloc.as_str()) {
            warn!(
                "heartbeat from agent {agent_id} for another queueloc {:?} dropped",
                agent.queueloc
            );
            return;
        }
        if let Err(e) = check_heartbeat(&agent) {
            warn!("heartbeat from agent {agent_id} dropped: {e}");
            return;
        }
        // The identity was pinned when the connection was accepted.
        match self
            .app
            .store
            .register_heartbeat(&agent, "", now_ms())
            .await
        {
            Ok(_) => Metrics::add(&self.app.metrics.heartbeats, 1),
            Err(e) => warn!("heartbeat from agent {agent_id}: {e}"),
        }
    }

    async fn result(&self, agent_id: u64, command: Command) {
        let pending = PendingResult {
            result: incoming(agent_id, command),
            ack: Ack::Builtin,
        };
        // Backpressure: a full queue slows this agent's connection, never drops a result.
        if self.results.send(pending).await.is_err() {
            warn!("result writer stopped; result from agent {agent_id} not stored");
        }
    }

    async fn run(&self, agent_id: u64, run: ScheduledRun) {
        if store_run(&self.app, agent_id, &run).await {
            let frame = format!(r#"{{"type":"runack","id":{}}}"#, run.id);
            self.app.hub.send(agent_id, frame);
        }
    }

    async fn pending(&self, agent_id: u64) -> Vec<String> {
        match self.app.store.pending_for_agent(agent_id, now_ms()).await {
            Ok(envelopes) => envelopes.into_iter().map(|e| e.payload).collect(),
            Err(e) => {
                warn!("cannot read the queue of agent {agent_id}: {e}");
                Vec::new()
            }
        }
    }
}

/// Stores a scheduled run from `agent_id` (whichever relay brought it) and wakes the
/// exporters. Returns whether the agent may forget the run: stored now or before, or refused
/// for good (a schedule it was never sent); false when the database failed (it sends it again).
pub async fn store_run(app: &App, agent_id: u64, run: &ScheduledRun) -> bool {
    match app.store.store_run(agent_id, run).await {
        Ok(RunStored::New(_)) => {
            Metrics::add(&app.metrics.runs_stored, 1);
            app.wake_exporters.notify_waiters();
            true
        }
        Ok(RunStored::Duplicate) => true,
        Ok(RunStored::NotSent) => {
            Metrics::add(&app.metrics.runs_refused, 1);
            warn!(
                "run {} of schedule {} from agent {agent_id} dropped: that schedule was never sent to it",
                run.seq, run.schedule
            );
            true
        }
        Err(e) => {
            warn!(
                "run {} of schedule {} from agent {agent_id} not stored: {e}",
                run.seq, run.schedule
            );
            false
        }
    }
}

/// A result as the store takes it.
pub fn incoming(agent_id: u64, command: Command) -> IncomingResult {
    let to_ms = |t: mig_core::GoTime| if t.is_zero() { 0 } else { t.unix_millis() };
    IncomingResult {
        command_id: command.id,
        agent_id,
        status: command.status.to_string(),
        results: command.results,
        starttime_ms: to_ms(command.starttime),
        finishtime_ms: to_ms(command.finishtime),
    }
}

/// Stores results in batches and acknowledges each once it is durable.
async fn write_results(
    app: Arc<App>,
    mut rx: mpsc::Receiver<PendingResult>,
    batch_size: usize,
    wait: Duration,
) {
    let mut results: Vec<IncomingResult> = Vec::with_capacity(batch_size);
    let mut acks: Vec<Ack> = Vec::with_capacity(batch_size);
    let take = |p: PendingResult, results: &mut Vec<IncomingResult>, acks: &mut Vec<Ack>| {
        results.push(p.result);
        acks.push(p.ack);
    };
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        take(first, &mut results, &mut acks);
        let deadline = tokio::time::Instant::now() + wait;
        while results.len() < batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => take(p, &mut results, &mut acks),
                _ => break,
            }
        }
        let mut attempt = 0;
        let stored = loop {
            match app.store.store_results(&results).await {
                Ok(s) => break Some(s),
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    warn!(
                        "storing {} results failed (attempt {attempt}): {e}",
                        results.len()
                    );
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    warn!("giving up on {} results for now: {e}", results.len());
                    break None;
                }
            }
        };
        match stored {
            Some(stored) => {
                Metrics::add(&app.metrics.results_stored, stored.len() as u64);
                Metrics::add(
                    &app.metrics.results_duplicate,
                    (results.len() - stored.len()) as u64,
                );
                // Duplicates are acknowledged too, so the agent stops sending them.
                let mut last_delivery = None;
                for (r, ack) in results.iter().zip(acks.drain(..)) {
                    match ack {
                        Ack::Builtin => {
                            let frame =
                                format!(r#"{{"type":"ack","command_id":{}}}"#, r.command_id);
                            app.hub.send(r.agent_id, frame);
                        }
                        Ack::Amqp(acker) => last_delivery = Some(acker),
                    }
                }
                // One acknowledgement for the batch: the consumer hands deliveries over in
                // order and every earlier one is settled (stored, dropped or returned), so
                // "this one and all before it" covers exactly the batch, at the cost of one
                // message to the broker's results queue instead of one per result.
                if let Some(acker) = last_delivery {
                    let all_before = lapin::options::BasicAckOptions { multiple: true };
                    let _ = acker.ack(all_before).await;
                }
                if !stored.is_empty() {
                    crate::retire::after_results(&app, &results, &stored);
                    app.wake_scheduler.notify_one();
                }
            }
            None => {
                // Not stored: AMQP deliveries return to the queue, for this or another scheduler;
                // built-in relay agents keep their results and send them again.
                for ack in acks.drain(..) {
                    if let Ack::Amqp(acker) = ack {
                        let requeue = lapin::options::BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        };
                        let _ = acker.nack(requeue).await;
                    }
                }
            }
        }
        results.clear();
    }
}
