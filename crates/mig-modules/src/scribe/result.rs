//! scribe's `TestResult` (its JSON field names) and its three printed forms: the greppable
//! single lines (`SingleLineResults`), the human form (`String`) and JSON (`JSON`).

use super::document::Tag;
use mig_core::action::null_as_default;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
/// One test's outcome (scribe's `TestResult`).
pub(crate) struct TestResult {
    #[serde(default)]
    /// The test's id.
    pub testid: String,
    #[serde(default)]
    /// The test's name.
    pub name: String,
    #[serde(default)]
    /// The test's description.
    pub description: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// The test's tags.
    pub tags: Vec<Tag>,
    #[serde(default)]
    /// Whether the test could not be evaluated.
    pub iserror: bool,
    #[serde(default)]
    /// Why, when it could not.
    pub error: String,
    #[serde(default)]
    /// The test's result.
    pub masterresult: bool,
    #[serde(default)]
    /// Whether any of its values made it true.
    pub hastrueresults: bool,
    /// One per value the test looked at (scribe wrote `null` for none; we write `[]`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<SubResult>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
/// The result on one value the test looked at.
pub(crate) struct SubResult {
    #[serde(default)]
    /// Whether the value passed.
    pub result: bool,
    #[serde(default)]
    /// What the value is (a path, a package and version…).
    pub identifier: String,
}

fn mark(b: bool) -> &'static str {
    if b {
        "[true]"
    } else {
        "[false]"
    }
}

impl TestResult {
    /// `master [true] name:"…" id:"…" hastrue:true error:""`, then one `sub …` line per
    /// value.
    pub(crate) fn single_lines(&self) -> Vec<String> {
        let rs = if self.iserror {
            "[error]"
        } else {
            mark(self.masterresult)
        };
        let name = if self.name.is_empty() {
            &self.testid
        } else {
            &self.name
        };
        let mut lines = vec![format!(
            "master {rs} name:\"{name}\" id:\"{}\" hastrue:{} error:\"{}\"",
            self.testid, self.hastrueresults, self.error
        )];
        for r in &self.results {
            lines.push(format!(
                "sub {} name:\"{name}\" id:\"{}\" identifier:\"{}\"",
                mark(r.result),
                self.testid,
                r.identifier
            ));
        }
        lines
    }

    /// scribe's extended form; scribe joined these lines with `\n` into one string.
    pub(crate) fn human(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.name.is_empty() {
            lines.push(format!("result for \"{}\"", self.testid));
        } else {
            lines.push(format!("result for \"{}\" ({})", self.name, self.testid));
        }
        if !self.description.is_empty() {
            lines.push(format!("\tdescription: {}", self.description));
        }
        if self.masterresult {
            lines.push("\tmaster result: true".into());
        } else if self.hastrueresults {
            lines.push(
                "\tmaster result: false, has true results, failure caused by dependency".into(),
            );
        } else {
            lines.push("\tmaster result: false".into());
        }
        for t in &self.tags {
            lines.push(format!("\ttag: {}: {}", t.key, t.value));
        }
        if self.iserror {
            lines.push(format!("\t[error] error: {}", self.error));
        }
        for r in &self.results {
            lines.push(format!("\t[{}] identifier: \"{}\"", r.result, r.identifier));
        }
        lines
    }

    /// The result as one line of JSON, in Go's field order and with Go's HTML escaping.
    pub(crate) fn json(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        go_escape(&text)
    }
}

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 in strings; in JSON text they can
/// only occur inside strings, so replacing them everywhere is exact.
fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
