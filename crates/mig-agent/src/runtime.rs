//! The agent at work: connected to its relay (reconnecting forever), sending heartbeats,
//! taking commands through the gate, running them, and delivering results until acknowledged.

use crate::audit::{self, AuditLog};
use crate::config::{duration, Config};
use crate::executor::Executor;
use crate::gate::{Decision, Gate};
use crate::hostinfo::Host;
use crate::identity::Identity;
use crate::inflight::{self, InFlight};
use crate::outbox::Outbox;
use anyhow::Context;
use mig_core::agent::AgentMode;
use mig_core::command::status;
use mig_core::redact::url_password;
use mig_core::{Command, GoTime, ModuleResult};
use mig_relay::amqp::agent::{connect_agent, AgentPublisher};
use mig_relay::amqp::{
    AmqpSettings, SignedMessage, HEARTBEATS_KEY, RESULTS_KEY, RUNS_KEY, RUN_KIND,
};
use mig_relay::builtin::client::{connect, ClientSettings, Incoming};
use mig_relay::protocol::{result_frame, run_frame, AgentMessage, ServerMessage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// The two relays an agent can talk to.
enum Relay {
    Builtin(ClientSettings),
    Amqp(AmqpSettings),
}

/// Something for the relay.
pub(crate) enum Outgoing {
    Result {
        id: u64,
        json: String,
    },
    /// A scheduled run (its ID is the agent's).
    Run {
        id: u64,
        json: String,
    },
    Heartbeat(Box<mig_core::Agent>),
}

pub struct Runtime {
    pub config: Config,
    pub identity: Identity,
    pub host: Host,
    pub gate: Gate,
    pub executor: Executor,
    pub outbox: Outbox,
    /// Scheduled runs waiting for the server's acknowledgement.
    pub runs: Outbox,
    /// The signed schedules this agent holds.
    pub schedules: crate::schedules::Schedules,
    /// Events collected while schedules ask for them.
    pub events: crate::events::EventHub,
    pub inflight: InFlight,
    pub audit: AuditLog,
    /// `daemon` or `checkin`.
    pub mode: AgentMode,
    /// How this process was started, to start a new version the same way.
    pub launch: Launch,
    /// What to send on the current connection, if any. Commands that finish after their
    /// connection was lost send their results on the next one.
    sender: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    running: AtomicUsize,
    last_activity: Mutex<Instant>,
    /// Connections that got past their handshake, since start.
    pub(crate) sessions: AtomicUsize,
    /// True while a new version of the agent holds the relay connection (an upgrade): this
    /// process stays off the relay (both share one identity).
    pub(crate) handed_over: tokio::sync::watch::Sender<bool>,
}

/// How the agent process was started.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// The arguments that start another agent on the same configuration.
    pub args: Vec<std::ffi::OsString>,
    /// Set in an agent started by an upgrade: the old agent's pid.
    pub upgraded_from: Option<u32>,
}

impl Runtime {
    pub fn new(config: Config, mode: AgentMode, launch: Launch) -> anyhow::Result<Arc<Runtime>> {
        let (host, identity) = host_and_identity(&config)?;
        let (keyring, acl) = crate::trust::load(&config)?;
        let cgroup_procs = crate::sandbox::cpu_cgroup(config.module_cpu_percent);
        if cgroup_procs.is_none() {
            warn!("no cgroup CPU controller available: modules run at nice 19 without a CPU cap");
        }
        let executor = Executor {
            exe: std::env::current_exe().context("cannot find the agent's own executable")?,
            module_timeout: config.module_timeout(),
            memory_bytes: config.module_memory_mb << 20,
            cgroup_procs,
            slots: tokio::sync::Semaphore::new(config.module_slots()),
            max_message: config.max_message_bytes,
        };
        Ok(Arc::new(Runtime {
            gate: Gate::new(keyring, acl, &config.state_dir),
            outbox: Outbox::open(
                &config.state_dir,
                config.outbox_max_bytes,
                config.max_message_bytes,
            )?,
            runs: Outbox::open_in(
                config.state_dir.join("runs"),
                config.outbox_max_bytes,
                config.max_message_bytes,
            )?,
            schedules: crate::schedules::Schedules::open(&config.state_dir)?,
            events: crate::events::EventHub::new(config.event_buffer),
            inflight: InFlight::open(&config.state_dir)?,
            audit: AuditLog::new(&config.audit_log),
            executor,
            host,
            identity,
            mode,
            config,
            launch,
            sender: Mutex::new(None),
            running: AtomicUsize::new(0),
            last_activity: Mutex::new(Instant::now()),
            sessions: AtomicUsize::new(0),
            handed_over: tokio::sync::watch::Sender::new(false),
        }))
    }

