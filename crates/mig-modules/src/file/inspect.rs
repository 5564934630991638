//! Evaluating one directory entry against the searches that look at it: cheap metadata checks
//! first, then, only if still needed, one read of the file for every content regex and hash.

use super::checks::Matcher;
use super::content::{ContentPattern, ContentState};
use super::hash::{HashAlgo, HashSet, MultiHasher};
use super::plan::PlannedSearch;
use super::walk::{Collector, FileInfo};
use crate::gofmt;
use crate::Context;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

/// Blocks start at this size and grow (for long lines) up to [`MAX_BUFFER`].
const BLOCK: usize = 256 * 1024;
/// Lines longer than this are searched in pieces of this size.
const MAX_BUFFER: usize = 8 * 1024 * 1024;

/// Per-thread evaluation state (the read buffer is reused across files).
pub struct Inspector<'a> {
    pub plan: &'a [PlannedSearch],
    pub collector: &'a Collector,
    pub ctx: &'a Context,
    pub now: SystemTime,
    buf: Vec<u8>,
}

/// A content regex being run over one file.
struct PatternRun<'p> {
    search: usize,
    check: usize,
    pattern: &'p ContentPattern,
    macroal: bool,
    state: ContentState,
}

impl<'a> Inspector<'a> {
    pub fn new(
        plan: &'a [PlannedSearch],
        collector: &'a Collector,
        ctx: &'a Context,
        now: SystemTime,
    ) -> Self {
        Inspector {
            plan,
            collector,
            ctx,
            now,
            buf: Vec::new(),
        }
    }

    /// Evaluates `path` (whose lstat is `lmeta`) for `searches`, recording hits.
    pub fn inspect(&mut self, path: &Path, name: &[u8], lmeta: &Metadata, searches: &[usize]) {
        self.collector.count_file();
        let mode = gofmt::file_mode(lmeta.mode());
        let size = lmeta.len();
        let mtime = lmeta.modified().unwrap_or(SystemTime::UNIX_EPOCH);

        // results[k][i]: outcome of check i of the k-th search, after `mismatch`.
        let mut results: Vec<Vec<Option<bool>>> = Vec::with_capacity(searches.len());
        let mut alive: Vec<bool> = Vec::with_capacity(searches.len());
        let mut needs_content = false;
        for &s in searches {
            let ps = &self.plan[s];
            let mut res = vec![None; ps.checks.len()];
            let mut ok = true;
            for (i, c) in ps.checks.iter().enumerate() {
                if c.kind.reads_content() {
                    continue;
                }
                let r = c
                    .matcher
                    .matches_metadata(name, size, &mode, mtime, self.now)
                    != c.mismatch;
                res[i] = Some(r);
                if ps.matchall && !r {
                    ok = false;
                    break;
                }
            }
            needs_content |= ok && ps.reads_content();
            results.push(res);
            alive.push(ok);
        }

        if needs_content {
            self.evaluate_content(path, lmeta, searches, &alive, &mut results);
        }

        let mut info: Option<FileInfo> = None;
        let mut file_info = || {
            info.get_or_insert_with(|| FileInfo {
                size,
                mode: mode.clone(),
                lastmodified: gofmt::time(mtime),
            })
            .clone()
        };
        for (k, &s) in searches.iter().enumerate() {
            let ps = &self.plan[s];
            if ps.matchall {
                if alive[k] && results[k].iter().all(|r| *r == Some(true)) {
                    self.collector.add_hit(s, None, path, file_info());
                }
            } else {
                for (i, r) in results[k].iter().enumerate() {
                    if *r == Some(true) {
                        self.collector.add_hit(s, Some(i), path, file_info());
                    }
                }
            }
        }
    }

