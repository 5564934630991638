//! The server's side of the built-in relay: registering agents, storing their results in
//! batches (one transaction per batch, then acknowledgements), and sending them commands.

use crate::app::{now_ms, App, Metrics};
use crate::whitelist::Whitelist;
use mig_core::{Agent, Command};
use mig_relay::builtin::server::Backend;
use mig_store::commands::IncomingResult;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

pub struct RelayBackend {
    app: Arc<App>,
    whitelist: Option<Whitelist>,
    results: mpsc::Sender<IncomingResult>,
    /// The queueloc each connected agent registered with: heartbeats may not change it.
    queuelocs: Mutex<HashMap<u64, String>>,
}

impl RelayBackend {
    /// Starts the result writer and returns the backend.
    pub fn start(app: Arc<App>) -> anyhow::Result<Arc<RelayBackend>> {
        let whitelist = if app.config.agents.whitelist_enabled {
            Some(
                Whitelist::new(&app.config.agents.whitelist)
                    .map_err(|e| anyhow::anyhow!("agents.whitelist: {e}"))?,
            )
        } else {
            None
        };
        let (tx, rx) = mpsc::channel(100_000);
        let batch = app.config.scheduler.result_batch.max(1);
        let wait = crate::config::duration(
            &app.config.scheduler.result_batch_wait,
            "scheduler.result_batch_wait",
        )?;
        tokio::spawn(write_results(app.clone(), rx, batch, wait));
        Ok(Arc::new(RelayBackend {
            app,
            whitelist,
            results: tx,
            queuelocs: Mutex::new(HashMap::new()),
        }))
    }

    fn check_agent(&self, agent: &Agent) -> Result<(), String> {
        if agent.queueloc.is_empty() || agent.queueloc.len() > 512 {
            return Err("queueloc: expected 1 to 512 characters".into());
        }
        if agent.name.is_empty() || agent.name.len() > 512 {
            return Err("name: expected 1 to 512 characters".into());
        }
        Ok(())
    }
}

impl Backend for RelayBackend {
    async fn register(
        &self,
        agent: Agent,
        publickey: String,
        peer: SocketAddr,
    ) -> Result<u64, String> {
        self.check_agent(&agent)?;
        if let Some(w) = &self.whitelist {
            if !w.allows(&agent.queueloc) {
                Metrics::add(&self.app.metrics.relay_refused, 1);
                return Err(format!("agent {} is not whitelisted", agent.queueloc));
            }
        }
        match self
            .app
            .store
            .register_heartbeat(&agent, &publickey, now_ms())
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
        if let Err(e) = self.check_agent(&agent) {
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
        let to_ms = |t: mig_core::GoTime| if t.is_zero() { 0 } else { t.unix_millis() };
        let incoming = IncomingResult {
            command_id: command.id,
            agent_id,
            status: command.status,
            results: command.results,
            starttime_ms: to_ms(command.starttime),
            finishtime_ms: to_ms(command.finishtime),
        };
        // Backpressure: a full queue slows this agent's connection, never drops a result.
        if self.results.send(incoming).await.is_err() {
            warn!("result writer stopped; result from agent {agent_id} not stored");
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

/// Stores results in batches and acknowledges each once it is durable.
async fn write_results(
    app: Arc<App>,
    mut rx: mpsc::Receiver<IncomingResult>,
    batch_size: usize,
    wait: Duration,
) {
    let mut batch = Vec::with_capacity(batch_size);
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + wait;
        while batch.len() < batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                _ => break,
            }
        }
        let mut attempt = 0;
        let stored = loop {
            match app.store.store_results(&batch).await {
                Ok(s) => break Some(s),
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    warn!(
                        "storing {} results failed (attempt {attempt}): {e}",
                        batch.len()
                    );
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    // Not acknowledged: the agents keep these results and send them again.
                    warn!("giving up on {} results for now: {e}", batch.len());
                    break None;
                }
            }
        };
        if let Some(stored) = stored {
            Metrics::add(&app.metrics.results_stored, stored.len() as u64);
            Metrics::add(
                &app.metrics.results_duplicate,
                (batch.len() - stored.len()) as u64,
            );
            for r in &batch {
                // Duplicates are acknowledged too, so the agent stops sending them.
                app.hub.send(
                    r.agent_id,
                    format!(r#"{{"type":"ack","command_id":{}}}"#, r.command_id),
                );
            }
            if !stored.is_empty() {
                app.wake_scheduler.notify_one();
            }
        }
        batch.clear();
    }
}