    fn heartbeat(&self) -> mig_core::Agent {
        self.host.heartbeat(
            &self.identity.queueloc,
            &self.mode,
            &self.config.tags,
            &self.config.proxy,
        )
    }

    /// The relay accepted us: say so on disk, and let go of the start-up code.
    fn connected(&self, hb: &mig_core::Agent) {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        self.write_ok_file(hb);
        self.touch();
        crate::footprint::release_startup_code();
    }

    /// MIG writes the last heartbeat to `<rundir>/mig-agent.ok`.
    fn write_ok_file(&self, hb: &mig_core::Agent) {
        let dir = &self.config.run_dir;
        let write = std::fs::create_dir_all(dir).and_then(|_| {
            std::fs::write(
                dir.join("mig-agent.ok"),
                serde_json::to_vec_pretty(hb).unwrap_or_default(),
            )
        });
        if let Err(e) = write {
            warn!("cannot write {}/mig-agent.ok: {e}", dir.display());
        }
    }

    fn touch(&self) {
        *self.last_activity.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    pub(crate) fn send(&self, message: Outgoing) {
        if let Some(tx) = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let _ = tx.send(message);
        }
    }

    /// Makes `tx` the current connection's queue and queues the results not yet
    /// acknowledged.
    fn attach(&self, tx: &mpsc::UnboundedSender<Outgoing>) {
        *self.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx.clone());
        for (id, json) in self.outbox.all() {
            let _ = tx.send(Outgoing::Result { id, json });
        }
        for (id, json) in self.runs.all() {
            let _ = tx.send(Outgoing::Run { id, json });
        }
    }

    pub(crate) fn detach(&self) {
        *self.sender.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Sends a heartbeat every period, for as long as the task lives.
    fn heartbeat_task(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let rt = self.clone();
        let period = self.config.heartbeat_period();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let hb = rt.heartbeat();
                rt.write_ok_file(&hb);
                rt.send(Outgoing::Heartbeat(Box::new(hb)));
            }
        })
    }

    /// Runs a command in the background; its result goes to the current connection.
    /// Is a relay connection up?
    pub(crate) fn is_connected(&self) -> bool {
        self.sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn spawn_command(self: &Arc<Self>, command: serde_json::Value) {
        self.touch();
        let rt = self.clone();
        self.running.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let id = command_id(&command);
            let result = rt.process(command).await;
            if let Some(json) = result {
                rt.send(Outgoing::Result { id, json });
            }
            rt.running.fetch_sub(1, Ordering::SeqCst);
            rt.touch();
        });
    }

    /// How to reach the relay, by the URL's scheme.
    fn relay(&self) -> anyhow::Result<Relay> {
        let c = &self.config;
        if c.relay.starts_with("amqps://") || c.relay.starts_with("amqp://") {
            if c.relay.starts_with("amqp://") {
                warn!(
                    "relay {}: plain AMQP, without TLS; use amqps:// outside a test network",
                    url_password(&c.relay)
                );
            }
            let tls = c.relay.starts_with("amqps://");
            return Ok(Relay::Amqp(AmqpSettings {
                url: c.relay.clone(),
                ca: tls.then(|| c.ca.clone()),
                cert: tls.then(|| c.cert.clone()),
                key: tls.then(|| c.key.clone()),
            }));
        }
        if !c.relay.starts_with("wss://") {
            anyhow::bail!(
                "relay: {:?} is not a wss:// or amqps:// URL",
                url_password(&c.relay)
            );
        }
        Ok(Relay::Builtin(ClientSettings {
            url: c.relay.clone(),
            tls: mig_relay::tls::client_config(&c.ca, Some((&c.cert, &c.key)))?,
            proxy: (!c.proxy.is_empty()).then(|| c.proxy.clone()),
            max_message: c.max_message_bytes,
            timeout: Duration::from_secs(20),
        }))
    }

    /// Has a check-in run its course: quiet for `idle` with nothing running or unsent, or
    /// past its deadline?
    fn checkin_done(&self, idle: Duration, deadline: Instant) -> bool {
        let quiet = self
            .last_activity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
            >= idle;
        let busy = self.running.load(Ordering::SeqCst) > 0 || !self.outbox.all().is_empty();
        (quiet && !busy) || Instant::now() >= deadline
    }

    /// One connection to whichever relay the configuration names.
    async fn session(
        self: Arc<Self>,
        relay: &Relay,
        checkin: Option<(Duration, Instant)>,
    ) -> anyhow::Result<()> {
        match relay {
            Relay::Builtin(settings) => self.builtin_session(settings, checkin).await,
            Relay::Amqp(settings) => self.amqp_session(settings, checkin).await,
        }
    }

    /// Reloads the keyring and the ACL when their files change, or at once on SIGHUP; a
    /// change that does not load leaves the previous ones in place (and says why).
    fn trust_watch_task(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let rt = self.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hangup = signal(SignalKind::hangup()).ok();
            let mut stamp = crate::trust::Stamp::of(&rt.config);
            loop {
                let signalled = tokio::select! {
                    _ = tokio::time::sleep(crate::trust::POLL) => false,
                    Some(()) = async {
                        match hangup.as_mut() {
                            Some(h) => h.recv().await,
                            None => std::future::pending().await,
                        }
                    } => true,
                };
                let now = crate::trust::Stamp::of(&rt.config);
                if !signalled && now == stamp {
                    continue;
                }
                stamp = now;
                let why = if signalled {
                    "SIGHUP"
                } else {
                    "a file changed"
                };
                match crate::trust::load(&rt.config) {
                    Ok((keyring, acl)) => {
                        info!(
                            "keyring ({} keys, {}) and ACL ({}) reloaded ({why})",
                            keyring.len(),
                            rt.config.keyring.display(),
                            rt.config.acl.display()
                        );
                        rt.gate.replace_trust(keyring, acl);
                    }
                    Err(e) => tracing::error!(
                        "keyring and ACL not reloaded ({why}); the previous ones stay in force: {e:#}"
                    ),
                }
            }
        })
    }

    /// Daemon mode: stay connected, forever.
    pub async fn run_daemon(self: Arc<Self>) -> anyhow::Result<()> {
        let settings = self.relay()?;
        let _watch = AbortOnDrop(self.trust_watch_task());
        let mut backoff = Backoff::new(duration(&self.config.reconnect_max, "reconnect_max")?);
        info!(
            "agent {} starting (queueloc {})",
            self.host.name, self.identity.queueloc
        );
        if let Some(old) = self.launch.upgraded_from {
            self.clone().spawn_probation(old);
        }
        self.resume_schedules();
        let mut handed_over = self.handed_over.subscribe();
        loop {
            // While a new version holds the connection, stay off the relay.
            let _ = handed_over.wait_for(|h| !*h).await;
            let established = self.sessions.load(Ordering::SeqCst);
            tokio::select! {
                r = self.clone().session(&settings, None) => if let Err(e) = r {
                    warn!("relay: {e:#}");
                },
                _ = handed_over.wait_for(|h| *h) => {
                    self.detach();
                    info!("relay connection handed over to the new agent");
                    continue;
                }
            }
            // A connection that got past its handshake worked: whatever ended it, the next
            // attempt starts from the shortest wait again.
            if self.sessions.load(Ordering::SeqCst) != established {
                backoff.reset();
            }
            let wait = backoff.next();
            info!("reconnecting in {:.1}s", wait.as_secs_f64());
            tokio::time::sleep(wait).await;
        }
    }

    /// Check-in mode: connect, run what is queued, send the results, and exit once nothing
    /// new has happened for `checkin_idle` (at most 1.1 times the module timeout overall).
    pub async fn run_checkin(self: Arc<Self>) -> anyhow::Result<()> {
        let settings = self.relay()?;
        let idle = duration(&self.config.checkin_idle, "checkin_idle")?;
        let cap = self.config.module_timeout().mul_f64(1.1);
        let deadline = Instant::now() + cap;
        match tokio::time::timeout(cap, self.clone().session(&settings, Some((idle, deadline))))
            .await
        {
            Ok(r) => r,
            Err(_) => {
                warn!(
                    "check-in stopped at its hard cap of {:.0}s",
                    cap.as_secs_f64()
                );
                Ok(())
            }
        }
    }

    /// One built-in relay connection, until it is lost (daemon) or idle (check-in).
    async fn builtin_session(
        self: Arc<Self>,
        settings: &ClientSettings,
        checkin: Option<(Duration, Instant)>,
    ) -> anyhow::Result<()> {
        let hb = self.heartbeat();
        let session = connect(settings, self.identity.key(), hb.clone()).await?;
        info!(
            "connected to {} as agent {}",
            settings.url, session.agent_id
        );
        self.connected(&hb);
        let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
        self.attach(&tx);
        let mut sender = session.sender;
        let mut receiver = session.receiver;
        let writer = tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                let frame = match message {
                    Outgoing::Result { json, .. } => result_frame(&json),
                    Outgoing::Run { json, .. } => run_frame(&json),
                    Outgoing::Heartbeat(agent) => {
                        serde_json::to_string(&AgentMessage::Heartbeat { agent })
                            .unwrap_or_default()
                    }
                };
                if sender.send_text(frame).await.is_err() {
                    break;
                }
            }
            sender.close().await;
        });
        // Aborted however the session ends, a handover dropping it included.
        let beat = AbortOnDrop(self.heartbeat_task());
        // No frame at all (the server pings every 30 s by default) for this long: the
        // connection is dead even if TCP has not noticed. Any frame, a ping included, counts.
        let silence = self.config.relay_silence();
        let mut last_frame = Instant::now();
        let outcome = loop {
            let wait = match checkin {
                Some((idle, _)) => idle.min(silence),
                None => silence,
            };
            let msg = match tokio::time::timeout(wait, receiver.next()).await {
                Ok(Ok(Some(Incoming::Message(m)))) => {
                    last_frame = Instant::now();
                    m
                }
                Ok(Ok(Some(Incoming::Alive))) => {
                    last_frame = Instant::now();
                    continue;
                }
                Ok(Ok(None)) => break Err(anyhow::anyhow!("the relay closed the connection")),
                Ok(Err(e)) => break Err(e.into()),
                Err(_) if last_frame.elapsed() >= silence => {
                    break Err(anyhow::anyhow!(
                        "nothing from the relay for {:.0}s",
                        silence.as_secs_f64()
                    ))
                }
                Err(_) => match checkin {
                    Some((idle, deadline)) if self.checkin_done(idle, deadline) => {
                        info!("check-in done: nothing new for {}s", idle.as_secs());
                        break Ok(());
                    }
                    _ => continue,
                },
            };
            match msg {
                ServerMessage::Command { command } => self.spawn_command(command),
                ServerMessage::Ack { command_id } => {
                    self.outbox.remove(command_id);
                    self.touch();
                }
                ServerMessage::RunAck { id } => self.runs.remove(id),
                ServerMessage::Error { message } => warn!("relay says: {message}"),
                other => warn!("unexpected message from the relay: {other:?}"),
            }
        };
        self.detach();
        drop(beat);
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        outcome
    }

    /// One RabbitMQ connection, until it is lost (daemon) or idle (check-in). Commands wait
    /// in the agent's durable queue while it is away; results are published persistent and
    /// leave the outbox once the broker confirms them.
    async fn amqp_session(
        self: Arc<Self>,
        settings: &AmqpSettings,
        checkin: Option<(Duration, Instant)>,
    ) -> anyhow::Result<()> {
        let queueloc = self.identity.queueloc.clone();
        let (mut commands, publisher) = connect_agent(settings, &queueloc).await?;
        // The heartbeat registers the agent (and pins its key) before any result arrives.
        let hb = self.heartbeat();
        self.publish_heartbeat(&publisher, &hb).await?;
        info!("connected to {} as {queueloc}", url_password(&settings.url));
        self.connected(&hb);
        let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
        self.attach(&tx);
        let mut writer = {
            let rt = self.clone();
            tokio::spawn(async move {
                while let Some(message) = rx.recv().await {
                    match message {
                        Outgoing::Result { id, json } => {
                            let signed =
                                SignedMessage::sign(rt.identity.key(), "result", &queueloc, json);
                            publisher.publish(RESULTS_KEY, &signed, true).await?;
                            rt.outbox.remove(id);
                            rt.touch();
                        }
                        Outgoing::Run { id, json } => {
                            let signed =
                                SignedMessage::sign(rt.identity.key(), RUN_KIND, &queueloc, json);
                            publisher.publish(RUNS_KEY, &signed, true).await?;
                            rt.runs.remove(id);
                        }
                        Outgoing::Heartbeat(agent) => {
                            rt.publish_heartbeat(&publisher, &agent).await?
                        }
                    }
                }
                anyhow::Ok(())
            })
        };
        // Aborted however the session ends, a handover dropping it included.
        let beat = AbortOnDrop(self.heartbeat_task());
        let outcome = loop {
            let wait = checkin.map_or(Duration::from_secs(3600), |(idle, _)| idle);
            let next = tokio::select! {
                n = tokio::time::timeout(wait, commands.next()) => n,
                w = &mut writer => break match w {
                    Ok(Err(e)) => Err(e.context("publishing to RabbitMQ")),
                    _ => Err(anyhow::anyhow!("the publisher stopped")),
                },
            };
            let incoming = match next {
                Ok(Ok(Some(m))) => m,
                Ok(Ok(None)) => break Err(anyhow::anyhow!("RabbitMQ closed the connection")),
                Ok(Err(e)) => break Err(e.into()),
                Err(_) => match checkin {
                    Some((idle, deadline)) if self.checkin_done(idle, deadline) => {
                        info!("check-in done: nothing new for {}s", idle.as_secs());
                        break Ok(());
                    }
                    _ => continue,
                },
            };
            match serde_json::from_slice::<serde_json::Value>(&incoming) {
                Ok(command) => self.spawn_command(command),
                Err(e) => warn!("unreadable message in the agent's queue: {e}"),
            }
        };
        self.detach();
        drop(beat);
        drop(tx);
        if !writer.is_finished() {
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut writer).await;
        }
        outcome
    }

    async fn publish_heartbeat(
        &self,
        publisher: &AgentPublisher,
        hb: &mig_core::Agent,
    ) -> anyhow::Result<()> {
        let body = serde_json::to_string(hb)?;
        let signed = SignedMessage::sign(
            self.identity.key(),
            "heartbeat",
            &self.identity.queueloc,
            body,
        );
        publisher
            .publish(HEARTBEATS_KEY, &signed, false)
            .await
            .context("publishing a heartbeat")?;
        Ok(())
    }

    /// Everything that happens to one command. Returns the result to send (also kept in the
    /// outbox until acknowledged), or None when there is nothing to send.
    pub async fn process(self: &Arc<Self>, raw: serde_json::Value) -> Option<String> {
        let id = command_id(&raw);
        if id != 0 {
            if let Some(previous) = self.outbox.get(id) {
                // Delivered again before our result was acknowledged: resend, don't rerun.
                return Some(previous);
            }
        }
        let command = match mig_core::Command::from_json(raw.to_string().as_bytes()) {
            Ok(c) => c,
            Err(e) => {
                warn!("unreadable command {id}: {e}");
                if id == 0 {
                    return None;
                }
                let failed = Command {
                    id,
                    status: status::FAILED.into(),
                    results: vec![ModuleResult::failure(format!(
                        "the agent could not read the command: {e}"
                    ))],
                    starttime: GoTime::now(),
                    finishtime: GoTime::now(),
                    ..Default::default()
                };
                return Some(self.keep(failed));
            }
        };
        let started = GoTime::now();
        let (status, results) = match self.gate.check(&command, started) {
            // Already running or run: its result goes out when it is made, or went out.
            Decision::AlreadySeen => return None,
            Decision::Refuse {
                reason,
                kind,
                signers,
            } => {
                warn!("command {} refused ({kind}): {reason}", command.id);
                let mut entry = audit_entry(&command, "refused", &signers);
                entry.operations = operations_as_received(&command.action);
                entry.reason = reason.clone();
                entry.status = status::FAILED.into();
                self.audit.record(&entry);
                let n = command.action.operations.len().max(1);
                (
                    status::FAILED,
                    vec![ModuleResult::failure(format!("refused by the agent: {reason}")); n],
                )
            }
            Decision::Run { action, verified }
                if action.operations.iter().any(|o| o.module == "upgrade") =>
            {
                match self
                    .begin_upgrade(&command, &action, &verified.signers, started)
                    .await
                {
                    // The new agent sends the result, or this one does after a rollback.
                    None => {
                        self.inflight.end(command.id);
                        return None;
                    }
                    Some(failed) => failed,
                }
            }
            Decision::Run { action, verified }
                if action.operations.first().map(|o| o.module.as_str())
                    == Some(mig_core::schedule::SCHEDULE_MODULE) =>
            {
                self.register_schedule(&command, &command.action, &action, &verified.signers)
            }
            Decision::Run { action, verified }
                if action.operations.len() == 1
                    && action.operations[0].module == mig_core::schedule::UNSCHEDULE_MODULE =>
            {
                self.cancel_schedule(&command, &action, &verified.signers)
            }
            Decision::Run { action, verified } => {
                self.run_verified(&command, &action, &verified.signers, started)
                    .await
            }
        };
        let result = Command {
            id: command.id,
            action: mig_core::Action {
                id: command.action.id,
                name: command.action.name.clone(),
                ..Default::default()
            },
            agent: command.agent.clone(),
            status: status.into(),
            results,
            starttime: started,
            finishtime: GoTime::now(),
        };
        let json = self.keep(result);
        self.inflight.end(command.id);
        Some(json)
    }

    /// Runs an action the gate let through: recorded as running (on disk and in the audit
    /// log) before the first module starts, and audited again when it ends.
    async fn run_verified(
        &self,
        command: &Command,
        action: &mig_core::Action,
        signers: &[mig_pgp::Verified],
        started: GoTime,
    ) -> (&'static str, Vec<ModuleResult>) {
        info!(
            "running action {} '{}' (command {})",
            action.id, action.name, command.id
        );
        self.inflight.begin(&inflight::Record {
            command: command.id,
            action: action.id,
            name: action.name.clone(),
            modules: action.operations.iter().map(|o| o.module.clone()).collect(),
            started: started.to_rfc3339(),
            children: Vec::new(),
        });
        let mut entry = audit_entry(command, "started", signers);
        entry.operations = action
            .operations
            .iter()
            .map(audit::OperationRecord::new)
            .collect();
        self.audit.record(&entry);

        let (st, results) = self.run_action(action, command.id).await;
        info!("command {} finished: {st}", command.id);
        let mut entry = audit_entry(command, "ran", signers);
        entry.status = st.into();
        entry.results = action
            .operations
            .iter()
            .zip(&results)
            .map(|(op, r)| audit::ResultSummary {
                module: op.module.clone(),
                success: r.success,
                foundanything: r.foundanything,
                errors: r.errors.len(),
            })
            .collect();
        self.audit.record(&entry);
        (st, results)
    }

    /// Keeps a result in the outbox until the relay acknowledges it. A result larger than the
    /// relay takes would never leave (and would be retried forever): its results are replaced
    /// by failures that say so.
    pub(crate) fn keep(&self, mut result: Command) -> String {
        let mut json = serde_json::to_string(&result).unwrap_or_default();
        if json.len() > self.executor.max_message {
            let size = json.len();
            warn!(
                "the result of command {} is {size} bytes, more than the relay takes ({}): replaced by failures",
                result.id, self.executor.max_message
            );
            let n = result.results.len().max(1);
            result.status = status::FAILED.into();
            result.results = vec![
                ModuleResult::failure(format!(
                    "the result was {size} bytes, more than the {} the relay takes",
                    self.executor.max_message
                ));
                n
            ];
            json = serde_json::to_string(&result).unwrap_or_default();
        }
        if let Err(e) = self.outbox.put(result.id, &json) {
            warn!("{e}");
        }
        json
    }

    /// Commands an earlier run of this agent started and never finished (it crashed, was
    /// killed, or the machine went down): their leftover module processes are killed, the
    /// audit log says so, and a failed result saying why waits in the outbox for the relay.
    pub fn recover_unfinished(&self) {
        for record in self.inflight.take_unfinished() {
            let killed = inflight::kill_leftovers(&record);
            let reason = format!(
                "the agent stopped while this command ran (started {}); it was not run again{}",
                record.started,
                if killed > 0 {
                    format!(" ({killed} leftover module process(es) killed)")
                } else {
                    String::new()
                }
            );
            warn!("command {}: {reason}", record.command);
            self.audit.record(&audit::Entry {
                time: GoTime::now().to_rfc3339(),
                command: record.command,
                action: record.action,
                name: record.name.clone(),
                signers: Vec::new(),
                modules: record.modules.clone(),
                outcome: "interrupted".into(),
                operations: Vec::new(),
                results: Vec::new(),
                reason: reason.clone(),
                status: status::FAILED.into(),
            });
            let failed = Command {
                id: record.command,
                action: mig_core::Action {
                    id: record.action,
                    name: record.name.clone(),
                    ..Default::default()
                },
                status: status::FAILED.into(),
                results: vec![ModuleResult::failure(reason); record.modules.len().max(1)],
                starttime: GoTime::now(),
                finishtime: GoTime::now(),
                ..Default::default()
            };
            self.keep(failed);
        }
    }

    /// Runs every operation (at most the executor's slots at once across the agent); the
    /// command's status is the first non-success.
    pub async fn run_action(
        &self,
        action: &mig_core::Action,
        command: u64,
    ) -> (&'static str, Vec<ModuleResult>) {
        let spawned = |pid: u32| self.inflight.child(command, pid);
        // A query of an event table gets every event buffered now.
        let handoffs: Vec<Option<crate::executor::Handoff>> = action
            .operations
            .iter()
            .map(|op| {
                let read = if op.module == "query" {
                    mig_modules::query::tables_read(&op.parameters).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let tables = mig_core::events::snapshot_tables(&read);
                if tables.is_empty() {
                    return None;
                }
                let snapshot = self.events.snapshot_since(&tables, &mut Default::default());
                crate::events::handoff(&snapshot).ok()
            })
            .collect();
        let outcomes = self
            .executor
            .run_all_with(
                &action.operations,
                action.expireafter.0,
                &spawned,
                &handoffs,
            )
            .await;
        let status = outcomes
            .iter()
            .map(|o| o.status)
            .find(|s| *s != status::SUCCESS)
            .unwrap_or(status::SUCCESS);
        let results = outcomes
            .into_iter()
            .zip(&action.operations)
            .map(|(o, op)| {
                let mut r = o.result;
                if self.config.privacy {
                    if let Some(m) = mig_modules::lookup(&op.module) {
                        m.mask(&mut r);
                    }
                }
                r
            })
            .collect();
        (status, results)
    }
}

