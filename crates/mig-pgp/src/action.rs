//! The whole check an agent makes before running an action: valid, inside its validity window,
//! every signature good and from a key that may sign, and enough ACL weight for every module.

use crate::error::PgpError;
use crate::keyring::Keyring;
use crate::verify::Verified;
use mig_core::{Acl, AclError, Action, FieldError, GoTime, Grant};
use std::fmt;

/// An action that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedAction {
    /// Who signed, one per signature, in signature order.
    pub signers: Vec<Verified>,
    /// One grant per distinct module, when an ACL was given.
    pub grants: Vec<Grant>,
}

/// Why an action was refused. Displays as one line a person can act on.
#[derive(Debug)]
pub enum Refusal {
    /// The action breaks MIG's rules or is outside its validity window.
    Invalid(FieldError),
    /// A signature did not verify or was refused by the key or hash policy.
    Signature {
        /// Which of `pgpsignatures`.
        index: usize,
        /// What was wrong with it.
        error: PgpError,
    },
    /// The signatures were good but do not weigh enough: who signed is known.
    Acl {
        /// Which permission fell short, and by how much.
        error: AclError,
        /// Whose signatures verified.
        signers: Vec<Verified>,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(e) => write!(f, "invalid action: {e}"),
            Refusal::Signature { index, error } => write!(f, "pgpsignatures[{index}]: {error}"),
            Refusal::Acl { error, .. } => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// A short machine-readable kind, for logs and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Invalid(e) if e.field == "expireafter" && e.message.contains("expired") => {
                "expired"
            }
            Refusal::Invalid(e)
                if e.field == "validfrom" && e.message.contains("not valid before") =>
            {
                "not_yet_valid"
            }
            Refusal::Invalid(_) => "invalid",
            Refusal::Signature { .. } => "signature",
            Refusal::Acl { .. } => "acl",
        }
    }
}

/// How strictly to check the validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The action must be valid now: validfrom <= now <= expireafter (the agent's rule).
    Enforce,
    /// Only MIG's structural rules (inspecting old actions, `mig action verify --now`).
    Ignore,
}

/// Runs every check, in the order that gives the most useful error first.
pub fn verify_action(
    action: &Action,
    keyring: &Keyring,
    acl: Option<&Acl>,
    now: GoTime,
    window: Window,
) -> Result<VerifiedAction, Refusal> {
    action.validate_structure().map_err(Refusal::Invalid)?;
    if window == Window::Enforce {
        action.check_window(now).map_err(Refusal::Invalid)?;
    }
    let text = action.signing_text();
    let mut signers = Vec::with_capacity(action.pgpsignatures.len());
    for (index, sig) in action.pgpsignatures.iter().enumerate() {
        let v = keyring
            .verify(text.as_bytes(), sig, now.unix())
            .map_err(|error| Refusal::Signature { index, error })?;
        signers.push(v);
    }
    let mut grants = Vec::new();
    if let Some(acl) = acl {
        let fingerprints: Vec<String> = signers.iter().map(|s| s.fingerprint.clone()).collect();
        for module in action.modules() {
            match acl.check_module(module, &fingerprints) {
                Ok(grant) => grants.push(grant),
                Err(error) => return Err(Refusal::Acl { error, signers }),
            }
        }
    }
    Ok(VerifiedAction { signers, grants })
}
