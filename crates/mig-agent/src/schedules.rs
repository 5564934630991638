//! Signed schedules held by the agent (the `schedule` module's other half): kept on disk as
//! the signed action itself, checked again by the gate before every run, run locally at every
//! interval — connected or not — and ended by their expiry, a signed `unschedule`, or a
//! keyring or ACL that no longer allows them. Each run's results wait in their own outbox
//! until the server acknowledges them.
//!
//! On disk, under `<state_dir>/schedules/`: `<id>.action.json` (the action as it was signed)
//! and `<id>.state.json` (the run count and, for differential queries, the previous rows).

use crate::audit;
use crate::runtime::{Outgoing, Runtime};
use mig_core::command::status;
use mig_core::schedule::RowChanges;
use mig_core::{Action, Command, GoTime, ModuleResult, Operation, ScheduledRun};
use mig_modules::schedule::{Elements, Plan};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// An alerting schedule waits this long after the first new event before it runs, so that a
/// burst of events makes one run.
const ALERT_GATHER: Duration = Duration::from_millis(100);
/// Alert runs of one schedule start a second apart at least: a host starting programs
/// without pause does not make an alerting schedule run without pause.
const ALERT_GAP: Duration = Duration::from_secs(1);

/// A schedule running: its task, and its plan (for what it asks the event collectors).
struct Running {
    task: tokio::task::AbortHandle,
    plan: Plan,
}

/// The schedules this agent holds, and their running tasks.
pub struct Schedules {
    dir: PathBuf,
    running: Mutex<HashMap<u64, Running>>,
    /// The last run message ID given: IDs increase across restarts (they start from the
    /// clock, in microseconds).
    last_run_id: AtomicU64,
}

/// What the agent remembers between runs of one schedule.
#[derive(Serialize, Deserialize, Default)]
struct RunState {
    /// Runs so far.
    seq: u64,
    /// The rows of each differential query operation at its last successful run, by
    /// operation index.
    #[serde(default)]
    rows: HashMap<usize, Vec<Vec<Value>>>,
}

impl Schedules {
    pub fn open(state_dir: &Path) -> std::io::Result<Schedules> {
        let dir = state_dir.join("schedules");
        std::fs::create_dir_all(&dir)?;
        Ok(Schedules {
            dir,
            running: Mutex::new(HashMap::new()),
            last_run_id: AtomicU64::new(0),
        })
    }

    fn action_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.action.json"))
    }

    fn state_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.state.json"))
    }

    /// The IDs of the schedules kept on disk.
    fn held(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".action.json")?
                            .parse()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    fn load_action(&self, id: u64) -> Option<Action> {
        let bytes = std::fs::read(self.action_path(id)).ok()?;
        Action::from_json(&bytes).ok()
    }

    fn load_state(&self, id: u64) -> RunState {
        std::fs::read(self.state_path(id))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save_state(&self, id: u64, state: &RunState) {
        let path = self.state_path(id);
        let tmp = path.with_extension("tmp");
        let written = serde_json::to_vec(state)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            warn!("schedule {id}: cannot keep its state: {e}");
        }
    }

    /// Keeps a verified schedule action on disk, as it was signed.
    fn keep(&self, action: &Action) -> std::io::Result<()> {
        let path = self.action_path(action.id);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(action)?)?;
        std::fs::rename(&tmp, &path)
    }

    /// What the running schedules ask the event collectors for.
    fn wants(&self) -> crate::events::Wants {
        use mig_core::events::PROCESS_EVENTS;
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut wants = crate::events::Wants::default();
        for plan in running.values().map(|r| &r.plan) {
            wants.process |= plan.reads(PROCESS_EVENTS);
            wants.sockets |= plan.reads(mig_core::events::SOCKET_EVENTS);
            wants
                .file_paths
                .extend(plan.params.file_paths.iter().map(PathBuf::from));
            wants.file_hashes |= plan.params.file_hashes;
        }
        wants
    }

    /// Forgets a schedule: its task stops, its files go. Returns whether it was held.
    fn forget(&self, id: u64) -> bool {
        if let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        {
            r.task.abort();
        }
        let held = std::fs::remove_file(self.action_path(id)).is_ok();
        let _ = std::fs::remove_file(self.state_path(id));
        held
    }

    /// A new run message ID.
    fn next_run_id(&self) -> u64 {
        let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
        let mut last = self.last_run_id.load(Ordering::SeqCst);
        loop {
            let id = now.max(last + 1);
            match self
                .last_run_id
                .compare_exchange(last, id, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return id,
                Err(seen) => last = seen,
            }
        }
    }
}

