//! memory: "which processes hold this string, these bytes, this library?" MIG's memory module:
//! labelled searches on process names, mapped libraries, and the contents of process memory
//! (regexes and hex byte strings), read region by region from /proc/PID/mem.

mod params;
mod scan;

#[cfg(test)]
pub(crate) use params::decode_hex;
pub(crate) use params::{Options, Params, Search};

use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleError, Report, SandboxNeeds};
use scan::{CheckKind, CompiledSearch, Proc, Scanner};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// One entry of a search's results: a process (or, for "nothing found", an empty name and
/// pid 0) and the search, or in matchany mode the one check, it matched.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Match {
    /// The process that matched (empty name, pid 0: nothing matched).
    pub process: ProcessRef,
    /// The search, or in matchany mode the one check, it matched.
    pub search: Search,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
/// A process, as memory's results name it.
pub(crate) struct ProcessRef {
    /// Its executable's path.
    pub name: String,
    #[serde(serialize_with = "mig_core::gojson::float64::serialize")]
    /// Its process ID.
    pub pid: f64,
}

const FLAGS: &[Flag] = &[
    Flag::multi("name", "<regex>", "regex on the process's executable path"),
    Flag::multi(
        "lib",
        "<regex>",
        "regex on the libraries the process has loaded",
    ),
    Flag::multi(
        "bytes",
        "<hex>",
        "hex byte string to find in memory, e.g. 6d69672e6f7267",
    ),
    Flag::multi("content", "<regex>", "regex to find in memory"),
    Flag::value("offset", "<n>", "address to start reading each process at"),
    Flag::value(
        "maxlength",
        "<n>",
        "stop after reading this many bytes of a process",
    ),
    Flag::bool("matchall", "every check must match a process (the default)"),
    Flag::bool("matchany", "any check may match"),
    Flag::bool(
        "logfailures",
        "report the memory regions that could not be read",
    ),
];

/// What memory reports, its `elements`: for each search label, its matches.
pub(crate) type Elements = BTreeMap<String, Vec<Match>>;

/// memory's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How many processes were inspected.
    pub processcount: u64,
    /// How many bytes of memory were read.
    pub memoryread: u64,
    /// How many processes matched.
    pub totalhits: u64,
    /// How long the run took.
    pub exectime: String,
    /// Memory regions that could not be read (with `logfailures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<String>>,
}

/// The memory module.
pub(crate) struct Memory;

impl Module for Memory {
    const NAME: &'static str = "memory";
    const ABOUT: &'static str = "process memory: names, loaded libraries, contents and bytes";
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        ptrace: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Vec<CompiledSearch>;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Vec<CompiledSearch>, ModuleError> {
        params::validate(p)?;
        scan::compile(p).map_err(|e| ModuleError::invalid("searches", e))
    }

    fn run(
        searches: &Vec<CompiledSearch>,
        ctx: &Context,
    ) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        // The scanner records each check's matches in its copy of the plan.
        let mut scanner = Scanner::new(searches.clone(), ctx);
        let mut errors = Vec::new();
        let pids = crate::os::procmem::inspectable_pids().unwrap_or_else(|e| {
            // Nothing can be searched: the result says why rather than "nothing found".
            errors.push(format!("the processes cannot be listed: {e}"));
            Vec::new()
        });
        for pid in pids {
            if let Err(stop) = scanner.process(pid) {
                errors.push(format!("memory stopped early: {stop}"));
                break;
            }
        }
        let (elements, hits) =
            build_elements(&scanner.searches, ctx.limits.max_elements, &mut errors);
        let c = &scanner.counters;
        let mut failures = c.failures.clone();
        if c.failures_dropped > 0 {
            failures.push(format!("{} failures were not returned", c.failures_dropped));
        }
        let statistics = Statistics {
            processcount: c.processes,
            memoryread: c.memory_read,
            totalhits: hits,
            exectime: gofmt::duration(start.elapsed()),
            failures: (!failures.is_empty()).then_some(failures),
        };
        Ok(Report {
            foundanything: hits > 0,
            elements,
            statistics,
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        let number =
            |name: &str| -> Result<f64, ModuleError> { Ok(f.int(name)?.map_or(0.0, |n| n as f64)) };
        let search = Search {
            names: f.all("name"),
            libraries: f.all("lib"),
            bytes: f.all("bytes"),
            contents: f.all("content"),
            options: Options {
                offset: number("offset")?,
                maxlength: number("maxlength")?,
                logfailures: f.bool("logfailures").unwrap_or(false),
                matchall: f.bool("matchall").unwrap_or(true)
                    && !f.bool("matchany").unwrap_or(false),
            },
            ..Default::default()
        };
        Ok(Params {
            searches: BTreeMap::from([("s1".to_string(), search)]),
        })
    }

    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for (label, matches) in &report.elements {
            for m in matches {
                let mut line = if m.process.name.is_empty() {
                    if found_only {
                        continue;
                    }
                    format!("0 match found in search '{label}'")
                } else {
                    format!(
                        "{} [pid:{}] in search '{label}'",
                        m.process.name, m.process.pid
                    )
                };
                if !m.search.options.matchall {
                    line.push_str(" on checks");
                    let s = &m.search;
                    for (what, values) in [
                        ("name", &s.names),
                        ("library", &s.libraries),
                        ("content", &s.contents),
                        ("byte", &s.bytes),
                    ] {
                        for v in values {
                            line.push_str(&format!(" {what}='{v}'"));
                        }
                    }
                }
                lines.push(line);
            }
        }
        if !found_only {
            let stats = &report.statistics;
            let failures = stats.failures.as_deref().unwrap_or_default();
            lines.extend(failures.iter().map(|f| format!("Failure: {f}")));
            lines.extend(report.errors.iter().cloned());
            lines.push(format!(
                "Statistics: {} processes checked, {} matched, {} failures, ran in {}.",
                stats.processcount,
                stats.totalhits,
                failures.len(),
                stats.exectime
            ));
        }
        lines
    }

