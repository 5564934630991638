//! Errors of the protocol layer. Each names what was wrong so that a person can fix it.

use std::fmt;

/// A value that is present but wrong: which field, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// A path to the field, such as `operations[0].module`.
    pub field: String,
    /// What is wrong with it, or what was expected.
    pub message: String,
}

impl FieldError {
    /// The error for `field`, saying `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// A document that could not be decoded at all.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not JSON, or the document as a whole has the wrong shape.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// One field has the wrong type or value.
    #[error("{path}: {message}")]
    Field {
        /// A path to the field, such as `operations[0].module`.
        path: String,
        /// The decoder's complaint.
        message: String,
    },
}

impl ParseError {
    pub(crate) fn json(e: serde_json::Error) -> ParseError {
        ParseError::Syntax(e.to_string())
    }

    pub(crate) fn path(e: serde_path_to_error::Error<serde_json::Error>) -> ParseError {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ParseError::Syntax(inner.to_string())
        } else {
            ParseError::Field {
                path,
                message: inner.to_string(),
            }
        }
    }
}
