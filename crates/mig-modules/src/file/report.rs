//! Turning hits into MIG's result: elements per label, statistics, capped errors; and MIG's
//! human-readable form of it.

use super::params::{CheckKind, Search};
use super::plan::PlannedSearch;
use super::walk::{Hit, Outcome};
use crate::{gofmt, Context, Report, Stop};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// One element of a label's list (MIG's `MatchedFile`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct MatchedFile {
    /// The path, or `""` for "this search matched nothing". Names that are not valid UTF-8
    /// are written with U+FFFD here (as Go does) and exactly in `filebase64`.
    pub file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The path's exact bytes, base64, when they are not valid UTF-8.
    pub filebase64: String,
    /// The search, or in matchany mode the one check, that matched.
    pub search: Search,
    /// The file's metadata.
    pub fileinfo: FileInfoOut,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
/// A matched file's metadata (MIG's `fileinfo`).
pub(crate) struct FileInfoOut {
    #[serde(serialize_with = "mig_core::gojson::float64::serialize")]
    /// Size in bytes.
    pub size: f64,
    /// Mode as Go prints it, e.g. `-rw-r--r--`.
    pub mode: String,
    /// Modification time, Go's time format.
    pub lastmodified: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// SHA-256 of the content, with `returnsha256`.
    pub sha256: String,
}

/// What the file module reports, its `elements`: for each search label, the files it matched
/// (one entry with an empty `file` when it matched none).
pub(crate) type Elements = BTreeMap<String, Vec<MatchedFile>>;

/// The file module's `statistics`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct Statistics {
    #[serde(serialize_with = "mig_core::gojson::float64::serialize")]
    /// Files looked at.
    pub filescount: f64,
    #[serde(serialize_with = "mig_core::gojson::float64::serialize")]
    /// Files that could not be opened.
    pub openfailed: f64,
    #[serde(serialize_with = "mig_core::gojson::float64::serialize")]
    /// Matches found.
    pub totalhits: f64,
    /// How long the run took.
    pub exectime: String,
}

/// The report of a walk's outcome: elements per label, statistics and capped errors.
pub(crate) fn build(
    plan: &[PlannedSearch],
    mut outcome: Outcome,
    elapsed: Duration,
    ctx: &Context,
) -> Report<Elements, Statistics> {
    outcome
        .hits
        .sort_by(|a, b| (a.search, a.check, &a.path).cmp(&(b.search, b.check, &b.path)));
    let mut elements = Elements::new();
    let mut totalhits = 0u64;
    let mut errors: Vec<String> = Vec::new();
    let mut sha256s: std::collections::HashMap<std::path::PathBuf, Result<String, String>> =
        std::collections::HashMap::new();
    for (s, ps) in plan.iter().enumerate() {
        let list = elements.entry(ps.label.clone()).or_default();
        for hit in outcome.hits.iter().filter(|h| h.search == s) {
            let search = match hit.check {
                None => echo_search(&ps.spec),
                Some(i) => echo_one_check(&ps.spec, ps.checks[i].kind, &ps.checks[i].value),
            };
            let mut fileinfo = FileInfoOut {
                size: hit.info.size as f64,
                mode: hit.info.mode.clone(),
                lastmodified: hit.info.lastmodified.clone(),
                sha256: String::new(),
            };
            if ps.returnsha256 {
                // A file several checks or searches matched is hashed once.
                let hashed = sha256s
                    .entry(hit.path.clone())
                    .or_insert_with(|| sha256_of(hit));
                match hashed {
                    Ok(h) => fileinfo.sha256 = h.clone(),
                    Err(e) => errors.push(e.clone()),
                }
            }
            let raw = hit.path.as_os_str().as_bytes();
            let (file, filebase64) = match std::str::from_utf8(raw) {
                Ok(s) => (s.to_string(), String::new()),
                Err(_) => (
                    String::from_utf8_lossy(raw).into_owned(),
                    base64::engine::general_purpose::STANDARD.encode(raw),
                ),
            };
            list.push(MatchedFile {
                file,
                filebase64,
                search,
                fileinfo,
            });
            totalhits += 1;
        }
        if list.is_empty() {
            list.push(MatchedFile {
                file: String::new(),
                filebase64: String::new(),
                search: echo_search(&ps.spec),
                fileinfo: FileInfoOut::default(),
            });
        }
        if outcome.limit_reached[s] {
            errors.push(format!(
                "search '{}' reached its matchlimit of {}: further matches were not returned",
                ps.label,
                ps.matchlimit.unwrap_or(0)
            ));
        }
    }

    // Walking errors, capped at the largest maxerrors (0 = no limit) and the module's cap.
    let cap = plan
        .iter()
        .map(|p| p.maxerrors)
        .try_fold(0usize, |acc, m| m.map(|m| acc.max(m)))
        .unwrap_or(usize::MAX)
        .min(ctx.limits.max_errors);
    let total_errors = outcome.errors.len() + outcome.errors_dropped;
    errors.extend(outcome.errors.into_iter().take(cap));
    if total_errors > cap {
        errors.push(format!("{} errors were not returned", total_errors - cap));
    }
    if outcome.truncated {
        errors.push(format!(
            "results truncated at {} matches (the module's cap)",
            ctx.limits.max_elements
        ));
    }
    match outcome.stopped {
        Some(Stop::Deadline) => errors
            .push("search stopped early: the module ran out of time; results are partial".into()),
        Some(Stop::Cancelled) => {
            errors.push("search stopped early: cancelled; results are partial".into())
        }
        None => {}
    }

    let stats = Statistics {
        filescount: outcome.filescount as f64,
        openfailed: outcome.openfailed as f64,
        totalhits: totalhits as f64,
        exectime: gofmt::duration(elapsed),
    };
    Report {
        foundanything: totalhits > 0,
        elements,
        statistics: stats,
        errors,
    }
}

