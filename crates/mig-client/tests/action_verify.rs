//! `mig action verify` end to end, on MIG's vectors.

use std::path::{Path, PathBuf};
use std::process::Command;

const FPR: &str = "397FD1F5E3DD4020BEF0E37E0F382D21C84C143A";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/mig-v2")
}

/// The vector with `syntaxversion: 2` added (MIG's vectors predate it; it is not signed).
fn vector_v2(dir: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vectors().join(name)).unwrap()).unwrap();
    v["syntaxversion"] = 2.into();
    edit(&mut v);
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{n}-{name}"));
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path
}

fn verify(args: &[&str], action: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mig"))
        .args(["action", "verify", "--keyring"])
        .arg(vectors().join("key-valid-signer1.asc"))
        .args(args)
        .arg(action)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const THEN: &str = "2017-10-25T15:52:00Z";

#[test]
fn valid_action_prints_signers() {
    let dir = tempfile::tempdir().unwrap();
    let a = vector_v2(dir.path(), "valid-signed-action1.json", |_| {});
    let (code, out, err) = verify(&["--now", THEN], &a);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(FPR), "{out}");
    assert!(out.contains("MIG unit tests <unit@tests>"), "{out}");
}

#[test]
fn acl_weight_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let a = vector_v2(dir.path(), "valid-signed-action1.json", |_| {});
    let acl = dir.path().join("acl.json");
    let write_acl = |min: u32| {
        std::fs::write(
            &acl,
            format!(r#"{{"pkg": {{"minimumweight": {min}, "investigators": {{"unit": {{"fingerprint": "{FPR}", "weight": 1}}}}}}}}"#),
        )
        .unwrap()
    };
    write_acl(2);
    let (code, _, err) = verify(&["--now", THEN, "--acl", acl.to_str().unwrap()], &a);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "refused: ACL weight 1 < 2 for module pkg (permission 'pkg')"
    );
    write_acl(1);
    let (code, out, err) = verify(&["--now", THEN, "--acl", acl.to_str().unwrap()], &a);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ACL permission 'pkg': weight 1 >= 1"), "{out}");
}

#[test]
fn each_failure_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"name\": ").unwrap();
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (bad_json, vec!["--now", THEN], "invalid JSON"),
        (
            vector_v2(dir.path(), "valid-signed-action1.json", |v| {
                v["syntaxversion"] = 1.into()
            }),
            vec!["--now", THEN],
            "syntaxversion: expected 2, got 1",
        ),
        (
            vector_v2(dir.path(), "invalid-signed-action1.json", |_| {}),
            vec!["--now", "2017-10-25T16:10:00Z"],
            "pgpsignatures[0]:",
        ),
        (
            vector_v2(dir.path(), "signed-multiop-action1.json", |v| {
                v["target"] = "1=1".into()
            }),
            vec!["--now", "2017-10-25T16:51:00Z"],
            "bad signature from key 397FD1F5",
        ),
        (
            vector_v2(dir.path(), "valid-signed-action1.json", |_| {}),
            vec![],
            "expireafter: the action expired",
        ),
        (
            vector_v2(dir.path(), "valid-signed-action1.json", |v| {
                v["name"] = "".into()
            }),
            vec!["--now", THEN],
            "name: is empty",
        ),
    ];
    for (file, args, want) in cases {
        let (code, _, err) = verify(&args, &file);
        assert_eq!(code, 1, "{want}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

#[test]
fn an_action_signed_by_migs_own_tools_has_no_syntaxversion_and_verifies() {
    // MIG's vectors are as MIG's generator writes them: no syntaxversion (not signed).
    let raw: serde_json::Value = serde_json::from_slice(
        &std::fs::read(vectors().join("valid-signed-action1.json")).unwrap(),
    )
    .unwrap();
    assert!(raw.get("syntaxversion").is_none() && raw.get("SyntaxVersion").is_none());
    let (code, out, err) = verify(
        &["--now", THEN],
        &vectors().join("valid-signed-action1.json"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(FPR), "{out}");
}

#[test]
fn unknown_signer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = vector_v2(dir.path(), "valid-signed-action1.json", |_| {});
    let out = Command::new(env!("CARGO_BIN_EXE_mig"))
        .args(["action", "verify", "--now", THEN, "--keyring"])
        .arg(vectors().join("key-invalid-signer1.asc"))
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown signer: key 0F382D21C84C143A"),
        "{err}"
    );
}
