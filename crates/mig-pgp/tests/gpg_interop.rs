//! Interoperability with the real GnuPG, both ways, in a temporary GNUPGHOME.
//! GnuPG is required (`.ci/run` installs it); these tests fail rather than skip without it.

use mig_pgp::keygen::{armored_secret, generate_key, KeyAlgorithm};
use mig_pgp::{GpgSigner, KeySigner, Keyring, PgpError, Signer};
use std::path::Path;
use std::process::Command;

struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Gpg {
        let home = tempfile::tempdir().unwrap();
        let g = Gpg { home };
        // Quiet and non-interactive key generation.
        std::fs::write(g.home.path().join("gpg.conf"), "no-greeting\n").unwrap();
        g
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.run_stdin(args, None)
    }

    fn run_stdin(&self, args: &[&str], input: Option<&[u8]>) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("gpg must be installed (apt install gnupg)");
        if let Some(data) = input {
            child.stdin.take().unwrap().write_all(data).unwrap();
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn gen(&self, uid: &str, algo: &str, usage: &str, expire: &str) -> String {
        let (ok, _, err) = self.run(&["--quick-gen-key", uid, algo, usage, expire]);
        assert!(ok, "gpg keygen failed: {err}");
        self.fingerprint(uid)
    }

    fn fingerprint(&self, uid: &str) -> String {
        let (ok, out, err) = self.run(&["--with-colons", "--list-keys", uid]);
        assert!(ok, "{err}");
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_string()
    }

    fn export(&self, fpr: &str) -> String {
        let (ok, out, err) = self.run(&["--armor", "--export", fpr]);
        assert!(ok, "{err}");
        out
    }

    fn keyring(&self, fpr: &str) -> Keyring {
        let mut ring = Keyring::new();
        ring.add_bytes(self.export(fpr).as_bytes(), "gpg export")
            .unwrap();
        ring
    }

    fn signer(&self, fpr: &str) -> GpgSigner {
        GpgSigner::new(fpr, Some(self.home.path())).unwrap()
    }
}

const DATA: &[u8] =
    b"name=test;target=status='online';validfrom=1;expireafter=%!s(int64=2);operations=[];";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn gpg_signatures_verify_ed25519_rsa_and_subkey() {
    let gpg = Gpg::new();
    let ed = gpg.gen("Ed Signer <ed@example.com>", "ed25519", "sign", "never");
    let rsa = gpg.gen("Rsa Signer <rsa@example.com>", "rsa2048", "sign", "never");
    let primary = gpg.gen("Sub Signer <sub@example.com>", "ed25519", "cert", "never");
    let (ok, _, err) = gpg.run(&["--quick-add-key", &primary, "ed25519", "sign", "never"]);
    assert!(ok, "{err}");

    for fpr in [&ed, &rsa, &primary] {
        let signer = gpg.signer(fpr);
        assert_eq!(signer.fingerprint(), fpr.as_str());
        let sig = signer.sign(DATA).unwrap();
        assert!(
            !sig.contains("BEGIN PGP"),
            "signature must be in MIG's one-line form"
        );
        let v = gpg.keyring(fpr).verify(DATA, &sig, now()).unwrap();
        assert_eq!(&v.fingerprint, fpr);
        // Salted: the same text signed again in the same second is other bytes, so agents
        // do not take the second action for a replay of the first.
        let again = signer.sign(DATA).unwrap();
        assert_ne!(sig, again, "two signatures of the same text are identical");
        gpg.keyring(fpr).verify(DATA, &again, now()).unwrap();
        if fpr == &primary {
            assert_ne!(
                &v.signing_key_id,
                &fpr[24..],
                "the subkey should have signed"
            );
        }
        let err = gpg
            .keyring(fpr)
            .verify(b"other text", &sig, now())
            .unwrap_err();
        assert!(matches!(err, PgpError::BadSignature { .. }), "{err}");
    }
}

