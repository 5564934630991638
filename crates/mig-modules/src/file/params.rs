//! The file module's parameters, exactly as MIG spells them, and their validation.

use crate::ModuleError;
use mig_core::action::null_as_default;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{"searches": {"<label>": {…}}}`: several labelled searches in one operation.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Params {
    #[serde(default, deserialize_with = "null_as_default")]
    /// The searches, by label (1 to 64 characters).
    pub searches: BTreeMap<String, Search>,
}

/// One search: where to look, the checks, and options.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Search {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// Free text describing the search (echoed in results).
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    /// Absolute paths to search under (glob patterns allowed).
    pub paths: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Regexes on lines of the file's content.
    pub contents: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Regexes on the file's name.
    pub names: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Sizes, e.g. `<10k`, `>1m`, `=512`.
    pub sizes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Regexes on the file's mode as Go prints it, e.g. `-rwxr-xr-x`.
    pub modes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Modification times relative to now, e.g. `<2h`, `>90d`.
    pub mtimes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// MD5 sums to match (hex).
    pub md5: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// SHA-1 sums to match (hex).
    pub sha1: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// SHA-2 sums to match (hex; 224, 256, 384 or 512 bits).
    pub sha2: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// SHA-3 sums to match (hex; 224, 256, 384 or 512 bits).
    pub sha3: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    /// How the search walks and matches.
    pub options: Options,
}

/// MIG's options. Numbers are float64 in MIG's JSON; 0 means "no limit".
///
/// `matchall` defaults to **false** (match any) in JSON, as in MIG, while `mig file` on the
/// command line defaults to matchall.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Options {
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    /// How deep to walk below each path (0: no limit).
    pub maxdepth: f64,
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    /// Errors kept at most (0: no limit).
    pub maxerrors: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    /// Also search network filesystems (NFS, SMB…).
    pub remotefs: bool,
    #[serde(default)]
    /// Every check must match a file (false: any check may).
    pub matchall: bool,
    #[serde(default)]
    /// MIG's "match all contents regexes on all lines": every line of the file must match
    /// every content regex.
    pub macroal: bool,
    /// Check kinds whose result is inverted (`name`, `content`, `size`…). `null` in MIG's JSON
    /// when empty.
    #[serde(default)]
    pub mismatch: Option<Vec<String>>,
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    /// Matches returned at most per search (0: no limit).
    pub matchlimit: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    /// Add the SHA-256 of matched files.
    pub returnsha256: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    /// Search inside gzip-compressed files.
    pub decompress: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The kinds of checks, with the names `mismatch` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum CheckKind {
    /// A regex on the content.
    Content,
    /// A regex on the name.
    Name,
    /// A size comparison.
    Size,
    /// A regex on the mode.
    Mode,
    /// A modification-time comparison.
    Mtime,
    /// An MD5 sum.
    Md5,
    /// A SHA-1 sum.
    Sha1,
    /// A SHA-2 sum.
    Sha2,
    /// A SHA-3 sum.
    Sha3,
}

impl CheckKind {
    /// Every kind, in MIG's order of evaluation.
    pub(crate) const ALL: [CheckKind; 9] = [
        CheckKind::Content,
        CheckKind::Name,
        CheckKind::Size,
        CheckKind::Mode,
        CheckKind::Mtime,
        CheckKind::Md5,
        CheckKind::Sha1,
        CheckKind::Sha2,
        CheckKind::Sha3,
    ];

    /// The kind's name in `options.mismatch`.
    pub(crate) fn mismatch_name(self) -> &'static str {
        match self {
            CheckKind::Content => "content",
            CheckKind::Name => "name",
            CheckKind::Size => "size",
            CheckKind::Mode => "mode",
            CheckKind::Mtime => "mtime",
            CheckKind::Md5 => "md5",
            CheckKind::Sha1 => "sha1",
            CheckKind::Sha2 => "sha2",
            CheckKind::Sha3 => "sha3",
        }
    }

    /// The JSON field holding checks of this kind.
    pub(crate) fn field(self) -> &'static str {
        match self {
            CheckKind::Content => "contents",
            CheckKind::Name => "names",
            CheckKind::Size => "sizes",
            CheckKind::Mode => "modes",
            CheckKind::Mtime => "mtimes",
            other => other.mismatch_name(),
        }
    }

    /// The search field holding checks of this kind.
    pub(crate) fn values(self, s: &Search) -> &Vec<String> {
        match self {
            CheckKind::Content => &s.contents,
            CheckKind::Name => &s.names,
            CheckKind::Size => &s.sizes,
            CheckKind::Mode => &s.modes,
            CheckKind::Mtime => &s.mtimes,
            CheckKind::Md5 => &s.md5,
            CheckKind::Sha1 => &s.sha1,
            CheckKind::Sha2 => &s.sha2,
            CheckKind::Sha3 => &s.sha3,
        }
    }

    /// The search field holding checks of this kind, to change.
    pub(crate) fn values_mut(self, s: &mut Search) -> &mut Vec<String> {
        match self {
            CheckKind::Content => &mut s.contents,
            CheckKind::Name => &mut s.names,
            CheckKind::Size => &mut s.sizes,
            CheckKind::Mode => &mut s.modes,
            CheckKind::Mtime => &mut s.mtimes,
            CheckKind::Md5 => &mut s.md5,
            CheckKind::Sha1 => &mut s.sha1,
            CheckKind::Sha2 => &mut s.sha2,
            CheckKind::Sha3 => &mut s.sha3,
        }
    }

    /// A digest check (md5, sha1, sha2, sha3).
    pub(crate) fn is_hash(self) -> bool {
        matches!(
            self,
            CheckKind::Md5 | CheckKind::Sha1 | CheckKind::Sha2 | CheckKind::Sha3
        )
    }

    /// Reads the file's bytes (as opposed to its metadata).
    pub(crate) fn reads_content(self) -> bool {
        matches!(
            self,
            CheckKind::Content
                | CheckKind::Md5
                | CheckKind::Sha1
                | CheckKind::Sha2
                | CheckKind::Sha3
        )
    }
}

/// A label is at most 64 characters (MIG's rule).
const MAX_LABEL: usize = 64;

/// Checks every search; the error names the search and its parameter.
pub(crate) fn validate(params: &Params) -> Result<(), ModuleError> {
    if params.searches.is_empty() {
        return Err(ModuleError::invalid(
            "searches",
            "expected at least one search",
        ));
    }
    for (label, s) in &params.searches {
        if label.is_empty() || label.chars().count() > MAX_LABEL {
            return Err(ModuleError::invalid(
                format!("search label {label:?}"),
                format!("expected 1 to {MAX_LABEL} characters"),
            ));
        }
        validate_search(s).map_err(|e| e.within(&format!("search '{label}'")))?;
    }
    Ok(())
}

fn validate_search(s: &Search) -> Result<(), ModuleError> {
    if s.paths.is_empty() {
        return Err(ModuleError::invalid(
            "paths",
            "expected at least one path to search",
        ));
    }
    for p in &s.paths {
        if !p.starts_with('/') {
            return Err(ModuleError::invalid(
                "paths",
                format!("{p:?} is not an absolute path"),
            ));
        }
    }
    if CheckKind::ALL.iter().all(|k| k.values(s).is_empty()) {
        return Err(ModuleError::Request(
            "expected at least one check (names, contents, sizes, modes, mtimes, md5, sha1, sha2 or sha3)"
                .into(),
        ));
    }
    for kind in CheckKind::ALL {
        for v in kind.values(s) {
            super::checks::Matcher::compile(kind, v)
                .map_err(|e| ModuleError::invalid(kind.field(), format!("{v:?}: {e}")))?;
        }
    }
    let o = &s.options;
    for (name, value) in [
        ("maxdepth", o.maxdepth),
        ("maxerrors", o.maxerrors),
        ("matchlimit", o.matchlimit),
    ] {
        if !(value >= 0.0 && value.fract() == 0.0 && value < 1e15) {
            return Err(ModuleError::invalid(
                format!("options.{name}"),
                format!("expected a non-negative integer, got {value}"),
            ));
        }
    }
    for m in o.mismatch.iter().flatten() {
        if !CheckKind::ALL.iter().any(|k| k.mismatch_name() == m) {
            return Err(ModuleError::invalid(
                "options.mismatch",
                format!("{m:?} is not a check kind (name, content, size, mode, mtime, md5, sha1, sha2, sha3)"),
            ));
        }
    }
    Ok(())
}