/// The audit entry of a command, without operations, results, reason or status yet.
pub(crate) fn audit_entry(
    command: &Command,
    outcome: &str,
    signers: &[mig_pgp::Verified],
) -> audit::Entry {
    audit::Entry {
        time: GoTime::now().to_rfc3339(),
        command: command.id,
        action: command.action.id,
        name: command.action.name.clone(),
        signers: signers
            .iter()
            .map(|s| audit::Signer {
                name: s.user_id.clone(),
                fingerprint: s.fingerprint.clone(),
            })
            .collect(),
        modules: command
            .action
            .operations
            .iter()
            .map(|o| o.module.clone())
            .collect(),
        outcome: outcome.into(),
        operations: Vec::new(),
        results: Vec::new(),
        reason: String::new(),
        status: String::new(),
    }
}

/// A refused action's operations as the endpoint's users should see them: decompressed when
/// that is possible within the caps, as received otherwise.
fn operations_as_received(action: &mig_core::Action) -> Vec<audit::OperationRecord> {
    let mut copy = action.clone();
    if copy.operations.len() > mig_core::action::MAX_OPERATIONS {
        copy.operations.truncate(mig_core::action::MAX_OPERATIONS);
    }
    for op in &mut copy.operations {
        let _ = op.decompress();
    }
    copy.operations
        .iter()
        .map(audit::OperationRecord::new)
        .collect()
}