/// The search as MIG echoes it in results: limits zeroed, mismatch cleared.
fn echo_search(spec: &Search) -> Search {
    let mut s = spec.clone();
    s.options.matchlimit = 0.0;
    s.options.maxdepth = 0.0;
    s.options.maxerrors = 0.0;
    s.options.mismatch = None;
    s
}

/// For matchany: the search with only the check that matched.
fn echo_one_check(spec: &Search, kind: CheckKind, value: &str) -> Search {
    let mut s = echo_search(spec);
    for k in CheckKind::ALL {
        k.values_mut(&mut s).clear();
    }
    // MIG echoes a hash check as it compared it: uppercased.
    let echoed = if kind.is_hash() {
        value.to_uppercase()
    } else {
        value.to_string()
    };
    kind.values_mut(&mut s).push(echoed);
    s
}

fn sha256_of(hit: &Hit) -> Result<String, String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(&hit.path).map_err(|e| {
        format!(
            "open {}: {}",
            hit.path.display(),
            crate::gofmt::os_error(&e)
        )
    })?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| {
        format!(
            "read {}: {}",
            hit.path.display(),
            crate::gofmt::os_error(&e)
        )
    })?;
    Ok(super::hash::hex(&h.finalize()))
}

/// The files a result found, each once, in result order, with non-UTF-8 names restored
/// from `filebase64`: for modules that search files with the file module (yara).
pub(crate) fn found_paths(elements: &Elements) -> Vec<std::path::PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for m in elements.values().flatten() {
        let path = match base64::engine::general_purpose::STANDARD.decode(&m.filebase64) {
            Ok(raw) if !m.filebase64.is_empty() => {
                std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&raw))
            }
            _ => std::path::PathBuf::from(&m.file),
        };
        if !m.file.is_empty() && seen.insert(path.clone()) {
            out.push(path);
        }
    }
    out
}

/// Extra privacy mode: file names and error texts are hidden; whether something was found,
/// how much, and the file metadata stay.
pub(crate) fn mask(report: &mut Report<Elements, Statistics>) {
    for f in report.elements.values_mut().flatten() {
        if !f.file.is_empty() {
            f.file = "[masked]".into();
        }
        f.filebase64.clear();
    }
    crate::mask_errors(&mut report.errors);
}

/// MIG's printer: one line per match, `0 match found in search 's1'` for empty searches,
/// then errors and the statistics line (unless only found items are wanted).
pub(crate) fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for (label, files) in &report.elements {
        for mf in files {
            if mf.file.is_empty() {
                if !found_only {
                    lines.push(format!("0 match found in search '{label}'"));
                }
                continue;
            }
            let mut line = format!(
                "{} [lastmodified:{}, mode:{}, size:{}",
                mf.file, mf.fileinfo.lastmodified, mf.fileinfo.mode, mf.fileinfo.size
            );
            if !mf.fileinfo.sha256.is_empty() {
                line.push_str(&format!(", sha256:{}", mf.fileinfo.sha256));
            }
            line.push_str(&format!("] in search '{label}'"));
            lines.push(line);
        }
    }
    if !found_only {
        lines.extend(report.errors.iter().cloned());
        let stats = &report.statistics;
        lines.push(format!(
            "Statistics: {} files checked, {} failed to open, {} matched, ran in {}.",
            stats.filescount, stats.openfailed, stats.totalhits, stats.exectime
        ));
    }
    lines
}
