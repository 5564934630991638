//! What a module returns for one operation (MIG's `modules.Result`).

use crate::action::null_as_default;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The outcome of one operation on one agent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ModuleResult {
    /// Whether the module found what it was asked to look for.
    #[serde(default)]
    pub foundanything: bool,
    /// Whether the module ran to the end without failing.
    #[serde(default)]
    pub success: bool,
    /// Module-specific findings.
    #[serde(default)]
    pub elements: Value,
    /// Module-specific counters (files scanned, time taken…).
    #[serde(default)]
    pub statistics: Value,
    /// What went wrong, one message per problem; a successful run may still report some.
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<String>,
}

impl ModuleResult {
    /// A failed result carrying one error, for failures outside the module itself
    /// (refused action, timeout, crash).
    pub fn failure(error: impl Into<String>) -> ModuleResult {
        ModuleResult {
            foundanything: false,
            success: false,
            elements: Value::Null,
            statistics: Value::Null,
            errors: vec![error.into()],
        }
    }
}
