//! The memory module's parameters, as MIG spells them, and their validation.

use crate::ModuleError;
use mig_core::action::null_as_default;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{"searches": {"<label>": {…}}}`.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Params {
    #[serde(default, deserialize_with = "null_as_default")]
    /// The searches, by label (letters, digits, `_` and `-`).
    pub searches: BTreeMap<String, Search>,
}

/// One search: which processes (names, libraries) and what in their memory (contents,
/// bytes). Also the shape of the `search` of each result, as in MIG.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Search {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// Free text describing the search (echoed in results).
    pub description: String,
    /// Regexes on the process's executable path (or `[comm]` for kernel threads).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
    /// Regexes on the files the process has mapped (its libraries).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub libraries: Vec<String>,
    /// Hex byte strings to find in memory (`6d6967`, no `0x`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub bytes: Vec<String>,
    /// Regexes to find in memory (on bytes: `.` does not cross a newline).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contents: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    /// How the search matches and reads memory.
    pub options: Options,
}

/// MIG's options; in JSON, `matchall` defaults to false (match any) while `mig memory`
/// defaults to matchall, as in MIG.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct Options {
    /// First address read in each process.
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    pub offset: f64,
    /// Bytes read at most in each process (0: all of it).
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    pub maxlength: f64,
    /// Report the regions that could not be read.
    #[serde(default, skip_serializing_if = "is_false")]
    pub logfailures: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    /// Every check must match a process (false: any check may).
    pub matchall: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &f64) -> bool {
    *n == 0.0
}

/// MIG's label rule for memory searches.
fn valid_label(label: &str) -> bool {
    (1..=64).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `6d69670a` → bytes; the error says what was expected.
pub(crate) fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let invalid = || {
        format!(
            "invalid bytes {s:?}: expected a hexadecimal byte string without 0x, e.g. 'ff00d1ab'"
        )
    };
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return Err(invalid());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(invalid)
        })
        .collect()
}

/// A whole number from 0 to 2^63, as MIG's float64 options hold them.
fn check_count(name: &str, v: f64) -> Result<(), ModuleError> {
    if v >= 0.0 && v.fract() == 0.0 && v <= i64::MAX as f64 {
        Ok(())
    } else {
        Err(ModuleError::invalid(
            format!("options.{name}"),
            format!("expected a whole number of bytes, got {v}"),
        ))
    }
}

/// Checks every search; the error names the search and its parameter.
pub(crate) fn validate(params: &Params) -> Result<(), ModuleError> {
    if params.searches.is_empty() {
        return Err(ModuleError::invalid(
            "searches",
            "at least one search is needed",
        ));
    }
    for (label, s) in &params.searches {
        if !valid_label(label) {
            return Err(ModuleError::invalid(
                format!("search label {label:?}"),
                "expected 1 to 64 letters, digits, '_' or '-'",
            ));
        }
        validate_search(s).map_err(|e| e.within(&format!("search '{label}'")))?;
    }
    Ok(())
}

fn validate_search(s: &Search) -> Result<(), ModuleError> {
    if s.names.is_empty() && s.libraries.is_empty() && s.bytes.is_empty() && s.contents.is_empty() {
        return Err(ModuleError::Request(
            "no check: give at least one of names, libraries, bytes, contents".into(),
        ));
    }
    for (field, values) in [
        ("names", &s.names),
        ("libraries", &s.libraries),
        ("contents", &s.contents),
    ] {
        for v in values {
            if v.is_empty() {
                return Err(ModuleError::invalid(
                    field,
                    "empty values are not permitted",
                ));
            }
            regex::Regex::new(v)
                .map_err(|e| ModuleError::invalid(field, format!("invalid regex {v:?}: {e}")))?;
        }
    }
    for b in &s.bytes {
        decode_hex(b).map_err(|e| ModuleError::invalid("bytes", e))?;
    }
    check_count("offset", s.options.offset)?;
    check_count("maxlength", s.options.maxlength)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> Params {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn decodes_hex_like_go() {
        assert_eq!(decode_hex("6d69670A").unwrap(), b"mig\n");
        for bad in ["", "6", "0x6d", "zz", "6d6"] {
            assert!(decode_hex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let err = |v| validate(&params(v)).unwrap_err().to_string();
        assert!(err(json!({"searches": {}})).contains("at least one search"));
        assert!(err(json!({"searches": {"bad label": {"names": ["x"]}}})).contains("label"));
        assert!(err(json!({"searches": {"s1": {}}})).contains("no check"));
        assert!(err(json!({"searches": {"s1": {"names": ["("]}}})).contains("names: invalid regex"));
        assert!(err(json!({"searches": {"s1": {"contents": [""]}}})).contains("empty values"));
        assert!(err(json!({"searches": {"s1": {"bytes": ["0xff"]}}})).contains("hexadecimal"));
        assert!(
            err(json!({"searches": {"s1": {"bytes": ["ff"], "options": {"offset": -1}}}}))
                .contains("options.offset")
        );
        assert!(validate(&params(json!({"searches": {"s1": {
            "names": ["sshd"], "libraries": ["libssl"], "bytes": ["00ff"], "contents": ["a.b"],
            "options": {"offset": 4096, "maxlength": 1e6, "logfailures": true, "matchall": true}
        }}})))
        .is_ok());
    }

    #[test]
    fn serializes_as_mig() {
        let s = Search {
            names: vec!["sshd".into()],
            options: Options {
                matchall: true,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"names":["sshd"],"options":{"matchall":true}}"#
        );
        assert_eq!(
            serde_json::to_string(&Search::default()).unwrap(),
            r#"{"options":{}}"#
        );
    }
}