/// The schedule plan inside a verified schedule action.
fn plan_of(action: &Action) -> Result<Plan, String> {
    let op = action
        .operations
        .first()
        .ok_or("the action has no operation")?;
    mig_modules::schedule::check_json(&op.parameters).map_err(|e| e.to_string())
}

impl Runtime {
    /// A verified schedule action: kept, started, and reported as registered. `signed` is
    /// the action as received (what is kept, and checked again before each run); `action` is
    /// the same with its parameters decompressed.
    pub(crate) fn register_schedule(
        self: &Arc<Self>,
        command: &Command,
        signed: &Action,
        action: &Action,
        signers: &[mig_pgp::Verified],
    ) -> (&'static str, Vec<ModuleResult>) {
        let refuse = |reason: String| {
            warn!("schedule {}: {reason}", action.id);
            (status::FAILED, vec![ModuleResult::failure(reason)])
        };
        let plan = match plan_of(action) {
            Ok(plan) => plan,
            Err(e) => return refuse(format!("invalid schedule: {e}")),
        };
        if self.mode != mig_core::agent::AgentMode::Daemon {
            return refuse(
                "this agent runs in check-in mode: schedules run only in agents that stay up (daemon mode)".into(),
            );
        }
        if let Err(e) = self.schedules.keep(signed) {
            return refuse(format!("cannot keep the schedule: {e}"));
        }
        let mut entry = crate::runtime::audit_entry(command, "scheduled", signers);
        entry.operations = plan
            .params
            .operations
            .iter()
            .map(|o| audit::OperationRecord::new(&Operation::new(&o.module, o.parameters.clone())))
            .collect();
        self.audit.record(&entry);
        info!(
            "schedule {} '{}' registered: {} every {} until {}",
            action.id,
            action.name,
            entry.modules.join(", "),
            plan.params.interval,
            action.expireafter.to_rfc3339()
        );
        self.start_schedule(signed.clone(), plan.clone());
        let elements = Elements::registered(action.id, &plan, &action.expireafter.to_rfc3339());
        let result = ModuleResult {
            foundanything: true,
            success: true,
            elements: serde_json::to_value(elements).unwrap_or_default(),
            statistics: Value::Null,
            errors: Vec::new(),
        };
        (status::SUCCESS, vec![result])
    }

    /// A verified unschedule: the schedule it names stops here, if this agent held it.
    pub(crate) fn cancel_schedule(
        &self,
        command: &Command,
        action: &Action,
        signers: &[mig_pgp::Verified],
    ) -> (&'static str, Vec<ModuleResult>) {
        let op = &action.operations[0];
        let params = match mig_modules::schedule::check_cancel_json(&op.parameters) {
            Ok(p) => p,
            Err(e) => {
                return (
                    status::FAILED,
                    vec![ModuleResult::failure(format!("invalid unschedule: {e}"))],
                )
            }
        };
        // Named by the server's ID and, when the signers gave it, by its content: a server
        // that gave another schedule this ID on this agent cannot have it cancelled.
        let held = self.schedules.load_action(params.schedule);
        let matches = held.as_ref().is_some_and(|a| {
            params.digest.is_empty()
                || mig_modules::schedule::digest(a).eq_ignore_ascii_case(&params.digest)
        });
        if held.is_some() && !matches {
            warn!(
                "unschedule {}: the schedule held under that ID is not the one signed for (digest differs): kept",
                params.schedule
            );
        }
        let cancelled = matches && self.schedules.forget(params.schedule);
        self.events.want(self.schedules.wants());
        let mut entry = crate::runtime::audit_entry(command, "unscheduled", signers);
        entry.reason = if cancelled {
            format!("schedule {} cancelled", params.schedule)
        } else {
            format!("schedule {} was not held", params.schedule)
        };
        self.audit.record(&entry);
        info!("{}", entry.reason);
        let elements = mig_modules::schedule::CancelElements {
            schedule: params.schedule,
            cancelled,
        };
        let result = ModuleResult {
            foundanything: cancelled,
            success: true,
            elements: serde_json::to_value(elements).unwrap_or_default(),
            statistics: Value::Null,
            errors: Vec::new(),
        };
        (status::SUCCESS, vec![result])
    }

