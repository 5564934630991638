/// Errors of the store: a database failure, or a request that cannot be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed, could not be reached, or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database cannot be used: an unknown URL scheme, a damaged SQLite file, a
    /// connection that cannot be opened, a migration that failed.
    #[error("{0}")]
    Config(String),
    /// The row asked for does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for: `action`, `agent`, `command`, `investigator`.
        what: &'static str,
        /// The ID it was looked for by.
        id: String,
    },
    /// The request contradicts what is stored (an action already finished, a fingerprint
    /// already registered, a queueloc pinned to another key) or names no valid permission.
    #[error("{0}")]
    Conflict(String),
    /// Refused by the caller's policy (say, a rate limit), with the reason.
    #[error("{0}")]
    Refused(String),
    /// A stored JSON field (an action, an agent's environment or tags, results) cannot be
    /// decoded, or a value cannot be encoded to be stored.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database answered and refused the statement (an expression too deep, a value out
    /// of range…): the request is at fault, not the connection, and retrying will not help.
    pub fn is_refused_statement(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::Database(_)) | StoreError::Corrupt(_)
        )
    }
}
