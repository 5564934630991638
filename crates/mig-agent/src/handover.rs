//! The running agent's part in an upgrade (see [`crate::upgrade`] for the protocol): the old
//! agent downloads, installs, hands its relay connection over and watches the new one; the
//! new one reports success once it has stayed connected through its probation.

use crate::runtime::{Outgoing, Runtime};
use crate::upgrade::{self, Layout, Record, Refused, State};
use mig_core::command::status;
use mig_core::{Command, GoTime, ModuleResult};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// How often the old agent looks at the new one.
const WATCH_EVERY: Duration = Duration::from_millis(250);

impl Runtime {
    /// Starts the upgrade a verified action asks for. None: the new agent runs (its result
    /// comes later, from it or from a rollback); Some: the upgrade did not start, and why.
    pub(crate) async fn begin_upgrade(
        self: &Arc<Self>,
        command: &Command,
        action: &mig_core::Action,
        signers: &[mig_pgp::Verified],
        started: GoTime,
    ) -> Option<(&'static str, Vec<ModuleResult>)> {
        let mut entry = crate::runtime::audit_entry(command, "started", signers);
        entry.operations = action
            .operations
            .iter()
            .map(crate::audit::OperationRecord::new)
            .collect();
        self.audit.record(&entry);
        let failed = |reason: String| {
            warn!("upgrade (command {}) not made: {reason}", command.id);
            let mut entry = crate::runtime::audit_entry(command, "ran", signers);
            entry.reason = reason.clone();
            entry.status = status::FAILED.into();
            self.audit.record(&entry);
            let n = action.operations.len().max(1);
            Some((status::FAILED, vec![ModuleResult::failure(reason); n]))
        };
        let _ = started;
        match self.prepare_upgrade(command, action).await {
            Ok(Prepared::Started(record, child)) => {
                info!(
                    "upgrade to {} started: new agent {} ({}); this agent (pid {}) watches it",
                    record.new_version,
                    record.new_pid,
                    record.new_binary.display(),
                    record.old_pid
                );
                let rt = self.clone();
                tokio::spawn(async move { rt.watch_new_agent(record, child).await });
                None
            }
            Ok(Prepared::Failed(result)) => {
                let reason = result.errors.join("; ");
                warn!("upgrade (command {}) failed: {reason}", command.id);
                let mut entry = crate::runtime::audit_entry(command, "ran", signers);
                entry.reason = reason;
                entry.status = status::FAILED.into();
                self.audit.record(&entry);
                Some((status::FAILED, vec![result]))
            }
            Err(Refused(reason)) => failed(reason),
        }
    }