    /// Starts the schedules kept by an earlier run of the agent, each checked again first: an
    /// expired one, or one the keyring or ACL no longer allows, is dropped (and audited).
    pub fn resume_schedules(self: &Arc<Self>) {
        for id in self.schedules.held() {
            let Some(action) = self.schedules.load_action(id) else {
                warn!("schedule {id}: its file does not read; dropped");
                self.schedules.forget(id);
                continue;
            };
            match self.gate.verify(&action, GoTime::now()) {
                Ok((decompressed, _)) => match plan_of(&decompressed) {
                    Ok(plan) => {
                        info!("schedule {id} '{}' resumed", action.name);
                        self.start_schedule(action, plan);
                    }
                    Err(e) => self.end_schedule(&action, &format!("invalid schedule: {e}")),
                },
                Err(refused) => self.end_schedule(&action, &refused.reason),
            }
        }
    }

    /// A schedule ends without a signed unschedule: expired, or no longer allowed.
    fn end_schedule(&self, action: &Action, reason: &str) {
        info!("schedule {} '{}' ended: {reason}", action.id, action.name);
        self.schedules.forget(action.id);
        self.events.want(self.schedules.wants());
        let command = Command {
            action: action.clone(),
            ..Default::default()
        };
        let mut entry = crate::runtime::audit_entry(&command, "schedule ended", &[]);
        entry.reason = reason.to_string();
        self.audit.record(&entry);
    }

