//! Simulated agents: each has its own Ed25519 identity and queueloc, registers with a real
//! heartbeat, and answers every command with a tiny module result, over a real relay
//! connection (built-in: one WebSocket + TLS connection each; RabbitMQ: its own queue and
//! channels, on connections shared by a few hundred agents).

use ed25519_dalek::SigningKey;
use mig_core::{Agent, GoTime};
use mig_relay::amqp::agent::{attach_agent, AgentPublisher};
use mig_relay::amqp::{AmqpSettings, SignedMessage, HEARTBEATS_KEY, RESULTS_KEY};
use mig_relay::builtin::client::{connect, ClientSettings, Incoming};
use mig_relay::protocol::{result_frame, AgentMessage, ServerMessage};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, watch, Semaphore};

/// What the swarm's agents share: counters, and the heartbeat version to announce (changing
/// it sends a heartbeat wave).
pub struct Swarm {
    pub connected: AtomicUsize,
    pub answered: AtomicUsize,
    pub failures: AtomicUsize,
    pub version: watch::Sender<String>,
    /// When the swarm received its first and its last command, and sent its last result (the
    /// relay's share of the fan-out time, against the server's).
    pub timeline: Mutex<Timeline>,
    /// The RabbitMQ queues the swarm's agents declared, to delete when done.
    pub queues: Mutex<Vec<String>>,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct Timeline {
    pub first_command: Option<Instant>,
    pub last_command: Option<Instant>,
    pub last_result_sent: Option<Instant>,
}

impl Swarm {
    fn command_received(&self) {
        let mut t = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        t.first_command.get_or_insert(now);
        t.last_command = Some(now);
    }

    /// Forgets the last fan-out's times (before the next action).
    pub fn reset_timeline(&self) {
        *self.timeline.lock().unwrap_or_else(|p| p.into_inner()) = Timeline::default();
    }

    pub fn timeline(&self) -> Timeline {
        *self.timeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn result_sent(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_result_sent = Some(Instant::now());
    }
}

impl Swarm {
    pub fn new() -> Arc<Swarm> {
        Arc::new(Swarm {
            connected: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            failures: AtomicUsize::new(0),
            version: watch::channel("bench-1".to_string()).0,
            timeline: Mutex::default(),
            queues: Mutex::default(),
        })
    }
}

/// One simulated agent's identity.
struct Identity {
    key: SigningKey,
    name: String,
    queueloc: String,
}

impl Identity {
    fn new(index: usize) -> Identity {
        let name = format!("swarm-{index:05}");
        Identity {
            key: SigningKey::from_bytes(&rand::random()),
            queueloc: format!("linux.{name}.{:016x}", rand::random::<u64>()),
            name,
        }
    }

