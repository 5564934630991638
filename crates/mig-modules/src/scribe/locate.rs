//! Finding an object's files: scribe's locator. Below `path`, ten directory levels deep,
//! every regular file (or symlink to one) whose *name* matches the object's `file` regex
//! (unanchored, as in scribe: `shadow` also matches `gshadow`). Symlinked directories are not
//! followed, unreadable directories are skipped, and pseudo or network filesystems mounted
//! below `path` are not entered (the file module's mount table). Our addition: a `path` that
//! is itself a file is a candidate on its own.

use crate::file::walk::MountTable;
use crate::Context;
use regex::Regex;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

/// scribe's `maxDepth`: files at most ten levels below `path`.
pub(crate) const MAX_DEPTH: usize = 10;

pub(crate) struct Locator {
    /// The mount table, read once; its read error, when it could not be.
    mounts: OnceCell<Result<MountTable, String>>,
}

/// Collapses repeated and trailing slashes, so identifiers read like Go's `filepath.Join`
/// made them (`${chain_root}/x` expands to `/dir//x`).
pub(crate) fn clean(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

impl Locator {
    pub(crate) fn new() -> Locator {
        Locator {
            mounts: OnceCell::new(),
        }
    }

    /// The candidate files, in name order (scribe's walk order). At most `max`: more is an
    /// error, as a partial list would give a partial answer.
    pub(crate) fn locate(
        &self,
        path: &str,
        name: &Regex,
        ctx: &Context,
        max: usize,
    ) -> Result<Vec<PathBuf>, String> {
        let root = PathBuf::from(clean(path));
        // A path that does not exist has no files: the test is false, as in scribe.
        let Ok(meta) = std::fs::metadata(&root) else {
            return Ok(Vec::new());
        };
        if meta.is_file() {
            let matched = root
                .file_name()
                .is_some_and(|n| name.is_match(&n.to_string_lossy()));
            return Ok(if matched { vec![root] } else { Vec::new() });
        }
        if !meta.is_dir() {
            return Ok(Vec::new());
        }
        let excluded = self
            .mounts
            .get_or_init(|| MountTable::read().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| {
                format!("{e}: cannot tell network filesystems apart, {path} not searched")
            })?
            .excluded_below(&root, false);
        let mut builder = ignore::WalkBuilder::new(&root);
        builder
            .standard_filters(false)
            .hidden(false)
            .follow_links(false)
            .max_depth(Some(MAX_DEPTH))
            .sort_by_file_name(|a, b| a.cmp(b));
        if !excluded.is_empty() {
            builder.filter_entry(move |e| {
                !(e.file_type().is_some_and(|t| t.is_dir())
                    && excluded.iter().any(|x| x == e.path()))
            });
        }
        let mut found = Vec::new();
        for entry in builder.build() {
            ctx.check().map_err(|stop| stop.to_string())?;
            // Unreadable directories are skipped, as scribe's walk skips them.
            let Ok(entry) = entry else { continue };
            if entry.depth() == 0 {
                continue;
            }
            let Some(kind) = entry.file_type() else {
                continue;
            };
            let regular = kind.is_file()
                || (kind.is_symlink()
                    && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()));
            if !regular || !name.is_match(&entry.file_name().to_string_lossy()) {
                continue;
            }
            if found.len() >= max {
                return Err(format!(
                    "more than {max} files under {} match {:?}: over the agent's result limit",
                    root.display(),
                    name.as_str()
                ));
            }
            found.push(entry.into_path());
        }
        Ok(found)
    }
}

/// Go's `path.Split`: the directory part, up to and including the last `/`.
pub(crate) fn dir_of(path: &Path) -> String {
    let s = path.to_string_lossy();
    match s.rfind('/') {
        Some(i) => s[..=i].to_string(),
        None => String::new(),
    }
}