    fn start_schedule(self: &Arc<Self>, signed: Action, plan: Plan) {
        let id = signed.id;
        let rt = self.clone();
        let run_plan = plan.clone();
        let task = tokio::spawn(async move { rt.schedule_loop(signed, run_plan).await });
        let running = Running {
            task: task.abort_handle(),
            plan,
        };
        if let Some(old) = self
            .schedules
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, running)
        {
            old.task.abort();
        }
        self.events.want(self.schedules.wants());
    }

    /// Runs a schedule at every interval until it ends. The first run is at once (after the
    /// splay); a run longer than the interval delays the next, never overlaps it. An alerting
    /// schedule also runs as soon as events arrive (a moment after, to take a burst together)
    /// and sends such a run only when it found something.
    async fn schedule_loop(self: Arc<Self>, signed: Action, plan: Plan) {
        let mut state = self.schedules.load_state(signed.id);
        // Events from the registration on: what came before belongs to no run of this one.
        let mut cursors = self.events.cursors_now();
        // An alerting schedule wakes for the event tables its queries read, and no others.
        let mut arrivals: Vec<tokio::sync::watch::Receiver<u64>> = if plan.params.alert {
            mig_core::events::EVENT_TABLES
                .iter()
                .filter(|t| plan.reads(t))
                .map(|t| self.events.subscribe(t))
                .collect()
        } else {
            Vec::new()
        };
        let mut next = tokio::time::Instant::now();
        let start = tokio::time::Instant::now();
        let mut last_alert = start.checked_sub(ALERT_GAP).unwrap_or(start);
        loop {
            let splay = plan.splay.mul_f64(rand::random::<f64>());
            let due = next + splay;
            let arrived = async {
                if arrivals.is_empty() {
                    return std::future::pending().await;
                }
                let changes = arrivals.iter_mut().map(|rx| Box::pin(rx.changed()));
                let _ = futures_util::future::select_all(changes).await;
            };
            let alert = tokio::select! {
                _ = tokio::time::sleep_until(due) => false,
                () = arrived => {
                    // A burst makes one run, and alert runs are a second apart at least.
                    let wait = ALERT_GATHER.max(ALERT_GAP.saturating_sub(last_alert.elapsed()));
                    tokio::time::sleep(wait).await;
                    true
                }
            };
            for rx in &mut arrivals {
                rx.borrow_and_update();
            }
            if alert {
                last_alert = tokio::time::Instant::now();
            } else {
                next = tokio::time::Instant::now() + plan.interval;
            }
            let now = GoTime::now();
            if now.0 >= signed.expireafter.0 {
                self.end_schedule(&signed, "expired");
                return;
            }
            // Checked again every time: a key taken out of the keyring or the ACL stops
            // what it signed.
            let action = match self.gate.verify(&signed, now) {
                Ok((action, _)) => action,
                Err(refused) => {
                    self.end_schedule(&signed, &refused.reason);
                    return;
                }
            };
            let mut run = self
                .run_schedule_once(&action, &plan, &mut state, &mut cursors, now)
                .await;
            if alert {
                if !run.results.iter().any(|r| r.foundanything) {
                    // Nothing matched: no alert, and the run number is not used up.
                    state.seq -= 1;
                    continue;
                }
                run.alert = true;
                info!("schedule {} raised an alert (run {})", signed.id, run.seq);
            }
            self.schedules.save_state(signed.id, &state);
            self.deliver_run(run);
        }
    }

    /// One run of every operation of a schedule, differential queries reduced to their
    /// changes.
    async fn run_schedule_once(
        &self,
        action: &Action,
        plan: &Plan,
        state: &mut RunState,
        cursors: &mut crate::events::Cursors,
        now: GoTime,
    ) -> ScheduledRun {
        let operations: Vec<Operation> = plan
            .params
            .operations
            .iter()
            .map(|o| Operation::new(&o.module, o.parameters.clone()))
            .collect();
        // A run may take the interval, at most (and never past the schedule's end).
        let bound = chrono::Duration::from_std(plan.interval.max(Duration::from_secs(1)))
            .unwrap_or_default();
        let expires = (now.0 + bound).min(action.expireafter.0);
        // Each query of an event table gets the events since the previous run.
        let handoffs: Vec<Option<crate::executor::Handoff>> = plan
            .event_tables
            .iter()
            .map(|tables| {
                if tables.is_empty() {
                    return None;
                }
                let snapshot = self.events.snapshot_since(tables, cursors);
                crate::events::handoff(&snapshot)
                    .map_err(|e| warn!("schedule {}: events not handed over: {e}", action.id))
                    .ok()
            })
            .collect();
        let outcomes = self
            .executor
            .run_all_with(&operations, expires, &|_pid| {}, &handoffs)
            .await;
        state.seq += 1;
        let mut run_status = status::SUCCESS;
        let mut results = Vec::with_capacity(outcomes.len());
        for (i, (outcome, op)) in outcomes.into_iter().zip(&operations).enumerate() {
            if outcome.status != status::SUCCESS && run_status == status::SUCCESS {
                run_status = outcome.status;
            }
            let mut result = outcome.result;
            if self.config.privacy {
                if let Some(m) = mig_modules::lookup(&op.module) {
                    m.mask(&mut result);
                }
            }
            let events = mig_core::events::reads_events(&plan.event_tables[i]);
            if op.module == "query" && result.success && events {
                // Every row is an event since the previous run: all of them are new.
                new_rows(&mut result);
            } else if op.module == "query" && plan.params.differential && result.success {
                if let Some(rows) = differential(&mut result, state.rows.remove(&i)) {
                    state.rows.insert(i, rows);
                }
            }
            results.push(result);
        }
        ScheduledRun {
            id: self.schedules.next_run_id(),
            schedule: action.id,
            name: action.name.clone(),
            seq: state.seq,
            ranat: now,
            status: run_status.to_string(),
            results,
            alert: false,
        }
    }

    /// Keeps a run until the server acknowledges it, and sends it if connected.
    fn deliver_run(&self, run: ScheduledRun) {
        let json = match serde_json::to_string(&run) {
            Ok(j) => j,
            Err(e) => {
                warn!(
                    "schedule {} run {}: not serializable: {e}",
                    run.schedule, run.seq
                );
                return;
            }
        };
        match self.runs.put(run.id, &json) {
            Ok(()) => self.send(Outgoing::Run { id: run.id, json }),
            Err(e) => warn!("schedule {} run {}: {e}", run.schedule, run.seq),
        }
    }
}

/// A query of event tables: its rows, all added (they are the events since the last run).
fn new_rows(result: &mut ModuleResult) {
    let Ok(table) = serde_json::from_value::<mig_modules::query::Elements>(result.elements.clone())
    else {
        return;
    };
    let changes = RowChanges {
        columns: table.columns,
        rowcount: table.rows.len(),
        added: table.rows,
        removed: Vec::new(),
        snapshot: false,
    };
    result.foundanything = changes.changed();
    if let Ok(v) = serde_json::to_value(&changes) {
        result.elements = v;
    }
}

/// Replaces a query result's rows with the changes since `previous` rows; returns the rows
/// to compare the next run with (None when the result is not a query table).
fn differential(
    result: &mut ModuleResult,
    previous: Option<Vec<Vec<Value>>>,
) -> Option<Vec<Vec<Value>>> {
    let table: mig_modules::query::Elements =
        serde_json::from_value(result.elements.clone()).ok()?;
    let changes = RowChanges::between(table.columns, previous.as_deref(), &table.rows);
    result.foundanything = changes.changed();
    result.elements = serde_json::to_value(&changes).ok()?;
    Some(table.rows)
}
