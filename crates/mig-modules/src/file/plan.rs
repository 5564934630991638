//! Turning parameters into a plan: compiled checks per search, and the set of directory trees
//! to walk (each walked once, however many searches look into it).

use super::checks::Matcher;
use super::params::{CheckKind, Params, Search};
use crate::ModuleError;
use std::path::{Component, Path, PathBuf};

/// One check, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub kind: CheckKind,
    /// The text as the investigator wrote it, echoed in results.
    pub value: String,
    pub matcher: Matcher,
    /// `options.mismatch` names this kind: the result is inverted.
    pub mismatch: bool,
}

/// One search, compiled.
#[derive(Debug, Clone)]
pub(crate) struct PlannedSearch {
    /// The search's label.
    pub label: String,
    /// The search as given, echoed in results.
    pub spec: Search,
    /// Cleaned, de-duplicated roots (globs not yet expanded).
    pub paths: Vec<PathBuf>,
    /// In MIG's order: contents, names, sizes, modes, mtimes, md5, sha1, sha2, sha3.
    pub checks: Vec<Check>,
    /// Every check must match (else any).
    pub matchall: bool,
    /// Every line must match every content regex (MIG's macroal).
    pub macroal: bool,
    /// How deep to walk, when limited.
    pub maxdepth: Option<usize>,
    /// Matches kept at most, when limited.
    pub matchlimit: Option<usize>,
    /// Errors kept at most, when limited.
    pub maxerrors: Option<usize>,
    /// Whether matched files get their SHA-256.
    pub returnsha256: bool,
    /// Whether gzip files are searched inside.
    pub decompress: bool,
    /// Whether network filesystems are searched.
    pub remotefs: bool,
}

impl PlannedSearch {
    /// Whether any check reads the file's bytes (not only its metadata).
    pub(crate) fn reads_content(&self) -> bool {
        self.checks.iter().any(|c| c.kind.reads_content())
    }
}

/// Compiles validated parameters.
pub(crate) fn plan(params: &Params) -> Result<Vec<PlannedSearch>, ModuleError> {
    let mut out = Vec::new();
    for (label, s) in &params.searches {
        let mismatch: Vec<&str> = s
            .options
            .mismatch
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let mut checks = Vec::new();
        for kind in CheckKind::ALL {
            for value in kind.values(s) {
                let matcher = Matcher::compile(kind, value).map_err(|e| {
                    ModuleError::invalid(
                        format!("search '{label}': {}", kind.field()),
                        format!("{value:?}: {e}"),
                    )
                })?;
                checks.push(Check {
                    kind,
                    value: value.clone(),
                    matcher,
                    mismatch: mismatch.contains(&kind.mismatch_name()),
                });
            }
        }
        let mut paths: Vec<PathBuf> = Vec::new();
        for p in &s.paths {
            let cleaned = clean(Path::new(p));
            if !paths.contains(&cleaned) {
                paths.push(cleaned);
            }
        }
        let limit = |v: f64| (v > 0.0).then_some(v as usize);
        out.push(PlannedSearch {
            label: label.clone(),
            spec: s.clone(),
            paths,
            checks,
            matchall: s.options.matchall,
            macroal: s.options.macroal,
            maxdepth: limit(s.options.maxdepth),
            matchlimit: limit(s.options.matchlimit),
            maxerrors: limit(s.options.maxerrors),
            returnsha256: s.options.returnsha256,
            decompress: s.options.decompress,
            remotefs: s.options.remotefs,
        });
    }
    Ok(out)
}

/// Lexical clean-up like Go's `filepath.Clean`: no `.`, `..` resolved, no trailing slash.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

pub(crate) fn has_glob(path: &Path) -> bool {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .any(|b| matches!(b, b'*' | b'?' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_is_lexical() {
        assert_eq!(clean(Path::new("/etc/")), PathBuf::from("/etc"));
        assert_eq!(
            clean(Path::new("/etc/./ssh/../passwd")),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(clean(Path::new("/../..")), PathBuf::from("/"));
        assert_eq!(clean(Path::new("//usr//lib")), PathBuf::from("/usr/lib"));
    }
}