/// This machine as the agent presents it (named by the configuration, if it says so), and the
/// agent's identity, created on first use.
pub fn host_and_identity(config: &Config) -> anyhow::Result<(Host, Identity)> {
    let mut host = Host::detect();
    if !config.name.is_empty() {
        host.name = config.name.clone();
    }
    let identity =
        crate::identity::load_or_create(&config.state_dir, crate::hostinfo::os(), &host.name)?;
    Ok((host, identity))
}

/// A command's id, before the command is parsed (0 if it has none).
fn command_id(raw: &serde_json::Value) -> u64 {
    raw.get("id")
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
        .unwrap_or(0)
}

/// Stops a background task when its owner goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Jittered exponential backoff, from 1 s up to a cap.
struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    fn new(cap: Duration) -> Backoff {
        Backoff {
            next: Duration::from_secs(1),
            cap: cap.max(Duration::from_secs(1)),
        }
    }

    fn reset(&mut self) {
        self.next = Duration::from_secs(1);
    }

    fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.cap);
        // ±50%: a fleet that lost its relay does not come back in lockstep.
        base.mul_f64(0.5 + rand::random::<f64>()).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(10));
        let waits: Vec<Duration> = (0..8).map(|_| b.next()).collect();
        assert!(waits[0] <= Duration::from_millis(1500));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(10)));
        assert!(waits[6] >= Duration::from_secs(5), "{waits:?}");
        b.reset();
        assert!(b.next() <= Duration::from_millis(1500));
    }
}
