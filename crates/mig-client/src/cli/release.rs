//! `mig release manifest|verify`: a release folder's manifest (names, sizes, SHA-256s), and
//! the check that a folder is what the release key signed (docs/release.md).

use crate::exit;
use anyhow::Context;
use mig_pgp::release::{self, Manifest};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum ReleaseCommand {
    /// Write MANIFEST.json for every file of a release folder (release/sign then signs it).
    Manifest {
        /// The release folder.
        dir: PathBuf,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The commit it was built from.
        #[arg(long, default_value = "")]
        commit: String,
    },
    /// Check a release folder: the manifest is signed by a key of the keyring, and every file
    /// is the one it lists (and nothing else is there).
    Verify {
        /// The release folder.
        dir: PathBuf,
        /// The release keyring: an armored key file or a folder of them.
        #[arg(long)]
        keyring: PathBuf,
    },
}

pub fn run(cmd: ReleaseCommand) -> anyhow::Result<u8> {
    match cmd {
        ReleaseCommand::Manifest {
            dir,
            version,
            commit,
        } => {
            let m = Manifest::of_folder(&dir, &version, &commit)?;
            let path = dir.join(release::MANIFEST);
            let mut text = serde_json::to_vec_pretty(&m)?;
            text.push(b'\n');
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            for a in &m.artifacts {
                println!("{}  {:>12}  {}", a.sha256, a.size, a.name);
            }
            Ok(exit::FOUND)
        }
        ReleaseCommand::Verify { dir, keyring } => verify(&dir, &keyring),
    }
}

fn verify(dir: &Path, keyring: &Path) -> anyhow::Result<u8> {
    let ring = mig_pgp::Keyring::load(keyring)?;
    let now = chrono::Utc::now().timestamp();
    match release::verify_folder(dir, &ring, now) {
        Ok((m, signer)) => {
            println!(
                "{}: release {} ({} files) signed by {} ({})",
                dir.display(),
                m.version,
                m.artifacts.len(),
                signer.user_id,
                signer.fingerprint
            );
            Ok(exit::FOUND)
        }
        Err(e) => {
            eprintln!("mig: {}: refused: {e}", dir.display());
            Ok(exit::ERROR)
        }
    }
}
