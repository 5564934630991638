//! schedule and unschedule: MIG's recurring actions, with the signing chain its roadmap asks
//! for. A `schedule` operation holds other operations and an interval; the agent verifies the
//! action once (signatures, the ACL for `schedule` *and* for every inner module, the validity
//! window), keeps it, and runs the inner operations itself at every interval — offline too —
//! until the action expires or a signed `unschedule` names it. One signature covers every run,
//! and nothing outside the signed schedule runs. See docs/monitoring.md.
//!
//! The agent registers and cancels schedules itself (mig-agent's schedules); here are the
//! parameters, their checks, the flags and the printers. `mig schedule -t local …` runs each
//! inner operation once, here, as a trial.

use crate::flags::{self, Flag};
use crate::{Context, ExecTime, Module, ModuleError, ModuleResult, Report};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

pub use mig_core::schedule::{SCHEDULE_MODULE, UNSCHEDULE_MODULE};

/// The shortest interval a schedule may have.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest interval a schedule may have.
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 86_400);
/// Operations one schedule may hold.
pub const MAX_OPERATIONS: usize = 16;

/// Modules a schedule may not hold: schedules do not nest, and what replaces or removes the
/// agent is a one-off decision, never a recurring one.
const NOT_SCHEDULABLE: &[&str] = &[
    SCHEDULE_MODULE,
    UNSCHEDULE_MODULE,
    "upgrade",
    "agentdestroy",
];

fn yes() -> bool {
    true
}

/// One operation a schedule runs at every interval.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduledOperation {
    /// The module (`query`, `file`, `netstat`…).
    pub module: String,
    /// Its parameters, as a one-off action would carry them.
    pub parameters: Value,
}

/// schedule's parameters.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// How often the operations run, as a Go duration (`60s`, `5m`); at least 1s.
    pub interval: String,
    /// At most this much extra wait before each run, chosen at random (a fleet does not run
    /// in lockstep); a Go duration shorter than the interval, or empty for none.
    #[serde(default)]
    pub splay: String,
    /// What runs at every interval.
    pub operations: Vec<ScheduledOperation>,
    /// `query` operations send only the rows added and removed since the previous run
    /// (osquery's differential results); false sends every row every time.
    #[serde(default = "yes")]
    pub differential: bool,
    /// Absolute paths whose changes (and their directories') `file_events` collects while
    /// the schedule runs.
    #[serde(default)]
    pub file_paths: Vec<String>,
    /// Hash (MD5, SHA-1, SHA-256) the files created or written under `file_paths`.
    #[serde(default)]
    pub file_hashes: bool,
    /// Run at once when events arrive for the event tables the schedule's queries read, not
    /// only at the interval, and send what such a run finds as an alert.
    #[serde(default)]
    pub alert: bool,
}

/// A schedule's parameters, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The parameters as given.
    pub params: Params,
    /// The interval.
    pub interval: Duration,
    /// The largest random extra wait.
    pub splay: Duration,
    /// For each operation, the tables it reads whose rows the agent hands over (the event
    /// tables `process_events` and `file_events`, and the buffers' tables).
    pub event_tables: Vec<Vec<String>>,
}

/// Paths a schedule may watch at most.
pub const MAX_FILE_PATHS: usize = 64;

impl Plan {
    /// Does any operation read `table`?
    pub fn reads(&self, table: &str) -> bool {
        self.event_tables.iter().flatten().any(|t| t == table)
    }
}

