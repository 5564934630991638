//! `mig action …`: working with action files.

use crate::exit;
use anyhow::{Context, Result};
use clap::Subcommand;
use mig_core::{Acl, Action, GoTime};
use mig_pgp::{verify_action, Keyring, Window};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ActionCommand {
    /// Check an action file as an agent would: validity, signatures, ACL weights.
    Verify {
        /// A keyring file or a directory of armored public keys.
        #[arg(long)]
        keyring: PathBuf,
        /// An ACL file (MIG's JSON) to check the signers' weights against.
        #[arg(long)]
        acl: Option<PathBuf>,
        /// Check as if the clock said this time (RFC 3339), e.g. for old actions.
        #[arg(long)]
        now: Option<String>,
        /// The action file.
        action: PathBuf,
    },
}

pub fn run(cmd: ActionCommand) -> Result<u8> {
    match cmd {
        ActionCommand::Verify {
            keyring,
            acl,
            now,
            action,
        } => verify(&keyring, acl.as_deref(), now.as_deref(), &action),
    }
}

fn verify(
    keyring: &std::path::Path,
    acl: Option<&std::path::Path>,
    now: Option<&str>,
    file: &std::path::Path,
) -> Result<u8> {
    let now = match now {
        Some(t) => {
            GoTime::parse(t).with_context(|| format!("--now {t:?} is not an RFC 3339 time"))?
        }
        None => GoTime::now(),
    };
    let keyring = Keyring::load(keyring)?;
    let acl = match acl {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read ACL {}", path.display()))?;
            Some(Acl::from_json(&bytes).with_context(|| format!("ACL {}", path.display()))?)
        }
        None => None,
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let action = match Action::from_json(&bytes) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("refused: {}: {e}", file.display());
            return Ok(exit::NOT_FOUND);
        }
    };
    match verify_action(&action, &keyring, acl.as_ref(), now, Window::Enforce) {
        Ok(verified) => {
            println!("valid: action {:?}", action.name);
            for s in &verified.signers {
                println!("  signed by {} ({})", s.user_id, s.fingerprint);
            }
            for g in &verified.grants {
                println!(
                    "  ACL permission '{}': weight {} >= {} ({})",
                    g.permission,
                    g.weight,
                    g.minimum,
                    g.signers.join(", ")
                );
            }
            Ok(exit::FOUND)
        }
        Err(refusal) => {
            eprintln!("refused: {refusal}");
            Ok(exit::NOT_FOUND)
        }
    }
}
