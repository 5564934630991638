//! Evaluating one directory entry against the searches that look at it: cheap metadata checks
//! first, then, only if still needed, one read of the file for every content regex and hash.

use super::checks::Matcher;
use super::content::{ContentPattern, ContentState};
use super::hash::{FileKey, HashAlgo, HashSet, MultiHasher};
use super::plan::PlannedSearch;
use super::walk::{Collector, FileInfo};
use crate::gofmt;
use crate::Context;
use std::cell::OnceCell;
use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

/// Blocks start at this size and grow (for long lines) up to [`MAX_BUFFER`].
const BLOCK: usize = 256 * 1024;
/// Lines longer than this are searched in pieces of this size.
const MAX_BUFFER: usize = 8 * 1024 * 1024;

/// Per-thread evaluation state; buffers are reused across files so that the common case
/// (a file that matches nothing) allocates nothing.
pub(crate) struct Inspector<'a> {
    pub plan: &'a [PlannedSearch],
    pub collector: &'a Collector,
    pub ctx: &'a Context,
    pub now: SystemTime,
    buf: Vec<u8>,
    /// Flattened per-(search, check) outcomes of the current entry, after `mismatch`.
    results: Vec<Option<bool>>,
    /// Where each search's outcomes start in `results`.
    offsets: Vec<usize>,
    alive: Vec<bool>,
    runs: Vec<PatternRun<'a>>,
    gz_runs: Vec<PatternRun<'a>>,
}

/// A content regex being run over one file.
struct PatternRun<'p> {
    /// Index into `Inspector::results`.
    slot: usize,
    pattern: &'p ContentPattern,
    macroal: bool,
    state: ContentState,
}

/// A file to evaluate; its metadata is read only if a check or a hit needs it. For a symbolic
/// link to a file, the metadata is the target's, as MIG's `os.Stat` gives it.
pub(crate) struct Entry<'e> {
    pub path: &'e Path,
    pub name: &'e [u8],
    pub file_type: FileType,
    meta: OnceCell<Option<Metadata>>,
}

impl<'e> Entry<'e> {
    pub(crate) fn new(path: &'e Path, name: &'e [u8], file_type: FileType) -> Entry<'e> {
        Entry {
            path,
            name,
            file_type,
            meta: OnceCell::new(),
        }
    }

    /// An entry whose metadata was already read (a followed link's target).
    pub(crate) fn with_metadata(mut self, meta: Metadata) -> Entry<'e> {
        self.meta = OnceCell::from(Some(meta));
        self
    }

    /// stat (following a link), once. `None` if the entry vanished or cannot be read
    /// (reported as a file that failed to open).
    fn stat(&self, collector: &Collector) -> Option<&Metadata> {
        self.meta
            .get_or_init(|| match std::fs::metadata(self.path) {
                Ok(m) => Some(m),
                Err(e) => {
                    collector.open_failed(format!(
                        "stat {}: {}",
                        self.path.display(),
                        crate::gofmt::os_error(&e)
                    ));
                    None
                }
            })
            .as_ref()
    }
}

