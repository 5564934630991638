//! Evaluating the searches on each process: names and libraries first (cheap), then one walk
//! of the process's memory for every search that still needs it, stopping as soon as every
//! memory check has been found.

use super::params::{decode_hex, Params, Search};
use crate::os::procmem::{self, WalkOptions};
use crate::{Context, Stop};
use memchr::memmem;
use std::ops::ControlFlow;

/// A process that matched a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proc {
    pub pid: u32,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckKind {
    Name,
    Library,
    Content,
    Bytes,
}

#[derive(Clone)]
enum Matcher {
    Name(regex::Regex),
    Library(regex::Regex),
    Content(regex::bytes::Regex),
    Bytes(Box<memmem::Finder<'static>>),
}

impl Matcher {
    fn in_memory(&self) -> bool {
        matches!(self, Matcher::Content(_) | Matcher::Bytes(_))
    }

    fn finds(&self, data: &[u8]) -> bool {
        match self {
            Matcher::Content(re) => re.is_match(data),
            Matcher::Bytes(f) => f.find(data).is_some(),
            Matcher::Name(_) | Matcher::Library(_) => false,
        }
    }
}

/// One check of a search and the processes it matched.
#[derive(Clone)]
pub(crate) struct Check {
    pub kind: CheckKind,
    pub value: String,
    matcher: Matcher,
    pub matched: Vec<Proc>,
}

/// A search with its checks compiled: the memory module's plan.
#[derive(Clone)]
pub(crate) struct CompiledSearch {
    pub label: String,
    pub search: Search,
    pub checks: Vec<Check>,
}

impl CompiledSearch {
    fn memory_checks(&self) -> bool {
        self.checks.iter().any(|c| c.matcher.in_memory())
    }
}

/// Checks in MIG's order: names, libraries, contents, bytes.
pub(crate) fn compile(params: &Params) -> Result<Vec<CompiledSearch>, String> {
    let mut out = Vec::new();
    for (label, s) in &params.searches {
        let mut checks = Vec::new();
        let mut add = |kind, value: &String, matcher| {
            checks.push(Check {
                kind,
                value: value.clone(),
                matcher,
                matched: Vec::new(),
            })
        };
        for v in &s.names {
            add(CheckKind::Name, v, Matcher::Name(regex(v)?));
        }
        for v in &s.libraries {
            add(CheckKind::Library, v, Matcher::Library(regex(v)?));
        }
        for v in &s.contents {
            let re = regex::bytes::Regex::new(v).map_err(|e| format!("contents {v:?}: {e}"))?;
            add(CheckKind::Content, v, Matcher::Content(re));
        }
        for v in &s.bytes {
            let needle = decode_hex(v)?;
            add(
                CheckKind::Bytes,
                v,
                Matcher::Bytes(Box::new(memmem::Finder::new(&needle).into_owned())),
            );
        }
        out.push(CompiledSearch {
            label: label.clone(),
            search: s.clone(),
            checks,
        });
    }
    Ok(out)
}

fn regex(v: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(v).map_err(|e| format!("{v:?}: {e}"))
}

/// What the run counted, for MIG's statistics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub processes: u64,
    pub memory_read: u64,
    pub failures: Vec<String>,
    /// Failures left out once `max_failures` were kept.
    pub failures_dropped: u64,
}

pub(crate) struct Scanner<'a> {
    pub searches: Vec<CompiledSearch>,
    pub counters: Counters,
    ctx: &'a Context,
    log_failures: bool,
    overlap: usize,
}

/// Bytes of one window kept in front of the next, so that content matches up to this long
/// are found across chunk and region seams (longer byte strings raise it).
const MIN_OVERLAP: usize = 4096;