    fn mask(report: &mut Report<Elements, Statistics>) {
        crate::mask_errors(&mut report.errors);
        if let Some(failures) = &mut report.statistics.failures {
            *failures = vec!["[masked]".into()];
        }
    }
}

/// MIG's elements: for each label, with matchall the processes that matched every check,
/// with matchany an entry per check and process; a search (or check) that matched nothing
/// gets one entry with an empty process. Returns the elements and the number of hits.
fn build_elements(
    searches: &[CompiledSearch],
    max_elements: usize,
    errors: &mut Vec<String>,
) -> (BTreeMap<String, Vec<Match>>, u64) {
    let mut out = BTreeMap::new();
    let mut hits = 0u64;
    let mut budget = max_elements;
    let mut truncated = false;
    let nothing = ProcessRef::default();
    for s in searches {
        // The search as results show it: MIG blanks offset and maxlength.
        let mut shown = s.search.clone();
        shown.options.offset = 0.0;
        shown.options.maxlength = 0.0;
        let mut entries = Vec::new();
        let mut push = |process: Option<&Proc>, search: Search, entries: &mut Vec<Match>| {
            if budget == 0 {
                truncated = true;
                return;
            }
            budget -= 1;
            let process = match process {
                Some(p) => {
                    hits += 1;
                    ProcessRef {
                        name: p.name.clone(),
                        pid: p.pid as f64,
                    }
                }
                None => nothing.clone(),
            };
            entries.push(Match { process, search });
        };
        if s.search.options.matchall {
            let all: Vec<&Proc> = s
                .checks
                .first()
                .map(|c| c.matched.iter())
                .into_iter()
                .flatten()
                .filter(|p| {
                    s.checks
                        .iter()
                        .all(|c| c.matched.iter().any(|m| m.pid == p.pid))
                })
                .collect();
            if all.is_empty() {
                push(None, shown.clone(), &mut entries);
            }
            for p in all {
                push(Some(p), shown.clone(), &mut entries);
            }
        } else {
            for c in &s.checks {
                let mut one = Search {
                    options: shown.options.clone(),
                    ..Default::default()
                };
                let values = match c.kind {
                    CheckKind::Name => &mut one.names,
                    CheckKind::Library => &mut one.libraries,
                    CheckKind::Content => &mut one.contents,
                    CheckKind::Bytes => &mut one.bytes,
                };
                values.push(c.value.clone());
                if c.matched.is_empty() {
                    push(None, one.clone(), &mut entries);
                }
                for p in &c.matched {
                    push(Some(p), one.clone(), &mut entries);
                }
            }
        }
        out.insert(s.label.clone(), entries);
    }
    if truncated {
        errors.push(format!("results truncated at {max_elements} matches"));
    }
    (out, hits)
}

#[cfg(test)]
mod tests;