/// Checks a schedule's parameters: the interval and splay, and every inner operation with its
/// own module's checks.
pub fn check(p: &Params) -> Result<Plan, ModuleError> {
    let interval = mig_core::gotime::parse_duration(&p.interval)
        .map_err(|e| ModuleError::invalid("interval", e))?;
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        return Err(ModuleError::invalid(
            "interval",
            format!(
                "{:?} is outside {} to {}",
                p.interval,
                crate::gofmt::duration(MIN_INTERVAL),
                crate::gofmt::duration(MAX_INTERVAL)
            ),
        ));
    }
    let splay = if p.splay.is_empty() {
        Duration::ZERO
    } else {
        mig_core::gotime::parse_duration(&p.splay).map_err(|e| ModuleError::invalid("splay", e))?
    };
    if splay >= interval {
        return Err(ModuleError::invalid(
            "splay",
            format!(
                "{:?} must be shorter than the interval {:?}",
                p.splay, p.interval
            ),
        ));
    }
    if p.operations.is_empty() || p.operations.len() > MAX_OPERATIONS {
        return Err(ModuleError::invalid(
            "operations",
            format!(
                "expected 1 to {MAX_OPERATIONS} operations, got {}",
                p.operations.len()
            ),
        ));
    }
    for (i, op) in p.operations.iter().enumerate() {
        let field = format!("operations[{i}]");
        if NOT_SCHEDULABLE.contains(&op.module.as_str()) {
            return Err(ModuleError::invalid(
                field,
                format!("module {} cannot be scheduled", op.module),
            ));
        }
        let module = crate::lookup(&op.module).ok_or_else(|| {
            ModuleError::invalid(&field, format!("no module called {:?}", op.module))
        })?;
        module
            .check_json(&op.parameters)
            .map_err(|e| ModuleError::invalid(format!("{field} ({})", op.module), e.to_string()))?;
    }
    let event_tables: Vec<Vec<String>> = p
        .operations
        .iter()
        .map(|op| {
            if op.module != "query" {
                return Vec::new();
            }
            mig_core::events::snapshot_tables(
                &crate::query::tables_read(&op.parameters).unwrap_or_default(),
            )
        })
        .collect();
    let plan = Plan {
        params: p.clone(),
        interval,
        splay,
        event_tables,
    };
    if p.file_paths.len() > MAX_FILE_PATHS {
        return Err(ModuleError::invalid(
            "file_paths",
            format!("at most {MAX_FILE_PATHS} paths, got {}", p.file_paths.len()),
        ));
    }
    if let Some(relative) = p.file_paths.iter().find(|f| !f.starts_with('/')) {
        return Err(ModuleError::invalid(
            "file_paths",
            format!("{relative:?} is not an absolute path"),
        ));
    }
    let file_events = mig_core::events::FILE_EVENTS;
    if !p.file_paths.is_empty() && !plan.reads(file_events) {
        return Err(ModuleError::invalid(
            "file_paths",
            format!(
                "the paths are watched for queries of {file_events}, and no operation reads it"
            ),
        ));
    }
    if plan.reads(file_events) && p.file_paths.is_empty() {
        return Err(ModuleError::invalid(
            "file_paths",
            format!("a query of {file_events} needs the paths to watch"),
        ));
    }
    if p.alert
        && !plan
            .event_tables
            .iter()
            .any(|t| mig_core::events::reads_events(t))
    {
        return Err(ModuleError::invalid(
            "alert",
            "an alert runs when events arrive: a query must read process_events, file_events or socket_events",
        ));
    }
    Ok(plan)
}

/// Decodes and checks a schedule operation's parameters (the agent's gate, and the agent
/// when it registers the schedule).
pub fn check_json(params: &Value) -> Result<Plan, ModuleError> {
    crate::Erased::<Schedule>::decode(params)
}

/// Decodes and checks an unschedule operation's parameters.
pub fn check_cancel_json(params: &Value) -> Result<CancelParams, ModuleError> {
    crate::Erased::<Unschedule>::decode(params)
}

/// What a schedule reports: on an agent, that it registered the schedule; with `-t local`,
/// one trial run of each operation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Elements {
    /// The schedule (its action's ID) on the agent; 0 for a local trial.
    #[serde(default)]
    pub schedule: u64,
    /// How often it runs.
    pub interval: String,
    /// The largest random extra wait before a run.
    #[serde(default)]
    pub splay: String,
    /// The modules it runs, in order.
    pub operations: Vec<String>,
    /// Until when (RFC 3339): the action's expiry. Empty for a local trial.
    #[serde(default)]
    pub until: String,
    /// A local trial's results, one per operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trial: Vec<ModuleResult>,
}