impl<'a> Scanner<'a> {
    pub(crate) fn new(searches: Vec<CompiledSearch>, ctx: &'a Context) -> Scanner<'a> {
        let log_failures = searches.iter().any(|s| s.search.options.logfailures);
        let longest = searches
            .iter()
            .flat_map(|s| &s.checks)
            .filter_map(|c| match &c.matcher {
                Matcher::Bytes(f) => Some(f.needle().len()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Scanner {
            searches,
            counters: Counters::default(),
            ctx,
            log_failures,
            overlap: MIN_OVERLAP.max(longest),
        }
    }

    fn failure(&mut self, text: String) {
        if self.counters.failures.len() < self.ctx.limits.max_errors {
            self.counters.failures.push(text);
        } else {
            self.counters.failures_dropped += 1;
        }
    }

    /// Evaluates every search on one process. `Err` when the run must stop.
    pub(crate) fn process(&mut self, pid: u32) -> Result<(), Stop> {
        self.ctx.check()?;
        let name = match procmem::process_name(pid) {
            Ok(Some(name)) => name,
            Ok(None) => return Ok(()), // gone
            Err(e) => {
                self.failure(format!("pid {pid}: {e}"));
                return Ok(());
            }
        };
        self.counters.processes += 1;
        let maps = crate::os::optional(format!("/proc/{pid}/maps"), |p| std::fs::read_to_string(p));
        let maps = match maps {
            Ok(Some(maps)) => maps,
            Ok(None) => return Ok(()), // exited meanwhile
            // Its libraries and regions are unknown: the process is not searched, and says so.
            Err(e) => {
                self.failure(format!("pid {pid} ({name}): {e}"));
                return Ok(());
            }
        };
        let libraries: Vec<&str> = maps
            .lines()
            .filter_map(|l| l.splitn(6, char::is_whitespace).nth(5))
            .map(str::trim_start)
            .filter(|p| p.starts_with('/'))
            .collect();

        // hits[search][check]
        let mut hits: Vec<Vec<bool>> = self
            .searches
            .iter()
            .map(|s| vec![false; s.checks.len()])
            .collect();
        let mut wants_memory = vec![false; self.searches.len()];
        for (i, s) in self.searches.iter().enumerate() {
            let mut all = true;
            for (j, c) in s.checks.iter().enumerate() {
                let hit = match &c.matcher {
                    Matcher::Name(re) => re.is_match(&name),
                    Matcher::Library(re) => libraries.iter().any(|l| re.is_match(l)),
                    _ => continue,
                };
                hits[i][j] = hit;
                all &= hit;
            }
            // With matchall, a process that fails a name or library check is not read.
            wants_memory[i] = s.memory_checks() && (all || !s.search.options.matchall);
        }
        if wants_memory.iter().any(|w| *w) {
            self.walk_memory(pid, &name, &maps, &mut hits, &mut wants_memory)?;
        }
        let proc = Proc { pid, name };
        for (s, hit) in self.searches.iter_mut().zip(hits) {
            for (c, hit) in s.checks.iter_mut().zip(hit) {
                if hit {
                    c.matched.push(proc.clone());
                }
            }
        }
        Ok(())
    }

    /// One walk of the process's memory for the searches in `wanted`, which are dropped as
    /// they finish (every memory check found, or their maxlength read).
    fn walk_memory(
        &mut self,
        pid: u32,
        name: &str,
        maps: &str,
        hits: &mut [Vec<bool>],
        wanted: &mut [bool],
    ) -> Result<(), Stop> {
        let options = |i: usize| &self.searches[i].search.options;
        let active: Vec<usize> = (0..wanted.len()).filter(|i| wanted[*i]).collect();
        let start = active
            .iter()
            .map(|i| options(*i).offset as u64)
            .min()
            .unwrap_or(0);
        let max_bytes = active
            .iter()
            .map(|i| match options(*i).maxlength as u64 {
                0 => u64::MAX,
                n => n,
            })
            .max()
            .unwrap_or(u64::MAX);
        let opts = WalkOptions {
            overlap: self.overlap,
            start,
            max_bytes,
            ..Default::default()
        };
        let regions = procmem::parse_regions(maps);
        let searches = &self.searches;
        let ctx = self.ctx;
        let mut stopped = None;
        // Memory covered so far, for each search's maxlength.
        let mut covered = 0u64;
        let mut last_end = 0u64;
        let walked = procmem::walk(pid, &regions, opts, |addr, data| {
            if let Err(stop) = ctx.check() {
                stopped = Some(stop);
                return ControlFlow::Break(());
            }
            let end = addr + data.len() as u64;
            let before = covered;
            covered += end - addr.max(last_end);
            last_end = end;
            let mut pending = false;
            for &i in &active {
                if !wanted[i] {
                    continue;
                }
                let s = &searches[i];
                let maxlength = s.search.options.maxlength as u64;
                if maxlength > 0 && before >= maxlength {
                    wanted[i] = false;
                    continue;
                }
                if end <= s.search.options.offset as u64 {
                    pending = true;
                    continue;
                }
                let mut all = true;
                for (j, c) in s.checks.iter().enumerate() {
                    if c.matcher.in_memory() && !hits[i][j] {
                        hits[i][j] = c.matcher.finds(data);
                        all &= hits[i][j];
                    }
                }
                if all {
                    wanted[i] = false;
                } else {
                    pending = true;
                }
            }
            if pending {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        });
        match walked {
            Ok(stats) => {
                self.counters.memory_read += stats.bytes_read;
                if self.log_failures {
                    for f in stats.failures {
                        self.failure(format!("pid {pid} ({name}): {f}"));
                    }
                }
            }
            Err(e) => self.failure(format!(
                "pid {pid} ({name}): cannot read its memory: {}",
                crate::gofmt::os_error(&e)
            )),
        }
        stopped.map_or(Ok(()), Err)
    }
}
