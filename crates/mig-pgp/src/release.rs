//! Release manifests: what a release holds (each artifact's name, size and SHA-256), signed
//! with a detached OpenPGP signature by a release key that CI never holds (docs/release.md).
//! `mig release verify` checks a release folder against it; agents configured with a release
//! keyring install an upgrade only if its binary is in a manifest signed by that keyring,
//! beside the investigators' signed checksum.

use crate::{Keyring, PgpError, Verified};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The manifest's file name in a release folder.
pub const MANIFEST: &str = "MANIFEST.json";
/// Its detached, armored signature.
pub const SIGNATURE: &str = "MANIFEST.json.asc";

/// What a release holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The release's version.
    pub version: String,
    /// The source commit it was built from.
    #[serde(default)]
    pub commit: String,
    /// Every artifact, by name.
    pub artifacts: Vec<Artifact>,
}

/// One file of a release.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its file name in the release folder.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// Why a release (or a file of it) is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The signature does not verify against the release keyring.
    #[error("the manifest's signature is not accepted: {0}")]
    Signature(#[source] PgpError),
    /// The manifest is not a manifest.
    #[error("the manifest is unreadable: {0}")]
    Unreadable(String),
    /// A file the manifest lists is missing, or one it does not list is named.
    #[error("{0} is not in the signed manifest")]
    NotListed(String),
    /// A file's hash is not the signed one.
    #[error("{name}: its SHA-256 is {actual}, the signed manifest says {expected}")]
    HashMismatch {
        /// The artifact.
        name: String,
        /// What the manifest says.
        expected: String,
        /// What the file has.
        actual: String,
    },
    /// A file of the folder could not be read.
    #[error("cannot read {path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
}

impl Manifest {
    /// The manifest of every file in `dir` (but the manifest and its signature), in name order.
    pub fn of_folder(dir: &Path, version: &str, commit: &str) -> Result<Manifest, ReleaseError> {
        let mut artifacts = Vec::new();
        for name in artifact_names(dir)? {
            let data = read(&dir.join(&name))?;
            artifacts.push(Artifact {
                sha256: sha256_hex(&data),
                size: data.len() as u64,
                name,
            });
        }
        Ok(Manifest {
            version: version.to_string(),
            commit: commit.to_string(),
            artifacts,
        })
    }

    /// The artifact called `name`, which must have SHA-256 `sha256`.
    pub fn artifact(&self, name: &str, sha256: &str) -> Result<&Artifact, ReleaseError> {
        let a = self
            .artifacts
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| ReleaseError::NotListed(name.to_string()))?;
        if !a.sha256.eq_ignore_ascii_case(sha256) {
            return Err(ReleaseError::HashMismatch {
                name: name.to_string(),
                expected: a.sha256.clone(),
                actual: sha256.to_lowercase(),
            });
        }
        Ok(a)
    }
}

/// Verifies a manifest's signature against the release keyring at `now` (Unix seconds) and
/// reads it.
pub fn verify_manifest(
    manifest: &[u8],
    signature: &str,
    keyring: &Keyring,
    now: i64,
) -> Result<(Manifest, Verified), ReleaseError> {
    let signer = keyring
        .verify(manifest, signature, now)
        .map_err(ReleaseError::Signature)?;
    let parsed: Manifest =
        serde_json::from_slice(manifest).map_err(|e| ReleaseError::Unreadable(e.to_string()))?;
    Ok((parsed, signer))
}

/// Checks a release folder: the manifest is signed by the keyring, every file it lists is
/// there with its hash, and the folder holds nothing it does not list.
pub fn verify_folder(
    dir: &Path,
    keyring: &Keyring,
    now: i64,
) -> Result<(Manifest, Verified), ReleaseError> {
    let manifest = read(&dir.join(MANIFEST))?;
    let signature = read(&dir.join(SIGNATURE))?;
    let (m, signer) = verify_manifest(
        &manifest,
        &String::from_utf8_lossy(&signature),
        keyring,
        now,
    )?;
    for a in &m.artifacts {
        let data = read(&dir.join(&a.name))?;
        m.artifact(&a.name, &sha256_hex(&data))?;
    }
    for name in artifact_names(dir)? {
        if !m.artifacts.iter().any(|a| a.name == name) {
            return Err(ReleaseError::NotListed(name));
        }
    }
    Ok((m, signer))
}

fn artifact_names(dir: &Path) -> Result<Vec<String>, ReleaseError> {
    let io = |e: std::io::Error| ReleaseError::Io {
        path: dir.display().to_string(),
        detail: e.to_string(),
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MANIFEST || name == SIGNATURE || !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn read(path: &Path) -> Result<Vec<u8>, ReleaseError> {
    std::fs::read(path).map_err(|e| ReleaseError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keygen::{generate_key, KeyAlgorithm};
    use crate::{KeySigner, Signer};

    fn signed_folder() -> (tempfile::TempDir, Keyring, KeySigner) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mig-agent-linux-amd64"), b"agent").unwrap();
        std::fs::write(dir.path().join("mig_1.0_amd64.deb"), b"deb").unwrap();
        let m = Manifest::of_folder(dir.path(), "1.0", "abc").unwrap();
        let text = serde_json::to_vec_pretty(&m).unwrap();
        std::fs::write(dir.path().join(MANIFEST), &text).unwrap();
        let key = generate_key(
            "Release <release@example.com>",
            KeyAlgorithm::Ed25519,
            false,
        )
        .unwrap();
        let signer = KeySigner::new(key, None).unwrap();
        let sig = signer.sign(&text).unwrap();
        std::fs::write(dir.path().join(SIGNATURE), sig).unwrap();
        let mut ring = Keyring::new();
        ring.add_bytes(signer.public_key_armored().unwrap().as_bytes(), "release")
            .unwrap();
        (dir, ring, signer)
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_signed_folder_verifies() {
        let (dir, ring, _) = signed_folder();
        let (m, _) = verify_folder(dir.path(), &ring, now()).unwrap();
        assert_eq!(m.artifacts.len(), 2);
    }

    #[test]
    fn tampering_is_refused_with_the_reason() {
        let (dir, ring, _) = signed_folder();
        std::fs::write(dir.path().join("mig-agent-linux-amd64"), b"evil").unwrap();
        let e = verify_folder(dir.path(), &ring, now()).unwrap_err();
        assert!(matches!(e, ReleaseError::HashMismatch { .. }), "{e}");

        let (dir, ring, _) = signed_folder();
        std::fs::write(dir.path().join("extra"), b"x").unwrap();
        let e = verify_folder(dir.path(), &ring, now()).unwrap_err();
        assert!(
            e.to_string()
                .contains("extra is not in the signed manifest"),
            "{e}"
        );

        let (dir, ring, _) = signed_folder();
        let mut text = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        text = text.replace("\"1.0\"", "\"9.9\"");
        std::fs::write(dir.path().join(MANIFEST), text).unwrap();
        let e = verify_folder(dir.path(), &ring, now()).unwrap_err();
        assert!(matches!(e, ReleaseError::Signature(_)), "{e}");

        // Signed by a key the release keyring does not hold.
        let (dir, _, _) = signed_folder();
        let (_, other_ring, _) = signed_folder();
        let e = verify_folder(dir.path(), &other_ring, now()).unwrap_err();
        assert!(e.to_string().contains("unknown signer"), "{e}");
    }
}
