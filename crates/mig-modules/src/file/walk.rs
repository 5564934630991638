//! Walking the roots: each directory tree once, in parallel, never following symlinked
//! directories, never entering pseudo filesystems (/proc, /sys…) or remote ones unless asked.

use super::hash::DigestCache;
use super::inspect::{Entry, Inspector};
use super::plan::{clean, has_glob, PlannedSearch};
use crate::gofmt::os_error as go_error;
use crate::{Context, Stop};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// What MIG reports about a matched file (from lstat).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileInfo {
    pub size: u64,
    pub mode: String,
    pub lastmodified: String,
}

/// One match: a file for a search (matchall) or for one check of a search (matchany).
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub search: usize,
    pub check: Option<usize>,
    pub path: PathBuf,
    pub info: FileInfo,
}

/// Walking errors kept in memory at most; the rest are only counted.
const MAX_KEPT_ERRORS: usize = 10_000;

/// Everything the walker threads report, shared between them.
pub(crate) struct Collector {
    hits: Mutex<Vec<Hit>>,
    errors: Mutex<Vec<String>>,
    errors_dropped: AtomicUsize,
    filescount: AtomicU64,
    openfailed: AtomicU64,
    /// Per search: hits recorded, and whether matchlimit cut it short.
    per_search: Vec<(AtomicUsize, AtomicBool)>,
    limits: Vec<Option<usize>>,
    total: AtomicUsize,
    max_total: usize,
    truncated: AtomicBool,
    /// Digests of the files hashed so far, so that a file reached under several paths is
    /// read once.
    pub(crate) digests: DigestCache,
}

/// The walk's outcome.
pub(crate) struct Outcome {
    pub hits: Vec<Hit>,
    pub errors: Vec<String>,
    pub errors_dropped: usize,
    pub filescount: u64,
    pub openfailed: u64,
    pub limit_reached: Vec<bool>,
    pub truncated: bool,
    pub stopped: Option<Stop>,
}

impl Collector {
    fn new(plan: &[PlannedSearch], max_total: usize) -> Collector {
        Collector {
            hits: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            errors_dropped: AtomicUsize::new(0),
            filescount: AtomicU64::new(0),
            openfailed: AtomicU64::new(0),
            per_search: plan
                .iter()
                .map(|_| (AtomicUsize::new(0), AtomicBool::new(false)))
                .collect(),
            limits: plan.iter().map(|p| p.matchlimit).collect(),
            total: AtomicUsize::new(0),
            max_total,
            truncated: AtomicBool::new(false),
            digests: DigestCache::default(),
        }
    }

