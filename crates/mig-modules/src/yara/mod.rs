//! yara: "which files, which processes match these YARA rules?" MIG's yara module (rules plus
//! a file search written as `mig file` flags), and past MIG, process memory: processes by pid
//! or by a regex on their executable, scanned region by region with yara-x's block scanner.
//!
//! The engine (yara-x) is behind the `yara` cargo feature; a build without it still knows the
//! module's parameters and says plainly that it cannot scan.

pub(crate) mod engine;

use crate::flags::{self, Flag};
use crate::os::procmem;
use crate::{gofmt, Context, Module, ModuleError, Report, SandboxNeeds};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// MIG's parameters (`yara`, `filesearch`) and ours (`pids`, `procnames`, `scantimeout`).
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Params {
    /// The rules' source text.
    #[serde(rename = "yara", default)]
    pub rules: String,
    /// Which files to scan, as `mig file` flags: `-path /bin -name ssh`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filesearch: String,
    /// Processes to scan, by pid.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub pids: Vec<f64>,
    /// Processes to scan, by a regex on their executable's path (`[comm]` for kernel threads).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub procnames: Vec<String>,
    /// Time allowed for each file or process (a Go duration; MIG's 10s when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scantimeout: String,
}

/// MIG's elements: `{"Matches": [{"Object", "MatchedRules"}]}`, with `Pid` for processes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Elements {
    #[serde(rename = "Matches", default)]
    /// What matched.
    pub matches: Vec<YaraMatch>,
}

/// yara's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How many files were scanned.
    pub filesscanned: u64,
    /// How many processes were scanned.
    pub processesscanned: u64,
    /// How long the run took.
    pub exectime: String,
}

/// The rules compiled and what to scan, checked.
pub(crate) struct Plan {
    rules: engine::Rules,
    timeout: Duration,
    /// The file module's plan for `filesearch`, when files are scanned.
    files: Option<Vec<crate::file::PlannedSearch>>,
    pids: Vec<u32>,
    procnames: Vec<regex::Regex>,
}

/// One object that matched, and the rules it matched.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct YaraMatch {
    /// The file's path, or the process's executable.
    #[serde(rename = "Object")]
    pub object: String,
    #[serde(rename = "MatchedRules")]
    /// The rules it matched, in rule order.
    pub matched_rules: Vec<String>,
    #[serde(rename = "Pid", default, skip_serializing_if = "Option::is_none")]
    /// The process ID, for process memory.
    pub pid: Option<u32>,
}

const DEFAULT_SCAN_TIMEOUT: Duration = Duration::from_secs(10);

const FLAGS: &[Flag] = &[
    Flag::value(
        "rules",
        "<file>",
        "the YARA rules file (read here, sent in the action)",
    ),
    Flag::value(
        "files",
        "<file flags>",
        "the files to scan, as mig file flags: '-path /bin -name ssh'",
    ),
    Flag::multi("pid", "<pid>", "scan this process's memory"),
    Flag::multi(
        "procname",
        "<regex>",
        "scan the memory of processes whose executable matches",
    ),
    Flag::value(
        "scantimeout",
        "<duration>",
        "time allowed for each file or process (default 10s)",
    ),
];

/// The yara module.
pub(crate) struct Yara;

impl Params {
    fn scan_timeout(&self) -> Result<Duration, ModuleError> {
        if self.scantimeout.is_empty() {
            return Ok(DEFAULT_SCAN_TIMEOUT);
        }
        mig_core::gotime::parse_duration(&self.scantimeout)
            .map_err(|e| ModuleError::invalid("scantimeout", e.to_string()))
    }

    /// The file module's plan for `filesearch`.
    fn file_plan(&self) -> Result<Vec<crate::file::PlannedSearch>, ModuleError> {
        type File = crate::file::File;
        let args = flags::split_words(&self.filesearch);
        let p = File::parse_flags(&args)
            .map_err(|e| ModuleError::invalid("filesearch", e.to_string()))?;
        File::validate(&p).map_err(|e| ModuleError::invalid("filesearch", e.to_string()))
    }

    fn procname_regexes(&self) -> Result<Vec<regex::Regex>, ModuleError> {
        self.procnames
            .iter()
            .map(|r| {
                regex::Regex::new(r)
                    .map_err(|e| ModuleError::invalid("procnames", format!("{r:?}: {e}")))
            })
            .collect()
    }
}

