//! A scribe document as JSON, with scribe's field names (`variables`, `objects`, `tests`).
//!
//! These types only carry the text; `model.rs` checks it and builds what runs. Go's encoder
//! writes every struct-typed field even when empty (`"filecontent": {}`), so an object kind
//! or an evaluator equal to its default counts as absent, as it does in scribe. Unknown
//! fields are refused, so that a misspelt key (`"expresion"`) is an error rather than a
//! check that silently tests nothing.

use mig_core::action::null_as_default;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub variables: Vec<Variable>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub objects: Vec<Object>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tests: Vec<Test>,
}

/// `${key}` in object paths, file names and package names is replaced by `value`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Where a test's values come from. Exactly one kind is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Object {
    #[serde(default)]
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filecontent: Option<FileContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<FileName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Raw>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hasline: Option<HasLine>,
}

/// The capture groups of `expression` on each line of the files under `path` whose name
/// matches the regex `file`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileContent {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
    /// Joins a file's values into one, with this text between them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub concat: String,
    /// Objects (with `${chain_root}` in their path) run again for each matching file.
    #[serde(
        rename = "import-chain",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub import_chain: Vec<String>,
}

/// The first capture group of the regex `file` on the names of the files under `path`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileName {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
}

/// The versions of the installed packages called `name` (or whose name matches
/// `collectmatch`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Package {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub collectmatch: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub onlynewest: bool,
}

/// Values written in the document itself.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub identifiers: Vec<RawIdentifier>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawIdentifier {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identifier: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// `"true"` or `"false"` for each file under `path` whose name matches `file`: whether a
/// line matches `expression`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HasLine {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
}

/// A check on an object's values (or, our extension, a boolean expression over other tests).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Test {
    #[serde(rename = "test", default)]
    pub test: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evr: Option<EvrTest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<ValueTest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exactmatch: Option<ValueTest>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<Tag>,
    /// Tests that must all be true for this one to be true.
    #[serde(
        rename = "if",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub if_: Vec<String>,
    /// Our extension: `(((test1 and test2) or test3) and not test4)` over other tests'
    /// results, instead of an object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
    /// scribe's self-test hooks; carried, not used (MIG does not use them either).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expectedresult: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expecterror: bool,
}

/// A version comparison: `<`, `>` or `=` against `value`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvrTest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// `regexp` and `exactmatch` take one value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValueTest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}