impl Elements {
    /// The registration an agent reports for schedule `id` running `plan` until `until`.
    pub fn registered(id: u64, plan: &Plan, until: &str) -> Elements {
        Elements {
            schedule: id,
            interval: plan.params.interval.clone(),
            splay: plan.params.splay.clone(),
            operations: plan
                .params
                .operations
                .iter()
                .map(|o| o.module.clone())
                .collect(),
            until: until.to_string(),
            trial: Vec::new(),
        }
    }
}

const FLAGS: &[Flag] = &[
    Flag::value(
        "interval",
        "<duration>",
        "run every this long (default 60s); the action's expiration (-e) bounds the whole schedule",
    ),
    Flag::value(
        "splay",
        "<duration>",
        "wait up to this much more, at random, before each run",
    ),
    Flag::bool(
        "full",
        "send every row of a query at every run, not only the rows added and removed",
    ),
    Flag::multi(
        "file-path",
        "<path>",
        "watch this path (and the directories under it) for file_events; repeatable",
    ),
    Flag::bool(
        "file-hashes",
        "hash the files file_events sees created or written",
    ),
    Flag::bool(
        "alert",
        "run at once when events arrive, and send what the run finds as an alert",
    ),
];

/// The schedule module.
pub struct Schedule;

impl Module for Schedule {
    const NAME: &'static str = SCHEDULE_MODULE;
    const ABOUT: &'static str =
        "run operations on the agents at an interval until the action expires: mig schedule -interval 60s query \"SELECT …\"";
    const FLAGS: &'static [Flag] = FLAGS;
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = ExecTime;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        check(p)
    }

    /// A trial: each operation once, in this process (`mig schedule -t local`). On agents the
    /// agent registers the schedule instead.
    fn run(plan: &Plan, ctx: &Context) -> Result<Report<Elements, ExecTime>, ModuleError> {
        let start = Instant::now();
        let mut elements = Elements::registered(0, plan, "");
        for op in &plan.params.operations {
            let module = crate::lookup(&op.module)
                .ok_or_else(|| ModuleError::Failed(format!("no module called {}", op.module)))?;
            elements.trial.push(module.run_json(&op.parameters, ctx));
        }
        Ok(Report {
            foundanything: elements.trial.iter().any(|r| r.foundanything),
            elements,
            statistics: ExecTime::since(start),
            errors: Vec::new(),
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        let (module, rest) = f.positional.split_first().ok_or_else(|| {
            ModuleError::Flag(
                "expected a module and its flags after the schedule's, e.g. mig schedule -interval 60s query \"SELECT pid, name FROM processes\"".into(),
            )
        })?;
        let inner = crate::lookup(module).ok_or_else(|| {
            ModuleError::Flag(format!(
                "no module called {module:?} (`mig modules` lists them)"
            ))
        })?;
        let parameters = inner
            .flags_to_json(rest)
            .map_err(|e| ModuleError::Flag(format!("{module}: {e}")))?;
        Ok(Params {
            interval: f.value("interval").unwrap_or("60s").to_string(),
            splay: f.value("splay").unwrap_or_default().to_string(),
            operations: vec![ScheduledOperation {
                module: module.clone(),
                parameters,
            }],
            differential: !f.bool("full").unwrap_or(false),
            file_paths: f.all("file-path"),
            file_hashes: f.bool("file-hashes").unwrap_or(false),
            alert: f.bool("alert").unwrap_or(false),
        })
    }

    fn pretty(report: &Report<Elements, ExecTime>, found_only: bool) -> Vec<String> {
        let e = &report.elements;
        let splay = if e.splay.is_empty() {
            String::new()
        } else {
            format!(" (splay {})", e.splay)
        };
        let mut lines = Vec::new();
        if e.schedule != 0 {
            lines.push(format!(
                "schedule {} registered: {} every {}{splay} until {}",
                e.schedule,
                e.operations.join(", "),
                e.interval,
                e.until
            ));
        }
        for (module, result) in e.operations.iter().zip(&e.trial) {
            let printed = crate::lookup(module)
                .map(|m| m.pretty(result, found_only))
                .unwrap_or_default();
            lines.extend(printed.into_iter().map(|l| format!("{module}: {l}")));
        }
        if !found_only {
            lines.extend(report.errors.iter().cloned());
        }
        lines
    }
}

/// unschedule's parameters.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CancelParams {
    /// The schedule to cancel: the ID of the action that created it.
    pub schedule: u64,
    /// The SHA-256 (hex) of the schedule's signing text ([`digest`]). The ID is the server's;
    /// with the digest, the agent cancels only the schedule the signers saw, whatever ID a
    /// server gave it. Optional for MIG-style hand-written actions; `mig schedule cancel`
    /// always sets it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

/// What names a schedule whatever its ID: the SHA-256 of its action's signing text, in hex.
pub fn digest(action: &mig_core::Action) -> String {
    use sha2::Digest;
    crate::file::hash::hex(&sha2::Sha256::digest(action.signing_text().as_bytes()))
}

/// What an agent reports for an unschedule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct CancelElements {
    /// The schedule named.
    pub schedule: u64,
    /// Whether the agent held it (and no longer does).
    pub cancelled: bool,
}

