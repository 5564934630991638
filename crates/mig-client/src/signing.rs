//! The investigator's signer, from the configuration: a key file, or GnuPG.

use crate::config::Config;
use anyhow::Context;
use mig_pgp::{GpgSigner, KeySigner, Signer};

/// The signer the configuration names: a key file (with its passphrase from the environment) or GnuPG.
pub fn signer(config: &Config) -> anyhow::Result<Box<dyn Signer>> {
    let s = &config.signing;
    if let Some(key) = &s.gpg_key {
        return Ok(Box::new(GpgSigner::new(key, s.gpg_home.as_deref())?));
    }
    if let Some(path) = &s.key_file {
        let passphrase = match &s.passphrase_env {
            Some(var) => Some(
                std::env::var(var)
                    .with_context(|| format!("signing.passphrase_env: ${var} is not set"))?,
            ),
            None => None,
        };
        return Ok(Box::new(KeySigner::from_file(path, passphrase.as_deref())?));
    }
    anyhow::bail!("no signing key configured: set signing.key_file or signing.gpg_key")
}