    async fn prepare_upgrade(
        &self,
        command: &Command,
        action: &mig_core::Action,
    ) -> Result<Prepared, Refused> {
        let refuse = |s: String| Err(Refused(s));
        if action.operations.len() != 1 {
            return refuse(format!(
                "an upgrade action carries the upgrade operation alone (this one has {})",
                action.operations.len()
            ));
        }
        if self.mode != mig_core::agent::AgentMode::Daemon {
            return refuse("upgrades are made by agents in daemon mode, not check-in".into());
        }
        if let Some(r) = Record::load(&self.config.state_dir) {
            if r.state == State::Probation && process_alive(r.old_pid) {
                return refuse(format!(
                    "an upgrade from {} to {} is already under way",
                    r.old_version, r.new_version
                ));
            }
        }
        let op = &action.operations[0];
        let plan =
            mig_modules::upgrade::plan(&op.parameters).map_err(|e| Refused(e.to_string()))?;
        let instruction = plan
            .for_this_platform()
            .map_err(|e| Refused(e.to_string()))?
            .clone();
        let current = crate::version::current();
        upgrade::check_version(&instruction, current)?;
        let exe = std::env::current_exe().map_err(|e| {
            Refused(format!(
                "cannot find the agent's own binary: {}",
                mig_host::error_text(&e)
            ))
        })?;
        let layout = Layout::of(&exe, current, &instruction.to_version)?;

        // The download, in the upgrade module's sandboxed process.
        let staging = layout.open_staging()?;
        let release_keyring = self.config.release_keyring.clone();
        let handoff = layout.handoff(staging, &self.config.ca, release_keyring.is_some());
        let left = (action.expireafter.0 - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let spawned = |pid: u32| self.inflight.child(command.id, pid);
        let outcome = self
            .executor
            .run_with(
                "upgrade",
                &op.parameters,
                left,
                self.executor.result_budget(1),
                &spawned,
                Some(&handoff),
            )
            .await;
        drop(handoff);
        if outcome.status != status::SUCCESS {
            let _ = std::fs::remove_file(&layout.staging);
            return Ok(Prepared::Failed(outcome.result));
        }
        let statistics: mig_modules::upgrade::Statistics =
            serde_json::from_value(outcome.result.statistics.clone()).unwrap_or_default();
        if let Some(keyring) = &release_keyring {
            let elements: mig_modules::upgrade::Elements =
                serde_json::from_value(outcome.result.elements.clone()).unwrap_or_default();
            if let Err(e) = upgrade::check_release(keyring, &instruction, &elements) {
                let _ = std::fs::remove_file(&layout.staging);
                return Err(e);
            }
        }
        layout.verify_and_install(&instruction)?;

        let record = Record {
            command: command.id,
            action: action.id,
            action_name: action.name.clone(),
            old_pid: std::process::id(),
            old_version: current.to_string(),
            new_version: instruction.to_version.clone(),
            link: layout.link.clone(),
            previous: layout.previous.clone(),
            link_was_file: layout.running_is_link,
            new_binary: layout.new_binary.clone(),
            new_pid: 0,
            probation_ms: self.config.upgrade_probation().as_millis() as u64,
            downloadtime: statistics.downloadtime,
            downloadsize: statistics.downloadsize,
            state: State::Probation,
            reason: String::new(),
        };
        // Recorded before the new agent starts (it reads the record); its pid stays in
        // this process's copy, so that only the two state changes ever rewrite the file.
        if let Err(e) = save_record(&self.config.state_dir, &record) {
            let _ = upgrade::restore(&record);
            return Err(e);
        }
        // The command is not this process's to report any more: the new agent must not find
        // it unfinished when it starts (it would report it interrupted).
        self.inflight.end(command.id);
        // Off the relay before the new agent connects with the same identity.
        self.handed_over.send_replace(true);
        self.detach();
        match upgrade::start_new_agent(&record.new_binary, &self.launch.args, record.old_pid) {
            Ok(child) => Ok(Prepared::Started(
                Record {
                    new_pid: child.id(),
                    ..record
                },
                child,
            )),
            Err(e) => {
                let reason = format!(
                    "cannot start {}: {}",
                    record.new_binary.display(),
                    mig_host::error_text(&e)
                );
                let _ = upgrade::transition(
                    &self.config.state_dir,
                    State::Probation,
                    State::RolledBack,
                    &reason,
                );
                let restored = upgrade::restore(&record);
                self.handed_over.send_replace(false);
                match restored {
                    Ok(()) => Err(Refused(format!("rolled back: {reason}"))),
                    Err(e) => Err(Refused(format!("rolled back: {reason}; {e}"))),
                }
            }
        }
    }

    /// The old agent watches the new one until it succeeds, or rolls back.
    async fn watch_new_agent(self: Arc<Self>, record: Record, mut child: std::process::Child) {
        let start = Instant::now();
        let state_dir = self.config.state_dir.clone();
        let deadline = record.deadline();
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if Record::load(&state_dir).is_some_and(|r| r.state == State::Succeeded) {
                info!(
                    "the new agent {} (version {}) took over; this agent waits to be stopped",
                    record.new_pid, record.new_version
                );
                break;
            }
            let reason = match child.try_wait() {
                Ok(Some(exit)) => Some(format!(
                    "the new agent exited {} after it started ({exit})",
                    upgrade::since(start)
                )),
                Ok(None) if start.elapsed() >= deadline => Some(format!(
                    "the new agent did not stay connected to the relay for {}s within {}s",
                    record.probation_ms / 1000,
                    deadline.as_secs()
                )),
                Ok(None) => None,
                Err(e) => Some(format!("cannot watch the new agent: {e}")),
            };
            if let Some(reason) = reason {
                self.roll_back(&record, &mut child, reason);
                return;
            }
        }
        // Taken over: reap the new agent if it ends while this one is still here, and then
        // take the connection back rather than leave the host without an agent.
        let exit = tokio::task::spawn_blocking(move || child.wait()).await;
        warn!("the new agent ended ({exit:?}) before this one was stopped: reconnecting");
        self.handed_over.send_replace(false);
    }

