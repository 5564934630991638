//! Key generation for development setups and tests (`mig-server dev`, investigators who have
//! no key yet). Ed25519 keys use the legacy (RFC 4880bis) encoding that GnuPG 2.2 reads.

use crate::error::{PgpError, Result};
use pgp::composed::{
    EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedSecretKey, SubkeyParamsBuilder,
};

/// Which algorithm to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519, in the legacy encoding GnuPG 2.2 reads.
    Ed25519,
    /// RSA of this many bits.
    Rsa(u32),
}

/// Generates a certifying-and-signing primary key, with an optional separate signing subkey.
pub fn generate_key(
    user_id: &str,
    algorithm: KeyAlgorithm,
    signing_subkey: bool,
) -> Result<SignedSecretKey> {
    let key_type = match algorithm {
        KeyAlgorithm::Ed25519 => KeyType::Ed25519Legacy,
        KeyAlgorithm::Rsa(bits) => KeyType::Rsa(bits),
    };
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(key_type.clone())
        .can_certify(true)
        .can_sign(!signing_subkey)
        .can_encrypt(EncryptionCaps::None)
        .primary_user_id(user_id.into());
    if signing_subkey {
        let sub = SubkeyParamsBuilder::default()
            .key_type(key_type)
            .can_sign(true)
            .can_encrypt(EncryptionCaps::None)
            .can_authenticate(false)
            .build()
            .map_err(|e| PgpError::Signing(format!("subkey parameters: {e}")))?;
        params.subkeys(vec![sub]);
    }
    let params = params
        .build()
        .map_err(|e| PgpError::Signing(format!("key parameters: {e}")))?;
    params
        .generate(rand::thread_rng())
        .map_err(|e| PgpError::Signing(format!("key generation: {e}")))
}

/// The armored secret key, for writing to a key file.
pub fn armored_secret(key: &SignedSecretKey) -> Result<String> {
    key.to_armored_string(Default::default())
        .map_err(|e| PgpError::Signing(e.to_string()))
}
