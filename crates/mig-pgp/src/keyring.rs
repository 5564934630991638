//! Keyrings of investigators' public keys, and the key policy rPGP leaves to its callers.
//!
//! rPGP checks signature mathematics only. Before a key may vouch for an action we also check,
//! from the key's own verified self-signatures: that the key (or subkey) is allowed to sign,
//! that it has not expired, and that it has not been revoked. Self-signatures that do not
//! verify are ignored, so a forged "this subkey may sign" binding grants nothing.

use crate::error::{PgpError, Result};
use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::{Signature, SignatureType, SubpacketData};
use pgp::types::{KeyDetails, PublicParams};
use std::path::Path;

/// Keyring files larger than this are refused.
const MAX_KEYRING_FILE: u64 = 16 << 20;

/// A set of public keys that may sign actions.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<PublicKey>,
}

/// One investigator's certificate, with what its self-signatures say.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub(crate) cert: SignedPublicKey,
    /// Upper-case hex fingerprint of the primary key.
    pub fingerprint: String,
    /// The primary user ID ("Name <email>"), or the first one.
    pub user_id: String,
    /// Where the key was loaded from.
    pub source: String,
    pub(crate) primary: Component,
    /// Parallel to `cert.public_subkeys`.
    pub(crate) subkeys: Vec<Component>,
    /// Why the whole key is revoked, if a verified revocation says so.
    pub(crate) revoked: Option<String>,
}

/// What the latest valid binding says about one key or subkey.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub key_id: String,
    pub fingerprint: String,
    pub created: u32,
    /// Unix time after which the component is expired.
    pub expires: Option<u64>,
    pub can_sign: bool,
    /// No valid binding signature at all: the subkey is not part of the key.
    pub bound: bool,
    pub revoked: Option<String>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Loads a keyring from a file (armored or binary, one or many keys) or from every file
    /// in a directory (hidden files skipped).
    pub fn load(path: &Path) -> Result<Keyring> {
        let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
        let mut ring = Keyring::new();
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| io_err(path, e))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            entries.sort();
            for file in entries {
                ring.load_file(&file)?;
            }
        } else {
            ring.load_file(path)?;
        }
        Ok(ring)
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let size = std::fs::metadata(path).map_err(|e| io_err(path, e))?.len();
        if size > MAX_KEYRING_FILE {
            return Err(PgpError::malformed(
                path.display().to_string(),
                format!("{size} bytes is larger than a keyring may be"),
            ));
        }
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        self.add_bytes(&data, &path.display().to_string())
    }

    /// Adds every public key found in `data` (armored or binary).
    pub fn add_bytes(&mut self, data: &[u8], source: &str) -> Result<()> {
        let (certs, _) =
            SignedPublicKey::from_reader_many(data).map_err(|e| PgpError::malformed(source, e))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| PgpError::malformed(source, e))?;
            self.add(cert, source);
            added += 1;
        }
        if added == 0 {
            return Err(PgpError::malformed(source, "no public key found"));
        }
        Ok(())
    }

    /// Adds one certificate; a key already present (same fingerprint) is replaced.
    pub fn add(&mut self, cert: SignedPublicKey, source: &str) {
        let key = PublicKey::new(cert, source);
        self.keys.retain(|k| k.fingerprint != key.fingerprint);
        self.keys.push(key);
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Its keys, in the order they were added.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter()
    }

    /// The key with this primary fingerprint (any case, spaces ignored).
    pub fn get(&self, fingerprint: &str) -> Option<&PublicKey> {
        let wanted: String = fingerprint
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        self.keys.iter().find(|k| k.fingerprint == wanted)
    }

    /// Finds the key and component (None = primary, Some(i) = subkey i) that issued `sig`.
    pub(crate) fn find_issuer(&self, sig: &Signature) -> Option<(&PublicKey, Option<usize>)> {
        let ids: Vec<String> = sig
            .issuer_key_id()
            .iter()
            .map(|k| hex_upper(k.as_ref()))
            .collect();
        let fps: Vec<String> = sig
            .issuer_fingerprint()
            .iter()
            .map(|f| hex_upper(f.as_bytes()))
            .collect();
        let matches = |c: &Component| ids.contains(&c.key_id) || fps.contains(&c.fingerprint);
        for key in &self.keys {
            if matches(&key.primary) {
                return Some((key, None));
            }
            if let Some(i) = key.subkeys.iter().position(matches) {
                return Some((key, Some(i)));
            }
        }
        None
    }
}

