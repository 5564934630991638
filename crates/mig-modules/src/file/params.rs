//! The file module's parameters, exactly as MIG spells them, and their validation.

use crate::ModuleError;
use mig_core::action::null_as_default;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{"searches": {"<label>": {…}}}`: several labelled searches in one operation.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct Params {
    #[serde(default, deserialize_with = "null_as_default")]
    pub searches: BTreeMap<String, Search>,
}

/// One search: where to look, the checks, and options.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct Search {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub paths: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contents: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sizes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub modes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mtimes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub md5: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sha1: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sha2: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sha3: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub options: Options,
}

/// MIG's options. Numbers are float64 in MIG's JSON; 0 means "no limit".
///
/// `matchall` defaults to **false** (match any) in JSON, as in MIG, while `mig file` on the
/// command line defaults to matchall.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct Options {
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    pub maxdepth: f64,
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    pub maxerrors: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub remotefs: bool,
    #[serde(default)]
    pub matchall: bool,
    #[serde(default)]
    pub macroal: bool,
    /// Check kinds whose result is inverted (`name`, `content`, `size`…). `null` in MIG's JSON
    /// when empty.
    #[serde(default)]
    pub mismatch: Option<Vec<String>>,
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    pub matchlimit: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub returnsha256: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub decompress: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The kinds of checks, with the names `mismatch` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckKind {
    Content,
    Name,
    Size,
    Mode,
    Mtime,
    Md5,
    Sha1,
    Sha2,
    Sha3,
}

impl CheckKind {
    pub const ALL: [CheckKind; 9] = [
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

    pub fn mismatch_name(self) -> &'static str {
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
    pub fn field(self) -> &'static str {
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
    pub fn values(self, s: &Search) -> &Vec<String> {
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

    pub fn values_mut(self, s: &mut Search) -> &mut Vec<String> {
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

    /// Reads the file's bytes (as opposed to its metadata).
    pub fn reads_content(self) -> bool {
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
pub fn validate(params: &Params) -> Result<(), ModuleError> {
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
