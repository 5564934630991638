//! Errors of the OpenPGP layer, each saying what failed and for which key.

/// Why a keyring, signature or token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PgpError {
    /// A key file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Bytes that should have been OpenPGP data are not.
    #[error("{what} is not valid OpenPGP data: {detail}")]
    Malformed {
        /// What was being read (a key file, a signature).
        what: String,
        /// The parser's complaint.
        detail: String,
    },
    /// A signature's text is neither MIG's one-line form nor armored.
    #[error("signature is malformed: {0}")]
    BadSignatureEncoding(String),
    /// The signature names a key the keyring does not have.
    #[error("unknown signer: key {key_id} is not in the keyring")]
    UnknownSigner {
        /// The issuer the signature names.
        key_id: String,
    },
    /// The maths failed: the signed text is not what the key signed.
    #[error("bad signature from key {fingerprint}: the signed text does not match")]
    BadSignature {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// The key may not sign now (expired, revoked, no signing flag).
    #[error("key {fingerprint} may not be used: {reason}")]
    KeyPolicy {
        /// The key's fingerprint.
        fingerprint: String,
        /// Why not.
        reason: String,
    },
    /// The signature itself is refused (weak hash, expired, not a document signature).
    #[error("signature from key {fingerprint} refused: {reason}")]
    SignaturePolicy {
        /// The key's fingerprint.
        fingerprint: String,
        /// Why.
        reason: String,
    },
    /// Making a signature failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// `gpg` failed or said something unexpected.
    #[error("gpg failed: {0}")]
    Gpg(String),
    /// An API token is malformed or out of its window.
    #[error("invalid authentication token: {0}")]
    Token(String),
}

/// The OpenPGP layer's results.
pub type Result<T, E = PgpError> = std::result::Result<T, E>;

impl PgpError {
    pub(crate) fn malformed(what: impl Into<String>, detail: impl std::fmt::Display) -> PgpError {
        PgpError::Malformed {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