    pub(crate) fn count_file(&self) {
        self.filescount.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self, e: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < MAX_KEPT_ERRORS {
            errors.push(e);
        } else {
            self.errors_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn open_failed(&self, e: String) {
        self.openfailed.fetch_add(1, Ordering::Relaxed);
        self.error(e);
    }

    /// Records a hit unless the search's matchlimit or the module's hard cap is reached.
    pub(crate) fn add_hit(&self, search: usize, check: Option<usize>, path: &Path, info: FileInfo) {
        let (count, reached) = &self.per_search[search];
        if let Some(limit) = self.limits[search] {
            if count.fetch_add(1, Ordering::Relaxed) >= limit {
                reached.store(true, Ordering::Relaxed);
                return;
            }
        }
        if self.total.fetch_add(1, Ordering::Relaxed) >= self.max_total {
            self.truncated.store(true, Ordering::Relaxed);
            return;
        }
        self.hits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Hit {
                search,
                check,
                path: path.to_path_buf(),
                info,
            });
    }

    /// True when no search can record anything more.
    fn saturated(&self) -> bool {
        self.truncated.load(Ordering::Relaxed)
            || self
                .per_search
                .iter()
                .all(|(_, reached)| reached.load(Ordering::Relaxed))
    }

    fn finish(self, stopped: Option<Stop>) -> Outcome {
        Outcome {
            hits: self.hits.into_inner().unwrap_or_else(|p| p.into_inner()),
            errors: self.errors.into_inner().unwrap_or_else(|p| p.into_inner()),
            errors_dropped: self.errors_dropped.into_inner(),
            filescount: self.filescount.into_inner(),
            openfailed: self.openfailed.into_inner(),
            limit_reached: self
                .per_search
                .iter()
                .map(|(_, r)| r.load(Ordering::Relaxed))
                .collect(),
            truncated: self.truncated.into_inner(),
            stopped,
        }
    }
}

/// A root of one search, once globs are expanded and symlinks resolved.
struct Root {
    search: usize,
    path: PathBuf,
    is_dir: bool,
}

/// A directory tree to walk, and the search roots inside it.
struct Tree {
    path: PathBuf,
    /// (search, root, depth of the root below `path`)
    members: Vec<(usize, PathBuf, usize)>,
}

/// Walks every root of every search and evaluates what it finds.
pub(crate) fn run(plan: &[PlannedSearch], ctx: &Context, threads: usize) -> Outcome {
    let collector = Collector::new(plan, ctx.limits.max_elements);
    let now = SystemTime::now();
    let roots = expand_roots(plan, &collector);
    let mounts = MountTable::read().unwrap_or_else(|e| {
        collector.error(format!(
            "{e}: pseudo and network filesystems cannot be told apart; only /proc, /sys and /dev are skipped"
        ));
        MountTable::fallback()
    });

    // Roots that are files outside any walked directory are evaluated on their own.
    let dir_roots: Vec<&Root> = roots.iter().filter(|r| r.is_dir).collect();
    let mut trees: Vec<Tree> = Vec::new();
    let mut tops: Vec<&PathBuf> = dir_roots.iter().map(|r| &r.path).collect();
    tops.sort_by_key(|p| p.components().count());
    tops.dedup();
    for top in tops {
        if trees.iter().any(|t| top.starts_with(&t.path)) {
            continue;
        }
        trees.push(Tree {
            path: top.clone(),
            members: Vec::new(),
        });
    }
    let mut inspector = Inspector::new(plan, &collector, ctx, now);
    for root in &roots {
        match trees.iter_mut().find(|t| root.path.starts_with(&t.path)) {
            Some(t) => {
                let offset = root.path.components().count() - t.path.components().count();
                if !t
                    .members
                    .iter()
                    .any(|(s, p, _)| *s == root.search && *p == root.path)
                {
                    t.members.push((root.search, root.path.clone(), offset));
                }
            }
            None => {
                // A file root: evaluate it directly, under the path given.
                if let Ok(meta) = std::fs::symlink_metadata(&root.path) {
                    let name = root.path.file_name().map(|n| n.as_bytes()).unwrap_or(b"");
                    inspector.inspect(
                        &Entry::new(&root.path, name, meta.file_type()),
                        &[root.search],
                    );
                }
            }
        }
    }

    let mut stopped = None;
    for tree in &trees {
        if let Err(stop) = ctx.check() {
            stopped = Some(stop);
            break;
        }
        walk_tree(tree, plan, &collector, ctx, now, &mounts, threads);
    }
    if stopped.is_none() {
        stopped = ctx.check().err();
    }
    collector.finish(stopped)
}

fn walk_tree(
    tree: &Tree,
    plan: &[PlannedSearch],
    collector: &Collector,
    ctx: &Context,
    now: SystemTime,
    mounts: &MountTable,
    threads: usize,
) {
    let remote_ok = tree.members.iter().any(|(s, _, _)| plan[*s].remotefs);
    let excluded = mounts.excluded_below(&tree.path, remote_ok);
    // No search looks deeper than this (walker depth: the tree's root is 0, its files 1; a
    // search's files are at most `maxdepth` levels below its root, MIG's count).
    let max_depth = tree
        .members
        .iter()
        .map(|(s, _, offset)| plan[*s].maxdepth.map(|d| offset + d))
        .try_fold(0, |acc, d| d.map(|d| acc.max(d)));

    let mut builder = ignore::WalkBuilder::new(&tree.path);
    builder
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .threads(threads)
        .max_depth(max_depth);
    if !excluded.is_empty() {
        builder.filter_entry(move |e| {
            !(e.file_type().is_some_and(|t| t.is_dir()) && excluded.iter().any(|x| x == e.path()))
        });
    }
    builder.build_parallel().run(|| {
        let mut inspector = Inspector::new(plan, collector, ctx, now);
        let mut applicable: Vec<usize> = Vec::new();
        Box::new(move |result| {
            if ctx.check().is_err() || collector.saturated() {
                return ignore::WalkState::Quit;
            }
            let entry = match result {
                Ok(e) => e,
                Err(e) => {
                    collector.error(walk_error(&e));
                    return ignore::WalkState::Continue;
                }
            };
            let depth = entry.depth();
            if depth == 0 {
                return ignore::WalkState::Continue;
            }
            applicable.clear();
            for (s, root, offset) in &tree.members {
                if depth <= *offset || (*offset > 0 && !entry.path().starts_with(root)) {
                    continue;
                }
                // MIG counts the root as level 1: its own files are within maxdepth 1.
                let level = depth - offset;
                if plan[*s].maxdepth.is_none_or(|max| level <= max) && !applicable.contains(s) {
                    applicable.push(*s);
                }
            }
            if applicable.is_empty() {
                return ignore::WalkState::Continue;
            }
            // The type comes from readdir (no stat); entries without one are stdin-like oddities.
            if let Some(file_type) = entry.file_type() {
                let name = entry.file_name().as_bytes();
                if let Some(e) = evaluated(Entry::new(entry.path(), name, file_type), collector) {
                    inspector.inspect(&e, &applicable);
                }
            }
            ignore::WalkState::Continue
        })
    });
}

/// What MIG evaluates of a directory's entries: regular files, and symbolic links to regular
/// files (with the target's metadata: MIG stats them). Directories are walked, not evaluated;
/// devices, sockets, FIFOs and links to anything but a file are neither. A link that cannot
/// be followed counts as a file that failed to open, as in MIG.
fn evaluated<'e>(entry: Entry<'e>, collector: &Collector) -> Option<Entry<'e>> {
    if entry.file_type.is_file() {
        return Some(entry);
    }
    if !entry.file_type.is_symlink() {
        return None;
    }
    match std::fs::metadata(entry.path) {
        Ok(target) if target.is_file() => Some(entry.with_metadata(target)),
        Ok(_) => None,
        Err(e) => {
            collector.open_failed(format!("stat {}: {}", entry.path.display(), go_error(&e)));
            None
        }
    }
}