/// The unschedule module.
pub struct Unschedule;

const CANCEL_FLAGS: &[Flag] = &[
    Flag::value(
        "schedule",
        "<action id>",
        "the schedule to cancel (the ID of the action that created it)",
    ),
    Flag::value(
        "digest",
        "<sha256>",
        "the SHA-256 of the schedule's signing text: cancel it only if it is that one",
    ),
];

impl Module for Unschedule {
    const NAME: &'static str = UNSCHEDULE_MODULE;
    const ABOUT: &'static str =
        "cancel a schedule on the agents that hold it: mig unschedule -schedule <action id>";
    const FLAGS: &'static [Flag] = CANCEL_FLAGS;
    type Params = CancelParams;
    type Plan = CancelParams;
    type Elements = CancelElements;
    type Statistics = ExecTime;

    fn validate(p: &CancelParams) -> Result<CancelParams, ModuleError> {
        if p.schedule == 0 {
            return Err(ModuleError::invalid("schedule", "expected an action ID"));
        }
        let hex = |d: &str| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit());
        if !p.digest.is_empty() && !hex(&p.digest) {
            return Err(ModuleError::invalid(
                "digest",
                "expected the 64 hex digits of a SHA-256",
            ));
        }
        Ok(p.clone())
    }

    /// Schedules live in agents, which cancel them themselves: there is none here.
    fn run(
        p: &CancelParams,
        _ctx: &Context,
    ) -> Result<Report<CancelElements, ExecTime>, ModuleError> {
        Err(ModuleError::Failed(format!(
            "schedule {} is not held here: schedules live in agents, which cancel them when the signed unschedule reaches them",
            p.schedule
        )))
    }

    fn parse_flags(args: &[String]) -> Result<CancelParams, ModuleError> {
        let f = flags::parse(CANCEL_FLAGS, args)?;
        f.no_positional()?;
        let schedule = f
            .int("schedule")?
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| ModuleError::Flag("expected -schedule <action id>".into()))?;
        Ok(CancelParams {
            schedule,
            digest: f.value("digest").unwrap_or_default().to_string(),
        })
    }

    fn pretty(report: &Report<CancelElements, ExecTime>, found_only: bool) -> Vec<String> {
        let e = &report.elements;
        match (e.cancelled, found_only) {
            (true, _) => vec![format!("schedule {} cancelled", e.schedule)],
            (false, false) => vec![format!("schedule {} was not held", e.schedule)],
            (false, true) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Result<Plan, ModuleError> {
        crate::Erased::<Schedule>::decode(&v)
    }

    #[test]
    fn intervals_splays_and_inner_operations_are_checked() {
        let ok = params(json!({"interval": "10s", "splay": "2s",
            "operations": [{"module": "query", "parameters": {"sql": "SELECT 1"}}]}))
        .unwrap();
        assert_eq!(ok.interval, Duration::from_secs(10));
        assert!(ok.params.differential);
        let err = |v: Value| params(v).unwrap_err().to_string();
        assert!(err(json!({"interval": "500ms", "operations": [{"module": "query", "parameters": {"sql": "SELECT 1"}}]}))
            .contains("interval"));
        assert!(err(json!({"interval": "10s", "splay": "10s", "operations": [{"module": "query", "parameters": {"sql": "SELECT 1"}}]}))
            .contains("shorter than the interval"));
        assert!(err(json!({"interval": "10s", "operations": []})).contains("1 to 16"));
        let e = err(
            json!({"interval": "10s", "operations": [{"module": "query", "parameters": {"sql": "SELEC 1"}}]}),
        );
        assert!(e.contains("operations[0] (query)"), "{e}");
        let e = err(
            json!({"interval": "10s", "operations": [{"module": "upgrade", "parameters": {}}]}),
        );
        assert!(e.contains("cannot be scheduled"), "{e}");
        let e =
            err(json!({"interval": "10s", "operations": [{"module": "nope", "parameters": {}}]}));
        assert!(e.contains("no module called"), "{e}");
    }

    #[test]
    fn event_tables_paths_and_alerts_go_together() {
        let files = |paths: Value, alert: bool| {
            params(
                json!({"interval": "60s", "file_paths": paths, "alert": alert,
                "operations": [{"module": "query", "parameters": {"sql": "SELECT target_path FROM file_events"}}]}),
            )
        };
        let plan = files(json!(["/etc/ssh"]), true).unwrap();
        assert_eq!(plan.event_tables, vec![vec!["file_events".to_string()]]);
        assert!(plan.reads("file_events") && !plan.reads("process_events"));
        assert!(files(json!([]), false)
            .unwrap_err()
            .to_string()
            .contains("needs the paths"));
        assert!(files(json!(["etc"]), false)
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        let e = params(json!({"interval": "60s", "alert": true,
            "operations": [{"module": "query", "parameters": {"sql": "SELECT 1"}}]}))
        .unwrap_err()
        .to_string();
        assert!(e.contains("alert"), "{e}");
        let e = params(json!({"interval": "60s", "file_paths": ["/etc"],
            "operations": [{"module": "query", "parameters": {"sql": "SELECT pid FROM process_events"}}]}))
        .unwrap_err()
        .to_string();
        assert!(e.contains("no operation reads it"), "{e}");
    }

    #[test]
    fn flags_name_the_schedule_then_the_module() {
        let args: Vec<String> = [
            "-interval",
            "5s",
            "-full",
            "query",
            "-maxrows",
            "3",
            "SELECT 1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = Schedule::parse_flags(&args).unwrap();
        assert_eq!(p.interval, "5s");
        assert!(!p.differential);
        assert_eq!(p.operations[0].module, "query");
        assert_eq!(p.operations[0].parameters["maxrows"], 3);
        assert_eq!(p.operations[0].parameters["sql"], "SELECT 1");
        assert!(Schedule::parse_flags(&["-interval".into(), "5s".into()]).is_err());
    }

    #[test]
    fn a_local_trial_runs_each_operation_once() {
        let plan = params(json!({"interval": "10s",
            "operations": [{"module": "query", "parameters": {"sql": "SELECT 41 + 1 AS answer"}}]}))
        .unwrap();
        let report = Schedule::run(&plan, &Context::new(None)).unwrap();
        assert_eq!(report.elements.trial.len(), 1);
        assert_eq!(report.elements.trial[0].elements["rows"][0][0], 42);
        let lines = Schedule::pretty(&report, false);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("query: ") && l.contains("42")),
            "{lines:?}"
        );
    }
}
