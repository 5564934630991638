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
/// A scribe document: variables, objects (what to look at) and tests (what to check).
pub(crate) struct Document {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Values substituted for `${key}` in objects.
    pub variables: Vec<Variable>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// What to collect: file contents, file names, packages, raw values.
    pub objects: Vec<Object>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// What to check on the objects' values.
    pub tests: Vec<Test>,
}

/// `${key}` in object paths, file names and package names is replaced by `value`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Variable {
    #[serde(default)]
    /// The variable's name.
    pub key: String,
    #[serde(default)]
    /// Its value.
    pub value: String,
}

/// Where a test's values come from. Exactly one kind is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Object {
    #[serde(default)]
    /// The object's name, which tests refer to.
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Lines of files matching a regex.
    pub filecontent: Option<FileContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Names of files matching a regex.
    pub filename: Option<FileName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Installed packages by name.
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Values given in the document.
    pub raw: Option<Raw>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Files that have a line matching a regex.
    pub hasline: Option<HasLine>,
}

/// The capture groups of `expression` on each line of the files under `path` whose name
/// matches the regex `file`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileContent {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// Where to look.
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A regex on file names.
    pub file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A regex on lines; its capture groups are the values.
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
pub(crate) struct FileName {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// Where to look.
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A regex on file names; its capture groups are the values.
    pub file: String,
}

/// The versions of the installed packages called `name` (or whose name matches
/// `collectmatch`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Package {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The package's name (or a regex, with `collectmatch`).
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A regex on package names, collecting every match.
    pub collectmatch: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Keep only the newest version of each package.
    pub onlynewest: bool,
}

/// Values written in the document itself.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// The values.
    pub identifiers: Vec<RawIdentifier>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
/// A value given in the document.
pub(crate) struct RawIdentifier {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// What the value is called in results.
    pub identifier: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The value.
    pub value: String,
}

/// `"true"` or `"false"` for each file under `path` whose name matches `file`: whether a
/// line matches `expression`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct HasLine {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// Where to look.
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A regex on file names.
    pub file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A regex a line must match.
    pub expression: String,
}

/// A check on an object's values (or, our extension, a boolean expression over other tests).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Test {
    #[serde(rename = "test", default)]
    /// The test's id, which expressions and results use.
    pub test: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// A name for people.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The object whose values the test checks.
    pub object: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// What the test is about.
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A version comparison (EVR: epoch, version, release).
    pub evr: Option<EvrTest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A regex the values must match.
    pub regexp: Option<ValueTest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A value the values must equal.
    pub exactmatch: Option<ValueTest>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    /// Free key/value tags, echoed in results.
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
    /// The test is expected to fail with an error (scribe's own tests).
    pub expecterror: bool,
}

/// A version comparison: `<`, `>` or `=` against `value`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvrTest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The comparison: `<`, `>`, `=`.
    pub operation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The version compared with.
    pub value: String,
}

/// `regexp` and `exactmatch` take one value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValueTest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The regex or the exact value.
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
/// A key/value tag on a test.
pub(crate) struct Tag {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The tag's key.
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The tag's value.
    pub value: String,
}
