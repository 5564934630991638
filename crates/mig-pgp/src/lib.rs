//! OpenPGP for MIG.
//!
//! * [`Keyring`]: investigators' public keys, loaded from armored or binary files or a directory.
//! * [`Keyring::verify`]: detached signatures in MIG's one-line form (or armored), with the
//!   key policy rPGP leaves to callers: may-sign flags, expiry, revocation, weak hashes.
//! * [`Signer`]: signing from a secret key file ([`KeySigner`]) or through `gpg` ([`GpgSigner`]).
//! * [`token`]: MIG's `X-PGPAUTHORIZATION` API token.
//! * [`release`]: signed release manifests.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod action;
pub mod armor;
pub mod error;
pub mod keygen;
pub mod keyring;
pub mod release;
pub mod sign;
pub mod token;
pub mod verify;

pub use action::{verify_action, Refusal, VerifiedAction, Window};
pub use error::{PgpError, Result};
pub use keyring::{Keyring, PublicKey};
pub use sign::{GpgSigner, KeySigner, Signer};
pub use verify::Verified;
