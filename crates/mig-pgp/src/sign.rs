//! Signing, on the investigator's side: from an armored secret key file, or through the `gpg`
//! binary so that gpg-agent, pinentry and smartcards keep the key.

use crate::armor::{dearmor, encode_signature};
use crate::error::{PgpError, Result};
use crate::keyring::{hex_upper, Keyring};
use pgp::bytes::Bytes;
use pgp::composed::{Deserializable, DetachedSignature, SignedSecretKey, SubpacketConfig};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Notation, Subpacket, SubpacketData};
use pgp::types::{KeyDetails, KeyVersion, Password, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Anything that can sign for an investigator.
pub trait Signer: Send + Sync {
    /// The primary key's fingerprint, upper-case hex.
    fn fingerprint(&self) -> &str;
    /// A detached signature over `data` in MIG's one-line form.
    fn sign(&self, data: &[u8]) -> Result<String>;
}

/// Signs with a secret key held in memory.
pub struct KeySigner {
    key: SignedSecretKey,
    password: String,
    fingerprint: String,
    /// The signing subkey's fingerprint, or `None` to sign with the primary key.
    subkey: Option<String>,
}

impl KeySigner {
    /// Reads an armored (or binary) secret key file; `passphrase` unlocks it if it is protected.
    pub fn from_file(path: &Path, passphrase: Option<&str>) -> Result<KeySigner> {
        let data = std::fs::read(path).map_err(|e| PgpError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::from_bytes(&data, passphrase, &path.display().to_string())
    }

    /// A signer from an armored or binary secret key; `source` names it in errors.
    pub fn from_bytes(data: &[u8], passphrase: Option<&str>, source: &str) -> Result<KeySigner> {
        let (key, _) = SignedSecretKey::from_reader_single(data)
            .map_err(|e| PgpError::malformed(source, e))?;
        Self::new(key, passphrase)
    }

    /// Picks the component that may sign now: a valid signing subkey first, else the primary.
    pub fn new(key: SignedSecretKey, passphrase: Option<&str>) -> Result<KeySigner> {
        let mut ring = Keyring::new();
        ring.add(key.to_public_key(), "secret key");
        let public = ring
            .keys()
            .next()
            .ok_or_else(|| PgpError::Signing("empty key".into()))?;
        let now = chrono::Utc::now().timestamp();
        let mut subkey = None;
        for (i, sub) in public.cert().public_subkeys.iter().enumerate() {
            let fp = hex_upper(sub.key.fingerprint().as_bytes());
            let has_secret = key
                .secret_subkeys
                .iter()
                .any(|s| hex_upper(s.key.fingerprint().as_bytes()) == fp);
            if has_secret && public.check_usable(Some(i), now).is_ok() {
                subkey = Some(fp);
            }
        }
        if subkey.is_none() {
            public.check_usable(None, now).map_err(|e| {
                PgpError::Signing(format!(
                    "no key or subkey of {} can sign: {e}",
                    public.fingerprint
                ))
            })?;
        }
        Ok(KeySigner {
            fingerprint: public.fingerprint.clone(),
            key,
            password: passphrase.unwrap_or_default().to_string(),
            subkey,
        })
    }

    /// The armored public half, to put in agents' keyrings and the server's investigator list.
    pub fn public_key_armored(&self) -> Result<String> {
        self.key
            .to_public_key()
            .to_armored_string(Default::default())
            .map_err(|e| PgpError::Signing(e.to_string()))
    }

    /// The secret key it signs with.
    pub fn secret_key(&self) -> &SignedSecretKey {
        &self.key
    }
}

impl Signer for KeySigner {
    fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn sign(&self, data: &[u8]) -> Result<String> {
        let password = Password::from(self.password.as_str());
        let mut rng = rand::thread_rng();
        let sig = match &self.subkey {
            Some(fp) => {
                let sub = self
                    .key
                    .secret_subkeys
                    .iter()
                    .find(|s| &hex_upper(s.key.fingerprint().as_bytes()) == fp)
                    .ok_or_else(|| PgpError::Signing("signing subkey vanished".into()))?;
                let subpackets = salted_subpackets(&sub.key, &mut rng)?;
                DetachedSignature::sign_binary_data_with_subpackets(
                    rng,
                    &sub.key,
                    &password,
                    HashAlgorithm::Sha256,
                    data,
                    subpackets,
                )
            }
            None => {
                let subpackets = salted_subpackets(&self.key.primary_key, &mut rng)?;
                DetachedSignature::sign_binary_data_with_subpackets(
                    rng,
                    &self.key.primary_key,
                    &password,
                    HashAlgorithm::Sha256,
                    data,
                    subpackets,
                )
            }
        }
        .map_err(|e| PgpError::Signing(e.to_string()))?;
        encode_signature(&sig)
    }
}

/// The notation that salts a signature (the name Sequoia uses for the same purpose).
pub const SALT_NOTATION: &str = "salt@notations.sequoia-pgp.org";

/// rPGP's default subpackets (issuer fingerprint and creation time, hashed; key ID, not
/// hashed) plus a random salt notation. Ed25519 and RSA signatures are deterministic: without
/// the salt, the same action signed twice within one second (`mig file …` run twice in a
/// row) would be the same bytes, and agents refuse a signed action they have already run.
/// Verifiers that do not know the notation ignore it (it is not critical).
fn salted_subpackets(
    key: &impl KeyDetails,
    rng: &mut impl rand::RngCore,
) -> Result<SubpacketConfig> {
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let sub = |data| Subpacket::regular(data).map_err(|e| PgpError::Signing(e.to_string()));
    let hashed = vec![
        sub(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
        sub(SubpacketData::SignatureCreationTime(Timestamp::now()))?,
        sub(SubpacketData::Notation(Notation {
            readable: false,
            name: Bytes::from_static(SALT_NOTATION.as_bytes()),
            value: Bytes::copy_from_slice(&salt),
        }))?,
    ];
    let mut unhashed = Vec::new();
    if key.version() <= KeyVersion::V4 {
        unhashed.push(sub(SubpacketData::IssuerKeyId(key.legacy_key_id()))?);
    }
    Ok(SubpacketConfig::UserDefined { hashed, unhashed })
}

/// Signs through GnuPG: `gpg --detach-sign --local-user KEY`.
pub struct GpgSigner {
    key_id: String,
    fingerprint: String,
    gpg: PathBuf,
    homedir: Option<PathBuf>,
}

impl GpgSigner {
    /// Resolves `key_id` (a key ID, fingerprint or user ID) to its fingerprint with `gpg`.
    pub fn new(key_id: &str, homedir: Option<&Path>) -> Result<GpgSigner> {
        let mut signer = GpgSigner {
            key_id: key_id.to_string(),
            fingerprint: String::new(),
            gpg: PathBuf::from(std::env::var_os("MIG_GPG").unwrap_or_else(|| "gpg".into())),
            homedir: homedir.map(Path::to_path_buf),
        };
        let out = signer.run(&["--with-colons", "--list-secret-keys", key_id], None)?;
        let text = String::from_utf8_lossy(&out);
        // The first `fpr` record after the `sec` record is the primary key's fingerprint.
        signer.fingerprint = text
            .lines()
            .skip_while(|l| !l.starts_with("sec:"))
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .map(str::to_string)
            .ok_or_else(|| PgpError::Gpg(format!("no secret key {key_id} in the GnuPG keyring")))?;
        Ok(signer)
    }

    /// The armored public key, exported by gpg.
    pub fn public_key_armored(&self) -> Result<String> {
        let out = self.run(&["--armor", "--export", &self.fingerprint], None)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        let mut cmd = Command::new(&self.gpg);
        cmd.arg("--batch").arg("--no-tty");
        if let Some(home) = &self.homedir {
            cmd.arg("--homedir").arg(home);
        }
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| PgpError::Gpg(format!("cannot run {}: {e}", self.gpg.display())))?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .map_err(|e| PgpError::Gpg(format!("cannot write to gpg: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| PgpError::Gpg(format!("gpg did not finish: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(PgpError::Gpg(format!("{} ({})", err.trim(), out.status)));
        }
        Ok(out.stdout)
    }
}

impl Signer for GpgSigner {
    fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn sign(&self, data: &[u8]) -> Result<String> {
        let out = self.run(
            &[
                "--armor",
                "--detach-sign",
                "--digest-algo",
                "SHA256",
                // Salted, as KeySigner's are (see `salted_subpackets`).
                "--sig-notation",
                &format!("{SALT_NOTATION}={}", random_hex(16)),
                "--local-user",
                &self.key_id,
            ],
            Some(data),
        )?;
        dearmor(&String::from_utf8_lossy(&out))
    }
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
