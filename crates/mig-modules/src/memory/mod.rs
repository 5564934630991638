//! memory: "which processes hold this string, these bytes, this library?" MIG's memory module:
//! labelled searches on process names, mapped libraries, and the contents of process memory
//! (regexes and hex byte strings), read region by region from /proc/PID/mem.

mod params;
mod scan;

pub use params::{decode_hex, Options, Params, Search};

use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleResult, SandboxNeeds};
use scan::{CheckKind, CompiledSearch, Proc, Scanner};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

/// One entry of a search's results: a process (or, for "nothing found", an empty name and
/// pid 0) and the search, or in matchany mode the one check, it matched.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Match {
    pub process: ProcessRef,
    pub search: Search,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ProcessRef {
    pub name: String,
    #[serde(serialize_with = "mig_core::gojson::float64::serialize")]
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

pub struct Memory;

impl Module for Memory {
    const NAME: &'static str = "memory";
    const ABOUT: &'static str = "process memory: names, loaded libraries, contents and bytes";
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        ptrace: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<(), String> {
        params::validate(p)
    }

    fn run(p: &Params, ctx: &Context) -> ModuleResult {
        let start = Instant::now();
        let searches = match scan::compile(p) {
            Ok(s) => s,
            Err(e) => return ModuleResult::failure(e),
        };
        let mut scanner = Scanner::new(searches, ctx);
        let mut errors = Vec::new();
        for pid in crate::os::procmem::inspectable_pids() {
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
        let mut statistics = json!({
            "processcount": c.processes,
            "memoryread": c.memory_read,
            "totalhits": hits,
            "exectime": gofmt::duration(start.elapsed()),
        });
        if !failures.is_empty() {
            statistics["failures"] = json!(failures);
        }
        ModuleResult {
            foundanything: hits > 0,
            success: true,
            elements: json!(elements),
            statistics,
            errors,
        }
    }

    fn parse_flags(args: &[String]) -> Result<Params, String> {
        let f = flags::parse(FLAGS, args)?;
        if let Some(extra) = f.positional.first() {
            return Err(format!("unexpected argument {extra:?}"));
        }
        let number =
            |name: &str| -> Result<f64, String> { Ok(f.int(name)?.map_or(0.0, |n| n as f64)) };
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

    fn pretty(result: &ModuleResult, found_only: bool) -> Vec<String> {
        let elements: BTreeMap<String, Vec<Match>> =
            serde_json::from_value(result.elements.clone()).unwrap_or_default();
        let mut lines = Vec::new();
        for (label, matches) in &elements {
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
            let stats = &result.statistics;
            let failures: Vec<String> =
                serde_json::from_value(stats["failures"].clone()).unwrap_or_default();
            lines.extend(failures.iter().map(|f| format!("Failure: {f}")));
            lines.extend(result.errors.iter().cloned());
            lines.push(format!(
                "Statistics: {} processes checked, {} matched, {} failures, ran in {}.",
                stats["processcount"],
                stats["totalhits"],
                failures.len(),
                stats["exectime"].as_str().unwrap_or("")
            ));
        }
        lines
    }

    fn mask(result: &mut ModuleResult) {
        crate::mask_errors(result);
        if let Some(failures) = result.statistics.get_mut("failures") {
            *failures = json!(["[masked]"]);
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
