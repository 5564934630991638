//! Verifying detached signatures against a keyring, with our key and hash policy.

use crate::armor::decode_signature;
use crate::error::{PgpError, Result};
use crate::keyring::{hex_upper, Keyring};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::SignatureType;

/// SHA-1 collisions became practical (SHA-1 is a Shambles, 2020): data signatures made with
/// it from this date on are refused. Older ones can only belong to long-expired actions.
pub const SHA1_CUTOFF_UNIX: u32 = 1_577_836_800; // 2020-01-01T00:00:00Z

/// Who made a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The primary key's fingerprint, upper-case hex: what ACLs name.
    pub fingerprint: String,
    /// The key's primary user ID (`Name <email>`).
    pub user_id: String,
    /// The key ID of the (sub)key that made the signature.
    pub signing_key_id: String,
    /// Signature creation time, Unix seconds.
    pub created: u32,
    /// What the signature says, whatever its encoding: SHA-256 over the signer's fingerprint
    /// and the signature's hashed metadata (version, type, algorithms, hashed subpackets:
    /// creation time, salt notation…), the part the signature itself covers besides the data.
    /// Re-armoring, dropping the CRC, or editing the unhashed area (which anyone can do
    /// without the key) leaves it unchanged; only the signer can make a new one.
    pub meaning: [u8; 32],
}

impl Keyring {
    /// Verifies `signature` (MIG's one-line form or armored) over `data` at time `now`
    /// (Unix seconds): the maths, then the key policy (may sign, not expired, not revoked),
    /// then the hash policy.
    pub fn verify(&self, data: &[u8], signature: &str, now: i64) -> Result<Verified> {
        let detached = decode_signature(signature)?;
        let sig = &detached.signature;
        let Some((key, component)) = self.find_issuer(sig) else {
            let id = sig
                .issuer_key_id()
                .first()
                .map(|k| hex_upper(k.as_ref()))
                .or_else(|| {
                    sig.issuer_fingerprint()
                        .first()
                        .map(|f| hex_upper(f.as_bytes()))
                })
                .unwrap_or_else(|| "(none given)".into());
            return Err(PgpError::UnknownSigner { key_id: id });
        };
        let bad = || PgpError::BadSignature {
            fingerprint: key.fingerprint.clone(),
        };
        let math = match component {
            None => sig.verify(&key.cert.primary_key, data),
            Some(i) => sig.verify(&key.cert.public_subkeys[i].key, data),
        };
        math.map_err(|_| bad())?;

        let refuse = |reason: String| PgpError::SignaturePolicy {
            fingerprint: key.fingerprint.clone(),
            reason,
        };
        if !matches!(
            sig.typ(),
            Some(SignatureType::Binary) | Some(SignatureType::Text)
        ) {
            return Err(refuse(format!(
                "{:?} is not a document signature",
                sig.typ()
            )));
        }
        let created = sig.created().map(|t| t.as_secs()).unwrap_or(0);
        match sig.hash_alg() {
            Some(HashAlgorithm::Sha1) if created >= SHA1_CUTOFF_UNIX => {
                return Err(refuse(
                    "SHA-1 signatures made after 2019 are not accepted".into(),
                ));
            }
            Some(HashAlgorithm::Md5)
            | Some(HashAlgorithm::Ripemd160)
            | Some(HashAlgorithm::None)
            | None => {
                return Err(refuse(format!("weak or unknown hash {:?}", sig.hash_alg())));
            }
            _ => {}
        }
        let component_created = match component {
            None => key.primary.created,
            Some(i) => key.subkeys[i].created,
        };
        if created < component_created {
            return Err(refuse("the signature predates the key that made it".into()));
        }
        if let Some(exp) = sig.signature_expiration_time() {
            let exp = exp.as_secs() as u64;
            if exp > 0 && now as u64 > created as u64 + exp {
                return Err(refuse("the signature has expired".into()));
            }
        }
        key.check_usable(component, now)?;
        let signing_key_id = match component {
            None => key.primary.key_id.clone(),
            Some(i) => key.subkeys[i].key_id.clone(),
        };
        let meaning = signature_meaning(&key.fingerprint, sig)
            .map_err(|e| refuse(format!("the signature's metadata cannot be read: {e}")))?;
        Ok(Verified {
            fingerprint: key.fingerprint.clone(),
            user_id: key.user_id.clone(),
            signing_key_id,
            created,
            meaning,
        })
    }
}

/// See [`Verified::meaning`].
fn signature_meaning(
    fingerprint: &str,
    sig: &pgp::packet::Signature,
) -> std::result::Result<[u8; 32], String> {
    let config = sig
        .config()
        .ok_or_else(|| "unknown signature version".to_string())?;
    let mut hasher = HashAlgorithm::Sha256
        .new_hasher()
        .map_err(|e| e.to_string())?;
    digest::DynDigest::update(&mut *hasher, fingerprint.as_bytes());
    digest::DynDigest::update(&mut *hasher, b"\n");
    config
        .hash_signature_data(&mut hasher)
        .map_err(|e| e.to_string())?;
    let digest = digest::DynDigest::finalize(hasher);
    digest
        .as_ref()
        .try_into()
        .map_err(|_| "unexpected digest length".to_string())
}