    fn heartbeat(&self, version: &str) -> Agent {
        let mut agent = Agent {
            name: self.name.clone(),
            queueloc: self.queueloc.clone(),
            mode: "daemon".into(),
            os: "linux".into(),
            version: version.to_string(),
            pid: 1,
            starttime: GoTime::now(),
            heartbeatts: GoTime::now(),
            ..Default::default()
        };
        agent.environment.arch = "amd64".into();
        agent.environment.init = "systemd".into();
        agent
    }
}

/// The answer to a command: success, nothing found, as small as a real module's.
fn answer(command: &Value) -> Option<(u64, String)> {
    let id = command.get("id")?.as_u64()?;
    let now = GoTime::now().to_rfc3339();
    let result = json!({
        "id": id,
        "action": {"id": command["action"]["id"], "name": command["action"]["name"]},
        "agent": command["agent"],
        "status": "success",
        "results": [{"foundanything": false, "success": true, "elements": {}, "statistics": {}, "errors": null}],
        "starttime": now,
        "finishtime": now,
    });
    Some((id, result.to_string()))
}

/// Starts `count` agents on the built-in relay, at most `concurrency` connecting at once.
pub async fn start_builtin(
    swarm: Arc<Swarm>,
    settings: ClientSettings,
    count: usize,
    concurrency: usize,
) {
    let settings = Arc::new(settings);
    let gate = Arc::new(Semaphore::new(concurrency));
    for index in 0..count {
        let permit = gate.clone().acquire_owned().await.expect("semaphore open");
        let (swarm, settings) = (swarm.clone(), settings.clone());
        tokio::spawn(async move {
            let me = Identity::new(index);
            let mut version = swarm.version.subscribe();
            let hb = me.heartbeat(&version.borrow_and_update());
            let session = match connect(&settings, &me.key, hb).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{}: {e}", me.name);
                    swarm.failures.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            drop(permit);
            swarm.connected.fetch_add(1, Ordering::Relaxed);
            let (mut sender, mut receiver) = (session.sender, session.receiver);
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            tokio::spawn(async move {
                while let Some(frame) = rx.recv().await {
                    if sender.send_text(frame).await.is_err() {
                        break;
                    }
                }
            });
            loop {
                tokio::select! {
                    changed = version.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let hb = me.heartbeat(&version.borrow_and_update());
                        let frame = AgentMessage::Heartbeat { agent: Box::new(hb) };
                        let _ = tx.send(serde_json::to_string(&frame).unwrap_or_default());
                    }
                    message = receiver.next() => match message {
                        Ok(Some(Incoming::Message(ServerMessage::Command { command }))) => {
                            swarm.command_received();
                            if let Some((_, json)) = answer(&command) {
                                let _ = tx.send(result_frame(&json));
                                swarm.result_sent();
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => {
                            swarm.failures.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Starts `count` agents on RabbitMQ, `per_connection` to a connection.
pub async fn start_amqp(
    swarm: Arc<Swarm>,
    settings: AmqpSettings,
    count: usize,
    per_connection: usize,
) -> anyhow::Result<()> {
    let mut index = 0;
    let mut connections = tokio::task::JoinSet::new();
    while index < count {
        let range = index..(index + per_connection).min(count);
        index = range.end;
        let (swarm, settings) = (swarm.clone(), settings.clone());
        connections.spawn(async move {
            let conn = Arc::new(mig_relay::amqp::connect(&settings, "mig-bench swarm").await?);
            for i in range {
                let me = Identity::new(i);
                let (commands, publisher) = attach_agent(conn.clone(), &me.queueloc).await?;
                swarm
                    .queues
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(mig_relay::amqp::agent_queue(&me.queueloc));
                let mut version = swarm.version.subscribe();
                let hb = me.heartbeat(&version.borrow_and_update());
                publish_heartbeat(&publisher, &me, &hb).await?;
                swarm.connected.fetch_add(1, Ordering::Relaxed);
                let swarm = swarm.clone();
                tokio::spawn(async move {
                    let mut commands = commands;
                    loop {
                        tokio::select! {
                            changed = version.changed() => {
                                if changed.is_err() {
                                    return;
                                }
                                let hb = me.heartbeat(&version.borrow_and_update());
                                if publish_heartbeat(&publisher, &me, &hb).await.is_err() {
                                    swarm.failures.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            incoming = commands.next() => {
                                let Ok(Some(incoming)) = incoming else {
                                    swarm.failures.fetch_add(1, Ordering::Relaxed);
                                    return;
                                };
                                swarm.command_received();
                                let command: Value = serde_json::from_slice(&incoming).unwrap_or_default();
                                if let Some((_, json)) = answer(&command) {
                                    let signed = SignedMessage::sign(&me.key, "result", &me.queueloc, json);
                                    match publisher.publish(RESULTS_KEY, &signed, true).await {
                                        Ok(()) => swarm.result_sent(),
                                        Err(_) => {
                                            swarm.failures.fetch_add(1, Ordering::Relaxed);
                                        }
                                    }
                                }
                            }
                        }
                    }
                });
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = connections.join_next().await {
        done??;
    }
    Ok(())
}

async fn publish_heartbeat(
    publisher: &AgentPublisher,
    me: &Identity,
    hb: &Agent,
) -> anyhow::Result<()> {
    let signed = SignedMessage::sign(
        &me.key,
        "heartbeat",
        &me.queueloc,
        serde_json::to_string(hb)?,
    );
    publisher.publish(HEARTBEATS_KEY, &signed, false).await?;
    Ok(())
}

/// Deletes the swarm's agent queues: thousands of durable queues left behind make the broker
/// slow to delete their vhost, and the next run slow to start. Each queue's deletion is a
/// round trip through its own queue process, so several channels delete at once.
pub async fn delete_amqp_queues(swarm: &Swarm, settings: &AmqpSettings) -> anyhow::Result<()> {
    const CHANNELS: usize = 16;
    let queues = std::mem::take(&mut *swarm.queues.lock().unwrap_or_else(|p| p.into_inner()));
    let conn = mig_relay::amqp::connect(settings, "mig-bench cleanup").await?;
    let mut deleting = tokio::task::JoinSet::new();
    for share in queues.chunks(queues.len().div_ceil(CHANNELS).max(1)) {
        let channel = conn.create_channel().await?;
        let share = share.to_vec();
        deleting.spawn(async move {
            for queue in share {
                channel
                    .queue_delete(
                        queue.as_str().into(),
                        lapin::options::QueueDeleteOptions::default(),
                    )
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = deleting.join_next().await {
        done??;
    }
    Ok(())
}