impl Module for Yara {
    const NAME: &'static str = "yara";
    const ABOUT: &'static str = "YARA rules on files and process memory";
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        ptrace: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        if p.rules.trim().is_empty() {
            return Err(ModuleError::invalid("yara", "the rules are required"));
        }
        if p.filesearch.trim().is_empty() && p.pids.is_empty() && p.procnames.is_empty() {
            return Err(ModuleError::Request(
                "nothing to scan: give filesearch (files), pids or procnames (processes)".into(),
            ));
        }
        let files = if p.filesearch.trim().is_empty() {
            None
        } else {
            Some(p.file_plan()?)
        };
        let mut pids = Vec::new();
        for pid in &p.pids {
            if !(*pid >= 1.0 && pid.fract() == 0.0 && *pid <= u32::MAX as f64) {
                return Err(ModuleError::invalid(
                    "pids",
                    format!("{pid} is not a process id"),
                ));
            }
            pids.push(*pid as u32);
        }
        let procnames = p.procname_regexes()?;
        let timeout = p.scan_timeout()?;
        // A rule that does not compile is reported before anything is signed or sent.
        let rules = engine::compile(&p.rules).map_err(ModuleError::Document)?;
        Ok(Plan {
            rules,
            timeout,
            files,
            pids,
            procnames,
        })
    }

    fn run(p: &Plan, ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        let mut run = Run {
            ctx,
            timeout: p.timeout,
            matches: Vec::new(),
            errors: Vec::new(),
            scanned_files: 0,
            scanned_processes: 0,
        };
        if let Some(files) = &p.files {
            run.files(&p.rules, files);
        }
        if !p.pids.is_empty() || !p.procnames.is_empty() {
            run.processes(&p.rules, &p.pids, &p.procnames);
        }
        let Run {
            matches,
            errors,
            scanned_files,
            scanned_processes,
            ..
        } = run;
        Ok(Report {
            foundanything: !matches.is_empty(),
            elements: Elements { matches },
            statistics: Statistics {
                filesscanned: scanned_files,
                processesscanned: scanned_processes,
                exectime: gofmt::duration(start.elapsed()),
            },
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        let path = f
            .value("rules")
            .ok_or_else(|| ModuleError::Flag("-rules option is required".into()))?;
        let rules = std::fs::read_to_string(path)
            .map_err(|e| ModuleError::Flag(format!("-rules {path}: {e}")))?;
        let pids = f
            .all("pid")
            .iter()
            .map(|p| {
                p.parse::<u32>().map(f64::from).map_err(|_| {
                    ModuleError::Flag(format!(
                        "invalid value {p:?} for flag -pid: expected a process id"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Params {
            rules,
            filesearch: f.value("files").unwrap_or("").to_string(),
            pids,
            procnames: f.all("procname"),
            scantimeout: f.value("scantimeout").unwrap_or("").to_string(),
        })
    }

    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let mut lines: Vec<String> = report
            .elements
            .matches
            .iter()
            .map(|m| match m.pid {
                Some(pid) => format!("{} [pid:{pid}] [{}]", m.object, m.matched_rules.join(",")),
                None => format!("{} [{}]", m.object, m.matched_rules.join(",")),
            })
            .collect();
        if !found_only {
            lines.extend(report.errors.iter().cloned());
        }
        lines
    }

    fn mask(report: &mut Report<Elements, Statistics>) {
        crate::mask_errors(&mut report.errors);
        for m in &mut report.elements.matches {
            m.object = "[masked]".into();
        }
    }
}

/// One run's state: what matched, what failed, what was scanned.
struct Run<'a> {
    ctx: &'a Context,
    timeout: Duration,
    matches: Vec<YaraMatch>,
    errors: Vec<String>,
    scanned_files: u64,
    scanned_processes: u64,
}

impl Run<'_> {
    /// The time one object may take: the scan timeout, or what is left of the run.
    fn object_timeout(&self) -> Duration {
        self.ctx
            .remaining()
            .map_or(self.timeout, |left| left.min(self.timeout))
    }

    fn full(&mut self) -> bool {
        if self.matches.len() >= self.ctx.limits.max_elements {
            self.errors.push(format!(
                "results truncated at {} matches",
                self.ctx.limits.max_elements
            ));
            return true;
        }
        false
    }

    fn stopped(&mut self) -> bool {
        match self.ctx.check() {
            Ok(()) => false,
            Err(stop) => {
                self.errors.push(format!("yara stopped early: {stop}"));
                true
            }
        }
    }

    /// MIG: the file module finds the files, then each is scanned.
    fn files(&mut self, rules: &engine::Rules, plan: &Vec<crate::file::PlannedSearch>) {
        let found = match <crate::file::File as Module>::run(plan, self.ctx) {
            Ok(found) => found,
            Err(e) => {
                self.errors.push(e.to_string());
                return;
            }
        };
        self.errors.extend(found.errors.iter().cloned());
        for path in crate::file::report::found_paths(&found.elements) {
            if self.stopped() || self.full() {
                return;
            }
            self.scanned_files += 1;
            match engine::scan_file(rules, &path, self.object_timeout()) {
                Ok(hits) if hits.is_empty() => {}
                Ok(hits) => self.matches.push(YaraMatch {
                    object: path.to_string_lossy().into_owned(),
                    matched_rules: hits.into_iter().map(|m| m.rule).collect(),
                    pid: None,
                }),
                Err(e) => self.errors.push(format!("{}: {e}", path.display())),
            }
        }
    }

    /// Process memory: the given pids, and every process whose name matches.
    fn processes(&mut self, rules: &engine::Rules, pids: &[u32], names: &[regex::Regex]) {
        let inspectable = match procmem::inspectable_pids() {
            Ok(pids) => pids,
            Err(e) => {
                self.errors
                    .push(format!("the processes cannot be listed: {e}"));
                return;
            }
        };
        for pid in pids {
            if !inspectable.contains(pid) {
                self.errors.push(format!(
                    "pid {pid}: no such process (or the module's own, or its agent's)"
                ));
            }
        }
        for pid in inspectable {
            if names.is_empty() && !pids.contains(&pid) {
                continue;
            }
            let name = match procmem::process_name(pid) {
                Ok(Some(name)) => name,
                Ok(None) => continue, // exited meanwhile
                // It may be one the names would match: say that it could not be told.
                Err(e) => {
                    self.errors.push(format!("pid {pid}: {e}"));
                    continue;
                }
            };
            if !pids.contains(&pid) && !names.iter().any(|r| r.is_match(&name)) {
                continue;
            }
            if self.stopped() || self.full() {
                return;
            }
            self.scanned_processes += 1;
            match engine::scan_process(rules, pid, self.object_timeout()) {
                Ok(hits) if hits.is_empty() => {}
                Ok(hits) => self.matches.push(YaraMatch {
                    object: name,
                    matched_rules: hits.into_iter().map(|m| m.rule).collect(),
                    pid: Some(pid),
                }),
                Err(e) => self.errors.push(format!("pid {pid} ({name}): {e}")),
            }
        }
    }
}

#[cfg(all(test, feature = "yara"))]
mod tests;