impl<'a> Inspector<'a> {
    pub(crate) fn new(
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
            results: Vec::new(),
            offsets: Vec::new(),
            alive: Vec::new(),
            runs: Vec::new(),
            gz_runs: Vec::new(),
        }
    }

    /// Evaluates one entry for `searches`, recording hits.
    pub(crate) fn inspect(&mut self, entry: &Entry, searches: &[usize]) {
        self.collector.count_file();
        let plan = self.plan;
        self.results.clear();
        self.offsets.clear();
        self.alive.clear();
        let mut mode: Option<String> = None;
        let mut needs_content = false;
        for &s in searches {
            let ps = &plan[s];
            self.offsets.push(self.results.len());
            let base = self.results.len();
            self.results.resize(base + ps.checks.len(), None);
            let mut ok = true;
            for (i, c) in ps.checks.iter().enumerate() {
                if c.kind.reads_content() {
                    continue;
                }
                let r = match (&c.matcher, c.kind) {
                    (Matcher::Name { .. }, _) => c
                        .matcher
                        .matches_metadata(entry.name, 0, "", self.now, self.now),
                    _ => match entry.stat(self.collector) {
                        Some(meta) => {
                            let mode = mode.get_or_insert_with(|| gofmt::file_mode(meta.mode()));
                            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                            c.matcher.matches_metadata(
                                entry.name,
                                meta.len(),
                                mode,
                                mtime,
                                self.now,
                            )
                        }
                        None => false,
                    },
                } != c.mismatch;
                self.results[base + i] = Some(r);
                if ps.matchall && !r {
                    ok = false;
                    break;
                }
            }
            needs_content |= ok && ps.reads_content();
            self.alive.push(ok);
        }

        if needs_content {
            self.evaluate_content(entry, searches);
        }

        for (k, &s) in searches.iter().enumerate() {
            let ps = &plan[s];
            let base = self.offsets[k];
            let outcomes = &self.results[base..base + ps.checks.len()];
            let hits: &mut dyn Iterator<Item = Option<usize>> = if ps.matchall {
                &mut (self.alive[k] && outcomes.iter().all(|r| *r == Some(true)))
                    .then_some(None)
                    .into_iter()
            } else {
                &mut outcomes
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| **r == Some(true))
                    .map(|(i, _)| Some(i))
            };
            for check in hits {
                let Some(meta) = entry.stat(self.collector) else {
                    break;
                };
                let info = FileInfo {
                    size: meta.len(),
                    mode: gofmt::file_mode(meta.mode()),
                    lastmodified: gofmt::time(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)),
                };
                self.collector.add_hit(s, check, entry.path, info);
            }
        }
    }

    /// Fills in content and hash checks. Non-regular files fail them (whatever `mismatch`
    /// says: a check that cannot apply does not match).
    fn evaluate_content(&mut self, entry: &Entry, searches: &[usize]) {
        let plan = self.plan;
        let path = entry.path;
        let regular = if entry.file_type.is_symlink() {
            // Symlinked files are evaluated under the link's path.
            match std::fs::metadata(path) {
                Ok(m) => m.is_file(),
                Err(e) => {
                    self.collector.open_failed(format!(
                        "stat {}: {}",
                        path.display(),
                        crate::gofmt::os_error(&e)
                    ));
                    false
                }
            }
        } else {
            entry.file_type.is_file()
        };

        self.runs.clear();
        self.gz_runs.clear();
        let mut hashes = HashSet::default();
        if regular {
            for (k, &s) in searches.iter().enumerate() {
                if !self.alive[k] {
                    continue;
                }
                let ps = &plan[s];
                for (i, c) in ps.checks.iter().enumerate() {
                    match &c.matcher {
                        Matcher::Content(p) => {
                            let run = PatternRun {
                                slot: self.offsets[k] + i,
                                pattern: p,
                                macroal: ps.macroal,
                                state: ContentState::new(),
                            };
                            if ps.decompress {
                                self.gz_runs.push(run);
                            } else {
                                self.runs.push(run);
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
            if !self.gz_runs.is_empty() && !is_gzip(path) {
                self.runs.append(&mut self.gz_runs);
            }
            if !self.runs.is_empty() || !hashes.is_empty() {
                match File::open(path) {
                    Ok(f) => {
                        // Read for its hashes alone, a file already hashed under another
                        // path (a link to it) is not read again.
                        let key = match self.runs.is_empty() {
                            true => f.metadata().ok().map(|m| FileKey::of(&m)),
                            false => None,
                        };
                        let cached = key.and_then(|k| self.collector.digests.get(&k, hashes));
                        let mut hasher = (!hashes.is_empty() && cached.is_none())
                            .then(|| MultiHasher::new(hashes));
                        let outcome = match cached {
                            Some(known) => {
                                digests = known;
                                Ok(())
                            }
                            None => {
                                scan(f, &mut self.buf, &mut self.runs, hasher.as_mut(), self.ctx)
                            }
                        };
                        match outcome {
                            Ok(()) => {
                                if let Some(h) = hasher {
                                    digests = h.finish();
                                    if let Some(k) = key {
                                        self.collector.digests.put(k, &digests);
                                    }
                                }
                            }
                            Err(e) => {
                                readable = false;
                                self.collector.open_failed(format!(
                                    "read {}: {}",
                                    path.display(),
                                    crate::gofmt::os_error(&e)
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        readable = false;
                        self.collector.open_failed(format!(
                            "open {}: {}",
                            path.display(),
                            crate::gofmt::os_error(&e)
                        ));
                    }
                }
            }
            if readable && !self.gz_runs.is_empty() {
                let opened = File::open(path)
                    .map(|f| flate2::read::MultiGzDecoder::new(io::BufReader::new(f)));
                let outcome =
                    opened.and_then(|r| scan(r, &mut self.buf, &mut self.gz_runs, None, self.ctx));
                if let Err(e) = outcome {
                    // A corrupt archive fails its content checks and is reported; nothing else.
                    self.collector.error(format!(
                        "decompress {}: {}",
                        path.display(),
                        crate::gofmt::os_error(&e)
                    ));
                    self.gz_runs.clear();
                }
                self.runs.append(&mut self.gz_runs);
            }
        }

        for (k, &s) in searches.iter().enumerate() {
            if !self.alive[k] {
                continue;
            }
            let base = self.offsets[k];
            for (i, c) in plan[s].checks.iter().enumerate() {
                if !c.kind.reads_content() {
                    continue;
                }
                let outcome = match &c.matcher {
                    Matcher::Content(p) => self
                        .runs
                        .iter()
                        .find(|r| r.slot == base + i)
                        .map(|r| p.result(&r.state, r.macroal) != c.mismatch),
                    Matcher::Hash { algo, hex } => digests
                        .iter()
                        .find(|(a, _)| a == algo)
                        .map(|(_, d)| (d == hex) != c.mismatch),
                    _ => None,
                };
                self.results[base + i] = Some(readable && outcome.unwrap_or(false));
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
    if runs.is_empty() {
        // Hashes only: no lines to find, so no buffer growing on long binary "lines" and no
        // copying of partial lines; just blocks through the hashers.
        return hash_only(reader, &mut buf[..BLOCK], hasher, ctx);
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

/// Reads to the end, feeding every block to the hashers.
fn hash_only(
    mut reader: impl Read,
    buf: &mut [u8],
    mut hasher: Option<&mut MultiHasher>,
    ctx: &Context,
) -> io::Result<()> {
    // Checked between blocks; not every block, since a check reads the clock.
    const BLOCKS_PER_CHECK: usize = 16;
    let mut blocks = 0usize;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf[..n]);
        }
        blocks += 1;
        if blocks.is_multiple_of(BLOCKS_PER_CHECK) && ctx.check().is_err() {
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
