//! release/sign and release/verify with real GnuPG and a throwaway release key: a signed folder
//! verifies; a tampered artifact, a manifest signed by an unknown key, and an artifact that does
//! not rebuild to the same bytes are each refused with the reason.

use mig_e2e::bin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A GnuPG home with one new Ed25519 key; returns (home, fingerprint).
fn gpg_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let out = Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--passphrase", "", "--quick-gen-key"])
        .arg(format!("{name} <{name}@example.com>"))
        .args(["ed25519", "sign", "1d"])
        .output()
        .expect("gpg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--with-colons", "--list-secret-keys"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let fpr = text
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|l| l.trim_matches(':').to_string())
        .unwrap();
    (home, fpr)
}

fn export(home: &Path, fpr: &str, to: &Path) {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--armor", "--export", fpr])
        .output()
        .unwrap();
    std::fs::write(to, out.stdout).unwrap();
}

fn script(name: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(repo().join("release").join(name))
        .args(args)
        .env("GNUPGHOME", home)
        .env("MIG", bin("mig"))
        .output()
        .unwrap()
}

fn release_folder(dir: &Path, name: &str) -> PathBuf {
    let r = dir.join(name);
    std::fs::create_dir_all(&r).unwrap();
    std::fs::write(r.join("mig-agent-linux-amd64"), b"agent bytes").unwrap();
    std::fs::write(r.join("mig_1.0.0_amd64.deb"), b"package bytes").unwrap();
    r
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_release_signed_with_gpg_verifies_and_tampering_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, fpr) = gpg_key(tmp.path(), "release");
    let keyring = tmp.path().join("release.asc");
    export(&home, &fpr, &keyring);
    let r = release_folder(tmp.path(), "r1");
    let rs = r.display().to_string();
    let ks = keyring.display().to_string();

    let out = script(
        "sign",
        &home,
        &[&rs, "--key", &fpr, "--version", "1.0.0", "--commit", "abc"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = script("verify", &home, &[&rs, &ks]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("release 1.0.0 (2 files) signed by release"),
        "{}",
        text(&out)
    );

    // A tampered artifact.
    std::fs::write(r.join("mig-agent-linux-amd64"), b"evil bytes").unwrap();
    let out = script("verify", &home, &[&rs, &ks]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("mig-agent-linux-amd64: its SHA-256 is"),
        "{}",
        text(&out)
    );

    // A manifest signed by a key the release keyring does not hold.
    let (other_home, other_fpr) = gpg_key(tmp.path(), "intruder");
    let r2 = release_folder(tmp.path(), "r2");
    let r2s = r2.display().to_string();
    let out = script(
        "sign",
        &other_home,
        &[&r2s, "--key", &other_fpr, "--version", "1.0.0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = script("verify", &home, &[&r2s, &ks]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("unknown signer"), "{}", text(&out));

    // The signing side rebuilds: an artifact that does not rebuild to the same bytes stops it.
    let r3 = release_folder(tmp.path(), "r3");
    let rebuilt = release_folder(tmp.path(), "r3-rebuilt");
    std::fs::write(rebuilt.join("mig_1.0.0_amd64.deb"), b"other package bytes").unwrap();
    let out = script(
        "sign",
        &home,
        &[
            &r3.display().to_string(),
            "--key",
            &fpr,
            "--version",
            "1.0.0",
            "--rebuilt",
            &rebuilt.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("mig_1.0.0_amd64.deb does not rebuild to the same bytes"),
        "{}",
        text(&out)
    );
    assert!(!r3.join("MANIFEST.json.asc").exists());
}

/// release/sbom: a CycloneDX document of the binaries' runtime crates, the same bytes twice.
#[test]
fn the_sbom_lists_the_runtime_crates_and_is_deterministic() {
    let run = || {
        let out = Command::new(repo().join("release/sbom")).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        out.stdout
    };
    let first = run();
    assert_eq!(first, run(), "two runs differ");
    let bom: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    let components = bom["components"].as_array().unwrap();
    let named = |n: &str| components.iter().find(|c| c["name"] == n);
    for root in ["mig-agent", "mig-server", "mig-client"] {
        assert_eq!(named(root).unwrap()["type"], "application", "{root}");
    }
    // A runtime dependency with the registry's checksum, and no test-only crate.
    let rustls = named("rustls").expect("rustls");
    assert!(rustls["purl"]
        .as_str()
        .unwrap()
        .starts_with("pkg:cargo/rustls@"));
    assert_eq!(rustls["hashes"][0]["alg"], "SHA-256");
    assert!(named("tempfile").is_none(), "a dev-dependency is listed");
    assert!(named("mig-e2e").is_none());
}

/// release/dependencies reads the dependency list cargo-auditable embeds (`.dep-v0`: zlib of
/// JSON), as `cargo audit bin` does, and refuses a binary without one, or with one that does
/// not decode, naming why: release/build runs it on every binary it ships.
#[test]
fn a_release_binary_without_its_dependency_list_is_caught() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let list = serde_json::json!({"packages": [
        {"name": "mig-agent", "version": "1.0.0", "source": "local", "root": true},
        {"name": "rustls", "version": "0.23.1", "source": "crates.io"},
    ]});
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(list.to_string().as_bytes()).unwrap();
    let section = tmp.path().join("dep-v0");
    std::fs::write(&section, z.finish().unwrap()).unwrap();
    let garbage = tmp.path().join("garbage");
    std::fs::write(&garbage, b"not zlib").unwrap();
    let with_section = |data: &Path, name: &str| {
        let out = tmp.path().join(name);
        let made = Command::new("objcopy")
            .arg(format!("--add-section=.dep-v0={}", data.display()))
            .arg(bin("mig"))
            .arg(&out)
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", text(&made));
        out
    };
    let read = |binary: &Path| {
        Command::new(repo().join("release/dependencies"))
            .arg(binary)
            .output()
            .unwrap()
    };

    let listed = read(&with_section(&section, "auditable"));
    assert!(listed.status.success(), "{}", text(&listed));
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "mig-agent 1.0.0 root\nrustls 0.23.1 \n"
    );

    // A test build is not built with cargo auditable: no section.
    let none = read(&bin("mig"));
    assert!(!none.status.success());
    assert!(
        text(&none).contains("no .dep-v0 section"),
        "{}",
        text(&none)
    );
    let bad = read(&with_section(&garbage, "garbled"));
    assert!(!bad.status.success());
    assert!(text(&bad).contains("does not decode"), "{}", text(&bad));
}