fn import_and_verify_with_gpg(gpg: &Gpg, signer: &KeySigner) {
    let (ok, _, err) = gpg.run_stdin(
        &["--import"],
        Some(signer.public_key_armored().unwrap().as_bytes()),
    );
    assert!(ok, "gpg refused our public key: {err}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sig_path = dir.path().join("data.sig");
    std::fs::write(&data, DATA).unwrap();
    // Re-armor MIG's one-line form for gpg.
    let sig = mig_pgp::armor::decode_signature(&signer.sign(DATA).unwrap()).unwrap();
    std::fs::write(
        &sig_path,
        sig.to_armored_string(Default::default()).unwrap(),
    )
    .unwrap();
    let (ok, _, err) = gpg.run(&["--verify", p(&sig_path), p(&data)]);
    assert!(ok, "gpg did not verify our signature: {err}");
    assert!(err.contains("Good signature"), "{err}");
    std::fs::write(&data, b"tampered").unwrap();
    let (ok, _, _) = gpg.run(&["--verify", p(&sig_path), p(&data)]);
    assert!(!ok, "gpg accepted a signature over other data");
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn our_signatures_verify_in_gpg() {
    let gpg = Gpg::new();
    for (algo, subkey) in [
        (KeyAlgorithm::Ed25519, false),
        (KeyAlgorithm::Ed25519, true),
        (KeyAlgorithm::Rsa(2048), false),
    ] {
        let key = generate_key("Rust Signer <rust@example.com>", algo, subkey).unwrap();
        let signer = KeySigner::new(key, None).unwrap();
        import_and_verify_with_gpg(&gpg, &signer);
        // And our own verifier agrees.
        let mut ring = Keyring::new();
        ring.add_bytes(signer.public_key_armored().unwrap().as_bytes(), "ours")
            .unwrap();
        let (first, second) = (signer.sign(DATA).unwrap(), signer.sign(DATA).unwrap());
        assert_ne!(first, second, "{algo:?}: signatures are not salted");
        for sig in [first, second] {
            ring.verify(DATA, &sig, now()).unwrap();
        }
    }
}

#[test]
fn secret_key_file_exported_by_gpg_signs() {
    let gpg = Gpg::new();
    let fpr = gpg.gen("File Signer <file@example.com>", "ed25519", "sign", "never");
    let (ok, secret, err) = gpg.run(&["--armor", "--export-secret-keys", &fpr]);
    assert!(ok, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.asc");
    std::fs::write(&path, secret).unwrap();
    let signer = KeySigner::from_file(&path, None).unwrap();
    assert_eq!(signer.fingerprint(), fpr);
    gpg.keyring(&fpr)
        .verify(DATA, &signer.sign(DATA).unwrap(), now())
        .unwrap();
}

#[test]
fn expired_key_is_refused() {
    let gpg = Gpg::new();
    let fpr = gpg.gen("Short Lived <short@example.com>", "ed25519", "sign", "1d");
    let sig = gpg.signer(&fpr).sign(DATA).unwrap();
    let ring = gpg.keyring(&fpr);
    ring.verify(DATA, &sig, now()).unwrap();
    let err = ring.verify(DATA, &sig, now() + 3 * 86400).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn revoked_key_is_refused() {
    let gpg = Gpg::new();
    let fpr = gpg.gen("Revoked <revoked@example.com>", "ed25519", "sign", "never");
    let sig = gpg.signer(&fpr).sign(DATA).unwrap();
    // GnuPG writes a revocation certificate at key creation, with its first line "defused".
    let rev = gpg
        .home
        .path()
        .join("openpgp-revocs.d")
        .join(format!("{fpr}.rev"));
    let text = std::fs::read_to_string(rev)
        .unwrap()
        .replacen(":-----BEGIN", "-----BEGIN", 1);
    let (ok, _, err) = gpg.run_stdin(&["--import"], Some(text.as_bytes()));
    assert!(ok, "{err}");
    let err = gpg.keyring(&fpr).verify(DATA, &sig, now()).unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
}

#[test]
fn sha1_signature_is_refused() {
    let gpg = Gpg::new();
    let fpr = gpg.gen("Old Hash <sha1@example.com>", "rsa2048", "sign", "never");
    let (ok, out, err) = gpg.run_stdin(
        &[
            "--armor",
            "--detach-sign",
            "--digest-algo",
            "SHA1",
            "--local-user",
            &fpr,
        ],
        Some(DATA),
    );
    assert!(ok, "{err}");
    let err = gpg.keyring(&fpr).verify(DATA, &out, now()).unwrap_err();
    assert!(err.to_string().contains("SHA-1"), "{err}");
}

#[test]
fn key_without_sign_flag_is_refused() {
    // A certify-only primary with a signing subkey; a signature made by the primary itself
    // must be refused because its key flags do not allow signing.
    let key = generate_key("Cert Only <cert@example.com>", KeyAlgorithm::Ed25519, true).unwrap();
    let mut ring = Keyring::new();
    ring.add(key.to_public_key(), "test");
    let sig = pgp::composed::DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        &key.primary_key,
        &pgp::types::Password::empty(),
        pgp::crypto::hash::HashAlgorithm::Sha256,
        DATA,
    )
    .unwrap();
    let text = mig_pgp::armor::encode_signature(&sig).unwrap();
    let err = ring.verify(DATA, &text, now()).unwrap_err();
    assert!(err.to_string().contains("not allowed to sign"), "{err}");
    // The secret key file round-trips through our armored writer.
    let armored = armored_secret(&key).unwrap();
    KeySigner::from_bytes(armored.as_bytes(), None, "test").unwrap();
}
