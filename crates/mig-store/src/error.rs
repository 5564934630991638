/// Errors of the store: a database failure, or a request that cannot be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Config(String),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// Refused by the caller's policy (say, a rate limit), with the reason.
    #[error("{0}")]
    Refused(String),
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
