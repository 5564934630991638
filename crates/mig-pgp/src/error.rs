//! Errors of the OpenPGP layer, each saying what failed and for which key.

/// Why a keyring, signature or token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PgpError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not valid OpenPGP data: {detail}")]
    Malformed { what: String, detail: String },
    #[error("signature is malformed: {0}")]
    BadSignatureEncoding(String),
    #[error("unknown signer: key {key_id} is not in the keyring")]
    UnknownSigner { key_id: String },
    #[error("bad signature from key {fingerprint}: the signed text does not match")]
    BadSignature { fingerprint: String },
    #[error("key {fingerprint} may not be used: {reason}")]
    KeyPolicy { fingerprint: String, reason: String },
    #[error("signature from key {fingerprint} refused: {reason}")]
    SignaturePolicy { fingerprint: String, reason: String },
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("gpg failed: {0}")]
    Gpg(String),
    #[error("invalid authentication token: {0}")]
    Token(String),
}

pub type Result<T, E = PgpError> = std::result::Result<T, E>;

impl PgpError {
    pub(crate) fn malformed(what: impl Into<String>, detail: impl std::fmt::Display) -> PgpError {
        PgpError::Malformed {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