impl PublicKey {
    fn new(cert: SignedPublicKey, source: &str) -> PublicKey {
        let fingerprint = hex_upper(cert.fingerprint().as_bytes());
        let user_id = cert
            .details
            .users
            .iter()
            .find(|u| u.is_primary())
            .or_else(|| cert.details.users.first())
            .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
            .unwrap_or_default();
        let primary = primary_component(&cert);
        let subkeys = cert
            .public_subkeys
            .iter()
            .map(|sub| {
                let mut c = Component::unbound(
                    sub.key.legacy_key_id().as_ref(),
                    sub.key.fingerprint().as_bytes(),
                    sub.key.created_at().as_secs(),
                );
                let mut latest: Option<&Signature> = None;
                for sig in &sub.signatures {
                    if sig
                        .verify_subkey_binding(&cert.primary_key, &sub.key)
                        .is_err()
                    {
                        continue;
                    }
                    match sig.typ() {
                        Some(SignatureType::SubkeyRevocation) => {
                            c.revoked = Some(revocation_text(sig));
                        }
                        Some(SignatureType::SubkeyBinding) => {
                            // A signing subkey must prove it agreed to the binding (back-signature).
                            if sig.key_flags().sign() {
                                let backsig_ok = sig.embedded_signature().is_some_and(|b| {
                                    b.verify_primary_key_binding(&sub.key, &cert.primary_key)
                                        .is_ok()
                                });
                                if !backsig_ok {
                                    continue;
                                }
                            }
                            if latest.is_none_or(|l| created(sig) >= created(l)) {
                                latest = Some(sig);
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(sig) = latest {
                    c.bound = true;
                    c.can_sign = sig.key_flags().sign();
                    c.expires = expiry(c.created, sig);
                }
                c
            })
            .collect();
        let revoked = cert
            .details
            .revocation_signatures
            .iter()
            .find(|sig| {
                sig.typ() == Some(SignatureType::KeyRevocation)
                    && sig.verify_key(&cert.primary_key).is_ok()
            })
            .map(revocation_text);
        PublicKey {
            fingerprint,
            user_id,
            source: source.to_string(),
            primary,
            subkeys,
            revoked,
            cert,
        }
    }

    /// Checks that the component may make a signature at `now` (Unix seconds).
    pub(crate) fn check_usable(&self, component: Option<usize>, now: i64) -> Result<()> {
        let refuse = |reason: String| PgpError::KeyPolicy {
            fingerprint: self.fingerprint.clone(),
            reason,
        };
        if let Some(reason) = &self.revoked {
            return Err(refuse(format!("the key is revoked ({reason})")));
        }
        if let Some(exp) = self.primary.expires {
            if now as u64 > exp {
                return Err(refuse(format!("the key expired at {}", unix_to_text(exp))));
            }
        }
        let c = match component {
            None => &self.primary,
            Some(i) => &self.subkeys[i],
        };
        let which = match component {
            None => "the primary key".to_string(),
            Some(_) => format!("subkey {}", c.key_id),
        };
        if !c.bound {
            return Err(refuse(format!("{which} has no valid binding signature")));
        }
        if let Some(reason) = &c.revoked {
            return Err(refuse(format!("{which} is revoked ({reason})")));
        }
        if !c.can_sign {
            return Err(refuse(format!(
                "{which} is not allowed to sign (key flags)"
            )));
        }
        if let Some(exp) = c.expires {
            if now as u64 > exp {
                return Err(refuse(format!("{which} expired at {}", unix_to_text(exp))));
            }
        }
        Ok(())
    }

    /// The key itself, as rPGP reads it.
    pub fn cert(&self) -> &SignedPublicKey {
        &self.cert
    }
}

impl Component {
    fn unbound(key_id: &[u8], fingerprint: &[u8], created: u32) -> Component {
        Component {
            key_id: hex_upper(key_id),
            fingerprint: hex_upper(fingerprint),
            created,
            expires: None,
            can_sign: false,
            bound: false,
            revoked: None,
        }
    }
}

/// The primary key's capabilities come from its newest valid self-signature: a direct-key
/// signature or a certification of one of its user IDs.
fn primary_component(cert: &SignedPublicKey) -> Component {
    let pk = &cert.primary_key;
    let mut c = Component::unbound(
        pk.legacy_key_id().as_ref(),
        pk.fingerprint().as_bytes(),
        pk.created_at().as_secs(),
    );
    let direct = cert
        .details
        .direct_signatures
        .iter()
        .filter(|s| s.verify_key(pk).is_ok());
    let certifications = cert.details.users.iter().flat_map(|u| {
        u.signatures.iter().filter(move |s| {
            s.is_certification()
                && s.verify_certification(pk, pgp::types::Tag::UserId, &u.id)
                    .is_ok()
        })
    });
    let latest = direct.chain(certifications).max_by_key(|s| created(s));
    if let Some(sig) = latest {
        c.bound = true;
        c.can_sign = if has_key_flags(sig) {
            sig.key_flags().sign()
        } else {
            // Keys from before key flags existed: any signing algorithm may sign.
            is_signing_algorithm(pk.public_params())
        };
        c.expires = expiry(c.created, sig);
    }
    c
}

fn has_key_flags(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    })
}

fn is_signing_algorithm(params: &PublicParams) -> bool {
    !matches!(
        params,
        PublicParams::ECDH(_)
            | PublicParams::Elgamal(_)
            | PublicParams::X25519(_)
            | PublicParams::X448(_)
    )
}

fn created(sig: &Signature) -> u32 {
    sig.created().map(|t| t.as_secs()).unwrap_or(0)
}

fn expiry(key_created: u32, sig: &Signature) -> Option<u64> {
    match sig.key_expiration_time() {
        Some(d) if d.as_secs() > 0 => Some(key_created as u64 + d.as_secs() as u64),
        _ => None,
    }
}

fn revocation_text(sig: &Signature) -> String {
    let reason = sig
        .revocation_reason_string()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .filter(|s| !s.is_empty());
    match (sig.revocation_reason_code(), reason) {
        (Some(code), Some(r)) => format!("{code:?}: {r}"),
        (Some(code), None) => format!("{code:?}"),
        (None, Some(r)) => r,
        (None, None) => "no reason given".into(),
    }
}

pub(crate) fn unix_to_text(secs: u64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

fn io_err(path: &Path, source: std::io::Error) -> PgpError {
    PgpError::Io {
        path: path.display().to_string(),
        source,
    }
}
