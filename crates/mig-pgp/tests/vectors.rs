//! MIG's own test vectors must verify with our code.

use mig_core::Action;
use mig_pgp::{Keyring, PgpError};
use std::path::PathBuf;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/mig-v2")
}

fn action(name: &str) -> Action {
    Action::from_json(&std::fs::read(vectors().join(name)).unwrap()).unwrap()
}

fn valid_ring() -> Keyring {
    Keyring::load(&vectors().join("key-valid-signer1.asc")).unwrap()
}

// Inside the vectors' validity window (2017-10-25).
const THEN: i64 = 1508946700;

#[test]
fn valid_signed_action_verifies() {
    let ring = valid_ring();
    let a = action("valid-signed-action1.json");
    let v = ring
        .verify(a.signing_text().as_bytes(), &a.pgpsignatures[0], THEN)
        .unwrap();
    assert_eq!(v.fingerprint, "397FD1F5E3DD4020BEF0E37E0F382D21C84C143A");
    assert_eq!(v.user_id, "MIG unit tests <unit@tests>");
}

#[test]
fn multiop_action_verifies() {
    let ring = valid_ring();
    let a = action("signed-multiop-action1.json");
    ring.verify(a.signing_text().as_bytes(), &a.pgpsignatures[0], THEN)
        .unwrap();
}

#[test]
fn invalid_signed_action_is_refused() {
    let ring = valid_ring();
    let a = action("invalid-signed-action1.json");
    let err = ring
        .verify(a.signing_text().as_bytes(), &a.pgpsignatures[0], THEN)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PgpError::UnknownSigner { .. } | PgpError::BadSignature { .. }
        ),
        "{err}"
    );
}

#[test]
fn tampered_action_is_refused() {
    let ring = valid_ring();
    let mut a = action("valid-signed-action1.json");
    a.target = "status='online' or 1=1".into();
    let err = ring
        .verify(a.signing_text().as_bytes(), &a.pgpsignatures[0], THEN)
        .unwrap_err();
    assert!(matches!(err, PgpError::BadSignature { .. }), "{err}");
}

#[test]
fn keyring_directory_loads_every_key() {
    let dir = tempfile::tempdir().unwrap();
    for k in ["key-valid-signer1.asc", "key-invalid-signer1.asc"] {
        std::fs::copy(vectors().join(k), dir.path().join(k)).unwrap();
    }
    std::fs::write(dir.path().join(".hidden"), "not a key").unwrap();
    let ring = Keyring::load(dir.path()).unwrap();
    assert_eq!(ring.len(), 2);
    assert!(ring
        .get("397f d1f5 e3dd 4020 bef0 e37e 0f38 2d21 c84c 143a")
        .is_some());
}

#[test]
fn unreadable_or_bogus_keyring_is_a_clear_error() {
    let err = Keyring::load(std::path::Path::new("/nonexistent/keyring.asc")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/keyring.asc"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("junk.asc");
    std::fs::write(&f, "hello").unwrap();
    let err = Keyring::load(&f).unwrap_err();
    assert!(err.to_string().contains("junk.asc"), "{err}");
}
