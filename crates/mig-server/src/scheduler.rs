//! The scheduler: moves actions through their lifecycle (pending → scheduled → preparing →
//! inflight → completed / expired / invalid), creates one command per target agent, delivers
//! them, and keeps agent statuses current. Everything it decides is in the database first, so
//! a restarted (or another) scheduler carries on where it stopped.

use crate::app::{now_ms, App, Metrics};
use crate::config::duration;
use mig_relay::protocol::command_frame;
use mig_store::actions::Envelope;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

pub struct Scheduler {
    app: Arc<App>,
    owner: String,
    lease_ms: i64,
    tick: Duration,
    idle_after_ms: i64,
    offline_after_ms: i64,
}

impl Scheduler {
    pub fn new(app: Arc<App>) -> anyhow::Result<Scheduler> {
        let c = &app.config;
        let period = duration(&c.agents.heartbeat_period, "agents.heartbeat_period")?;
        Ok(Scheduler {
            owner: format!(
                "{}-{}-{:x}",
                hostname(),
                std::process::id(),
                rand::random::<u32>()
            ),
            lease_ms: duration(&c.scheduler.lease, "scheduler.lease")?.as_millis() as i64,
            tick: duration(&c.scheduler.tick, "scheduler.tick")?,
            idle_after_ms: (period * c.agents.idle_after_periods).as_millis() as i64,
            offline_after_ms: duration(&c.agents.offline_after, "agents.offline_after")?.as_millis()
                as i64,
            app,
        })
    }

    pub async fn run(self) {
        info!("scheduler {} started", self.owner);
        tokio::spawn(listen_new_actions(self.app.clone()));
        loop {
            if let Err(e) = self.tick().await {
                warn!("scheduler: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.tick) => {}
                _ = self.app.wake_scheduler.notified() => {}
            }
        }
    }

    /// One pass over everything that may have changed.
    pub async fn tick(&self) -> anyhow::Result<()> {
        let store = &self.app.store;
        let now = now_ms();
        store.schedule_due_actions(now).await?;
        loop {
            let claimed = store
                .claim_actions(&self.owner, now_ms(), self.lease_ms, 10)
                .await?;
            if claimed.is_empty() {
                break;
            }
            for action in claimed {
                let id = action.id;
                if let Err(e) = self.launch(action).await {
                    self.launch_failed(id, e).await?;
                }
            }
        }
        for (id, st) in store.finish_actions(now_ms()).await? {
            info!("action {id} {st}");
        }
        store
            .refresh_agent_statuses(now_ms(), self.idle_after_ms, self.offline_after_ms)
            .await?;
        Ok(())
    }

    /// One action could not be launched: the others of the tick still are. When the database
    /// refused the action's own statements (its target, say), the action is invalid, with the
    /// reason; when the database could not be reached, its lease runs out and a scheduler tries
    /// again.
    async fn launch_failed(&self, id: u64, error: mig_store::StoreError) -> anyhow::Result<()> {
        if !error.is_refused_statement() {
            warn!("action {id}: cannot launch it now, retried when its lease ends: {error}");
            return Ok(());
        }
        let reason = format!("the action could not be launched: {error}");
        warn!("action {id} is invalid: {reason}");
        self.app
            .store
            .set_action_invalid(id, &reason, now_ms())
            .await?;
        Ok(())
    }

    async fn launch(&self, action: mig_core::Action) -> Result<(), mig_store::StoreError> {
        let store = &self.app.store;
        let target = match mig_core::target::parse(&action.target) {
            Ok(t) => t,
            Err(e) => {
                // The API checked it; an action stored by an older version may not pass.
                warn!("action {}: {e}", action.id);
                store
                    .set_action_invalid(action.id, &e.to_string(), now_ms())
                    .await?;
                return Ok(());
            }
        };
        let started = std::time::Instant::now();
        let agents = store.resolve_target(&target, now_ms()).await?;
        let resolved = started.elapsed();
        if agents.is_empty() {
            info!(
                "action {} is invalid: its target selects no agent",
                action.id
            );
            store
                .set_action_invalid(action.id, "its target selects no agent", now_ms())
                .await?;
            return Ok(());
        }
        let now = now_ms();
        let claimed_until = self.app.amqp_outbox.claim_until(now);
        let envelopes = store
            .launch_action(action.id, &self.owner, &agents, now, claimed_until)
            .await?;
        info!(
            "action {} launched on {} agents (target resolved in {} ms, commands queued in {} ms)",
            action.id,
            envelopes.len(),
            resolved.as_millis(),
            (started.elapsed() - resolved).as_millis()
        );
        self.dispatch(envelopes, claimed_until > 0);
        Ok(())
    }

    /// Agents connected to this process's built-in relay get their command at once; the others
    /// get it from their queue when they connect, or from the AMQP publisher: this process's
    /// when it claimed them at launch, else whichever claims them first.
    fn dispatch(&self, envelopes: Vec<Envelope>, claimed: bool) {
        let mut sent = 0;
        for e in &envelopes {
            if self.app.hub.send(e.agent_id, command_frame(&e.payload)) {
                sent += 1;
            }
        }
        Metrics::add(&self.app.metrics.commands_sent, sent);
        if claimed {
            self.app.amqp_outbox.hand_over(envelopes);
        } else {
            self.app.wake_dispatch.notify_one();
        }
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "mig-server".into())
}

/// Wakes the scheduler when an API process (scale-out, on PostgreSQL) announces an action;
/// relistens after a lost connection. Without it, the next tick finds the action anyway.
async fn listen_new_actions(app: std::sync::Arc<crate::app::App>) {
    loop {
        match app.store.listen_new_actions().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                while listener.next().await.is_ok() {
                    app.wake_scheduler.notify_one();
                }
                warn!("lost the database's new-action notifications: listening again");
            }
            Err(e) => warn!("cannot listen for new actions: {e}"),
        }
        // Whatever was announced meanwhile is found by the tick.
        app.wake_scheduler.notify_one();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