    fn roll_back(&self, record: &Record, child: &mut std::process::Child, reason: String) {
        let state_dir = &self.config.state_dir;
        match upgrade::transition(state_dir, State::Probation, State::RolledBack, &reason) {
            Ok(true) => {}
            Ok(false) => {
                info!("the new agent succeeded as this one gave up on it: no rollback");
                return;
            }
            Err(e) => error!("cannot record the rollback: {e}"),
        }
        upgrade::stop_new_agent(child);
        let mut reason = reason;
        if let Err(e) = upgrade::restore(record) {
            error!("rollback: {e}");
            reason = format!("{reason}; {e}");
        }
        warn!("upgrade to {} rolled back: {reason}", record.new_version);
        let rolled_back = Record {
            reason: reason.clone(),
            state: State::RolledBack,
            ..record.clone()
        };
        self.audit
            .record(&rolled_back.audit_entry("rolled back", reason, status::FAILED));
        self.keep(rolled_back.rolled_back_result());
        // Back on the relay: the result goes out with the outbox on connection.
        self.handed_over.send_replace(false);
    }

    /// The new agent: once connected and still connected after the probation, the upgrade
    /// succeeded; its result says so, with the old agent's pid for the scheduler.
    pub(crate) fn spawn_probation(self: Arc<Self>, old_pid: u32) {
        tokio::spawn(async move {
            let state_dir = self.config.state_dir.clone();
            let Some(record) = Record::load(&state_dir) else {
                warn!("started as an upgrade of agent {old_pid}, but no upgrade is recorded");
                return;
            };
            if record.state != State::Probation
                || record.old_pid != old_pid
                || record.new_version != crate::version::current()
            {
                warn!(
                    "started as an upgrade of agent {old_pid}, but the recorded upgrade is another ({} → {}, {:?})",
                    record.old_version, record.new_version, record.state
                );
                return;
            }
            let probation = Duration::from_millis(record.probation_ms);
            let start = Instant::now();
            let mut connected_since: Option<Instant> = None;
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                if start.elapsed() > record.deadline() {
                    warn!("probation not passed in time: the old agent rolls back");
                    return;
                }
                if !self.is_connected() {
                    connected_since = None;
                    continue;
                }
                let since = *connected_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= probation {
                    break;
                }
            }
            match upgrade::transition(&state_dir, State::Probation, State::Succeeded, "") {
                Ok(true) => {}
                Ok(false) => {
                    warn!("the old agent rolled this upgrade back first");
                    return;
                }
                Err(e) => {
                    error!("cannot record the upgrade's success: {e}");
                    return;
                }
            }
            info!(
                "upgrade from {} (agent {old_pid}) to {} succeeded",
                record.old_version, record.new_version
            );
            self.audit.record(&record.audit_entry(
                "upgraded",
                format!(
                    "from version {} (pid {old_pid}) to {} ({})",
                    record.old_version,
                    record.new_version,
                    record.new_binary.display()
                ),
                status::SUCCESS,
            ));
            let result = record.success_result();
            let id = result.id;
            let json = self.keep(result);
            self.send(Outgoing::Result { id, json });
        });
    }
}

/// What preparing an upgrade came to, short of a refusal.
enum Prepared {
    /// The new agent runs.
    Started(Record, std::process::Child),
    /// The upgrade module failed (download, checksum, version): its result.
    Failed(ModuleResult),
}

fn save_record(state_dir: &std::path::Path, record: &Record) -> Result<(), Refused> {
    record.save(state_dir).map_err(|e| {
        Refused(format!(
            "cannot record the upgrade in {}: {}",
            state_dir.display(),
            mig_host::error_text(&e)
        ))
    })
}

fn process_alive(pid: u32) -> bool {
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}