    /// Fills in content and hash checks. Non-regular files fail them (whatever `mismatch`
    /// says: a check that cannot apply does not match).
    fn evaluate_content(
        &mut self,
        path: &Path,
        lmeta: &Metadata,
        searches: &[usize],
        alive: &[bool],
        results: &mut [Vec<Option<bool>>],
    ) {
        let plan = self.plan;
        let regular = if lmeta.file_type().is_symlink() {
            // Symlinked files are evaluated under the link's path.
            match std::fs::metadata(path) {
                Ok(m) => m.is_file(),
                Err(e) => {
                    self.collector.open_failed(format!(
                        "stat {}: {}",
                        path.display(),
                        go_error(&e)
                    ));
                    false
                }
            }
        } else {
            lmeta.is_file()
        };

        let mut runs: Vec<PatternRun> = Vec::new();
        let mut hashes = HashSet::default();
        let mut gz_runs: Vec<PatternRun> = Vec::new();
        if regular {
            for (k, &s) in searches.iter().enumerate() {
                if !alive[k] {
                    continue;
                }
                let ps = &plan[s];
                for (i, c) in ps.checks.iter().enumerate() {
                    match &c.matcher {
                        Matcher::Content(p) => {
                            let run = PatternRun {
                                search: s,
                                check: i,
                                pattern: p,
                                macroal: ps.macroal,
                                state: ContentState::new(),
                            };
                            if ps.decompress {
                                gz_runs.push(run);
                            } else {
                                runs.push(run);
                            }
                        }
                        Matcher::Hash { algo, .. } => hashes.insert(*algo),
                        _ => {}
                    }
                }
            }
        }

        let mut digests: Vec<(HashAlgo, String)> = Vec::new();
        let mut readable = regular;
        if regular {
            // Content of non-gzip files is the same whether or not `decompress` is set.
            if !gz_runs.is_empty() && !is_gzip(path) {
                runs.append(&mut gz_runs);
            }
            if !runs.is_empty() || !hashes.is_empty() {
                match File::open(path) {
                    Ok(f) => {
                        let mut hasher = (!hashes.is_empty()).then(|| MultiHasher::new(hashes));
                        match scan(f, &mut self.buf, &mut runs, hasher.as_mut(), self.ctx) {
                            Ok(()) => digests = hasher.map(MultiHasher::finish).unwrap_or_default(),
                            Err(e) => {
                                readable = false;
                                self.collector.open_failed(format!(
                                    "read {}: {}",
                                    path.display(),
                                    go_error(&e)
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        readable = false;
                        self.collector.open_failed(format!(
                            "open {}: {}",
                            path.display(),
                            go_error(&e)
                        ));
                    }
                }
            }
            if readable && !gz_runs.is_empty() {
                let opened = File::open(path)
                    .map(|f| flate2::read::MultiGzDecoder::new(io::BufReader::new(f)));
                let outcome =
                    opened.and_then(|r| scan(r, &mut self.buf, &mut gz_runs, None, self.ctx));
                if let Err(e) = outcome {
                    // A corrupt archive fails its content checks and is reported; nothing else.
                    self.collector.error(format!(
                        "decompress {}: {}",
                        path.display(),
                        go_error(&e)
                    ));
                    gz_runs.clear();
                }
                runs.append(&mut gz_runs);
            }
        }

        for (k, &s) in searches.iter().enumerate() {
            if !alive[k] {
                continue;
            }
            for (i, c) in plan[s].checks.iter().enumerate() {
                if !c.kind.reads_content() {
                    continue;
                }
                let outcome = match &c.matcher {
                    Matcher::Content(p) => runs
                        .iter()
                        .find(|r| r.search == s && r.check == i)
                        .map(|r| p.result(&r.state, r.macroal) != c.mismatch),
                    Matcher::Hash { algo, hex } => digests
                        .iter()
                        .find(|(a, _)| a == algo)
                        .map(|(_, d)| (d == hex) != c.mismatch),
                    _ => None,
                };
                results[k][i] = Some(readable && outcome.unwrap_or(false));
            }
        }
    }
}

/// Reads `reader` once: every block goes to the hasher and to every undecided content check.
fn scan(
    mut reader: impl Read,
    buf: &mut Vec<u8>,
    runs: &mut [PatternRun],
    mut hasher: Option<&mut MultiHasher>,
    ctx: &Context,
) -> io::Result<()> {
    if buf.len() < BLOCK {
        buf.resize(BLOCK, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() && buf.len() < MAX_BUFFER {
            // One line fills the buffer: grow it to find the line's end.
            buf.resize((buf.len() * 2).min(MAX_BUFFER), 0);
        }
        let n = if len == buf.len() {
            0 // Still full at the cap: search what we have.
        } else {
            match reader.read(&mut buf[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf[len..len + n]);
        }
        let eof = n == 0 && len < buf.len();
        len += n;
        // Search whole lines only; keep a trailing partial line for the next round.
        let end = if eof || len == buf.len() && buf.len() >= MAX_BUFFER {
            len
        } else {
            match memchr::memrchr(b'\n', &buf[len - n..len]) {
                Some(i) => len - n + i + 1,
                // The line goes on: read more before searching it.
                None => continue,
            }
        };
        for run in runs.iter_mut() {
            run.pattern.scan(&buf[..end], &mut run.state, run.macroal);
        }
        buf.copy_within(end..len, 0);
        len -= end;
        if eof && len == 0 {
            return Ok(());
        }
        if hasher.is_none() && runs.iter().all(|r| r.state.decided) {
            return Ok(());
        }
        if ctx.check().is_err() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the module ran out of time",
            ));
        }
    }
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| magic == [0x1f, 0x8b])
}

/// An OS error as Go prints it: `permission denied`, `no such file or directory`.
pub fn go_error(e: &io::Error) -> String {
    let text = e.to_string();
    // Rust appends " (os error N)" to strerror's text; Go prints the lower-cased text alone.
    let text = match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => &text[..i],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