/// Expands globs, cleans paths, and refuses symlinked directory roots (with a warning).
fn expand_roots(plan: &[PlannedSearch], collector: &Collector) -> Vec<Root> {
    let mut roots = Vec::new();
    for (s, ps) in plan.iter().enumerate() {
        for path in &ps.paths {
            let candidates: Vec<PathBuf> = if has_glob(path) {
                match glob::glob(&path.to_string_lossy()) {
                    Ok(paths) => paths.filter_map(Result::ok).map(|p| clean(&p)).collect(),
                    Err(e) => {
                        collector.error(format!("invalid glob {}: {e}", path.display()));
                        Vec::new()
                    }
                }
            } else {
                vec![path.clone()]
            };
            for p in candidates {
                let meta = match std::fs::symlink_metadata(&p) {
                    Ok(m) => m,
                    Err(e) => {
                        collector.error(format!("lstat {}: {}", p.display(), go_error(&e)));
                        continue;
                    }
                };
                let is_dir = if meta.file_type().is_symlink() {
                    match std::fs::metadata(&p) {
                        Ok(target) if target.is_dir() => {
                            collector.error(format!(
                                "{} is a symbolic link to a directory: not followed",
                                p.display()
                            ));
                            continue;
                        }
                        _ => false,
                    }
                } else {
                    meta.is_dir()
                };
                roots.push(Root {
                    search: s,
                    path: p,
                    is_dir,
                });
            }
        }
    }
    roots
}

