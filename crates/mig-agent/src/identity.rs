//! The agent's identity: a random id, an ed25519 key pair (0600 in the state directory, proven
//! to the relay at every connection and pinned by the server), and MIG's queueloc
//! `<os>.<hostname>.<random>`. Created on first start, kept across restarts.

use anyhow::Context;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Identity {
    pub id: u64,
    pub queueloc: String,
    #[serde(skip)]
    pub key: Option<SigningKey>,
}

impl Identity {
    pub fn key(&self) -> &SigningKey {
        // Always set by `load_or_create`.
        self.key.as_ref().expect("identity key loaded")
    }

    /// The public key as the server pins it (base64 of the 32 bytes).
    pub fn public_key_base64(&self) -> String {
        mig_relay::protocol::public_key_base64(self.key())
    }
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..16)
        .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
        .collect()
}

pub fn load_or_create(state_dir: &Path, os: &str, hostname: &str) -> anyhow::Result<Identity> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let id_path = state_dir.join("identity.json");
    let key_path = state_dir.join("identity.key");
    if id_path.exists() && key_path.exists() {
        let mut ident: Identity = serde_json::from_slice(&std::fs::read(&id_path)?)
            .with_context(|| format!("{} is corrupt", id_path.display()))?;
        let hex = std::fs::read_to_string(&key_path)?;
        let seed = decode_hex32(hex.trim())
            .with_context(|| format!("{} is corrupt", key_path.display()))?;
        ident.key = Some(SigningKey::from_bytes(&seed));
        return Ok(ident);
    }
    let seed: [u8; 32] = rand::random();
    let ident = Identity {
        id: mig_core::id::generate(),
        queueloc: format!("{os}.{hostname}.{}", random_suffix()),
        key: Some(SigningKey::from_bytes(&seed)),
    };
    write_private(
        &key_path,
        seed.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .as_bytes(),
    )?;
    write_private(&id_path, &serde_json::to_vec_pretty(&ident)?)?;
    Ok(ident)
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn decode_hex32(s: &str) -> anyhow::Result<[u8; 32]> {
    anyhow::ensure!(s.len() == 64, "expected 64 hex digits");
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn survives_restarts_and_is_private() {
        let d = tempfile::tempdir().unwrap();
        let a = load_or_create(d.path(), "linux", "host").unwrap();
        assert!(a.queueloc.starts_with("linux.host."));
        let b = load_or_create(d.path(), "linux", "host").unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.queueloc, b.queueloc);
        assert_eq!(a.key().to_bytes(), b.key().to_bytes());
        let mode = std::fs::metadata(d.path().join("identity.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