fn walk_error(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { path, err } => match err.as_ref() {
            ignore::Error::Io(io) => format!("open {}: {}", path.display(), go_error(io)),
            other => format!("{}: {other}", path.display()),
        },
        ignore::Error::WithDepth { err, .. } => walk_error(err),
        ignore::Error::Loop { child, .. } => format!("{}: filesystem loop", child.display()),
        ignore::Error::Io(io) => go_error(io),
        other => other.to_string(),
    }
}

/// Mount points of filesystems a search should not wander into.
pub(crate) struct MountTable {
    pseudo: Vec<PathBuf>,
    remote: Vec<PathBuf>,
}

const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "devtmpfs",
    "debugfs",
    "tracefs",
    "securityfs",
    "bpf",
    "pstore",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "binfmt_misc",
    "efivarfs",
    "selinuxfs",
    "nsfs",
    "rpc_pipefs",
    "autofs",
];
const REMOTE_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "lustre",
    "fuse.sshfs",
    "fuse.s3fs",
    "davfs",
    "ncpfs",
    "coda",
];

impl MountTable {
    /// The machine's pseudo and network filesystems, from /proc/self/mountinfo; an error
    /// naming the file when it cannot be read (a walk must then not take "none" for an answer).
    pub(crate) fn read() -> std::io::Result<MountTable> {
        const MOUNTINFO: &str = "/proc/self/mountinfo";
        let text = mig_host::required(MOUNTINFO, |p| std::fs::read_to_string(p))?;
        if text.is_empty() {
            return Err(mig_host::unexpected(MOUNTINFO, "empty"));
        }
        let mut table = MountTable {
            pseudo: Vec::new(),
            remote: Vec::new(),
        };
        for line in text.lines() {
            // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw"
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let (Some(mount_point), Some(fstype)) =
                (left.split(' ').nth(4), right.split(' ').next())
            else {
                continue;
            };
            let path = PathBuf::from(std::ffi::OsStr::from_bytes(&unescape_mount(mount_point)));
            if PSEUDO_FS.contains(&fstype) {
                table.pseudo.push(path);
            } else if REMOTE_FS.contains(&fstype) {
                table.remote.push(path);
            }
        }
        Ok(table)
    }

    /// Without a mount table to ask: at least keep out of the usual pseudo filesystems.
    pub(crate) fn fallback() -> MountTable {
        MountTable {
            pseudo: vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/dev"),
            ],
            remote: Vec::new(),
        }
    }

    /// Mount points under `root` to skip; a mount that contains `root` is fair game.
    pub(crate) fn excluded_below(&self, root: &Path, remote_ok: bool) -> Vec<PathBuf> {
        let remote: &[PathBuf] = if remote_ok { &[] } else { &self.remote };
        self.pseudo
            .iter()
            .chain(remote)
            .filter(|m| m.starts_with(root) && !root.starts_with(m))
            .cloned()
            .collect()
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mount(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_unescape() {
        assert_eq!(unescape_mount(r"/mnt/my\040disk"), b"/mnt/my disk");
        assert_eq!(unescape_mount(r"/a\134b"), br"/a\b");
        assert_eq!(unescape_mount("/plain"), b"/plain");
    }

    #[test]
    fn pseudo_mounts_are_excluded_unless_the_root_is_inside() {
        let t = MountTable {
            pseudo: vec![PathBuf::from("/proc"), PathBuf::from("/sys")],
            remote: vec![PathBuf::from("/mnt/nfs")],
        };
        assert_eq!(
            t.excluded_below(Path::new("/"), false),
            vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/mnt/nfs")
            ]
        );
        assert!(t.excluded_below(Path::new("/proc/1"), false).is_empty());
        assert!(t.excluded_below(Path::new("/"), true).len() == 2);
    }
}
