//! The sshkey module against keys made by the real `ssh-keygen`, and its fingerprints
//! against what `ssh-keygen -l` prints.

use mig_modules::{lookup, Context};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn keygen(args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen must be installed");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ssh-keygen's own fingerprint of a key file: (md5, sha256).
fn reference(path: &Path) -> (String, String) {
    let fp = |hash: &str| {
        let out = Command::new("ssh-keygen")
            .args(["-l", "-E", hash, "-f"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    (fp("md5"), fp("sha256"))
}

#[test]
fn fingerprints_match_ssh_keygen() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home/alice/.ssh");
    std::fs::create_dir_all(&home).unwrap();
    let k = |n: &str| home.join(n);
    keygen(&[
        "-q",
        "-t",
        "rsa",
        "-b",
        "2048",
        "-N",
        "",
        "-f",
        k("id_rsa").to_str().unwrap(),
    ]);
    keygen(&[
        "-q",
        "-t",
        "rsa",
        "-b",
        "2048",
        "-m",
        "PEM",
        "-N",
        "",
        "-f",
        k("id_rsa_pem").to_str().unwrap(),
    ]);
    keygen(&[
        "-q",
        "-t",
        "rsa",
        "-b",
        "2048",
        "-m",
        "PEM",
        "-N",
        "secret",
        "-f",
        k("id_rsa_pem_enc").to_str().unwrap(),
    ]);
    keygen(&[
        "-q",
        "-t",
        "ecdsa",
        "-N",
        "",
        "-f",
        k("id_ecdsa").to_str().unwrap(),
    ]);
    keygen(&[
        "-q",
        "-t",
        "ecdsa",
        "-b",
        "384",
        "-m",
        "PEM",
        "-N",
        "",
        "-f",
        k("id_ecdsa_pem").to_str().unwrap(),
    ]);
    keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "secret",
        "-f",
        k("id_ed25519").to_str().unwrap(),
    ]);
    for (name, kind, bits, passphrase) in [
        ("id_rsa_pkcs8", "rsa", "2048", ""),
        ("id_ecdsa_pkcs8", "ecdsa", "256", ""),
        ("id_rsa_pkcs8_enc", "rsa", "2048", "secret"),
    ] {
        keygen(&[
            "-q",
            "-t",
            kind,
            "-b",
            bits,
            "-m",
            "PKCS8",
            "-N",
            passphrase,
            "-f",
            k(name).to_str().unwrap(),
        ]);
    }
    // DSA, where this ssh-keygen still makes it (OpenSSH dropped it in 9.8).
    let dsa = ["OpenSSH", "PEM"].iter().all(|format| {
        let name = format!("id_dsa_{}", format.to_lowercase());
        Command::new("ssh-keygen")
            .args(["-q", "-t", "dsa", "-m", format, "-N", "", "-f"])
            .arg(k(&name))
            .status()
            .is_ok_and(|s| s.success())
    });
    if !dsa {
        eprintln!("this ssh-keygen makes no DSA keys: DSA cases skipped");
    }
    let auth = format!(
        "# keys\n{}no-pty,from=\"10.0.0.1\" {}",
        std::fs::read_to_string(k("id_rsa.pub")).unwrap(),
        std::fs::read_to_string(k("id_ed25519.pub")).unwrap()
    );
    std::fs::write(k("authorized_keys"), auth).unwrap();
    std::fs::write(k("notes.txt"), "nothing here").unwrap();

    let r = lookup("sshkey").unwrap().run_json(
        &json!({"paths": [d.path().join("home")], "maxdepth": 8}),
        &Context::default(),
    );
    assert!(r.success, "{:?}", r.errors);
    let keys = r.elements["keys"].as_array().unwrap();
    let find = |name: &str, kind: &str| -> &Value {
        keys.iter()
            .find(|x| {
                x["path"].as_str().unwrap().ends_with(&format!("/{name}")) && x["type"] == kind
            })
            .unwrap_or_else(|| panic!("{name} ({kind}) not found in {keys:#?}"))
    };
    for (name, kind, file_for_reference, encrypted) in [
        ("id_rsa", "private", "id_rsa", false),
        ("id_rsa_pem", "private", "id_rsa_pem", false),
        ("id_rsa_pem_enc", "private", "id_rsa_pem_enc.pub", true),
        ("id_ecdsa", "private", "id_ecdsa", false),
        ("id_ecdsa_pem", "private", "id_ecdsa_pem", false),
        ("id_ed25519", "private", "id_ed25519.pub", true),
        ("id_rsa.pub", "public", "id_rsa.pub", false),
        ("id_ed25519.pub", "public", "id_ed25519.pub", false),
        ("id_rsa_pkcs8", "private", "id_rsa_pkcs8", false),
        ("id_ecdsa_pkcs8", "private", "id_ecdsa_pkcs8", false),
        ("id_rsa_pkcs8_enc", "private", "id_rsa_pkcs8_enc.pub", true),
        ("id_dsa_openssh", "private", "id_dsa_openssh", false),
        ("id_dsa_pem", "private", "id_dsa_pem", false),
    ] {
        if name.starts_with("id_dsa") && !dsa {
            continue;
        }
        let key = find(name, kind);
        let (md5, sha) = reference(&k(file_for_reference));
        assert_eq!(key["fingerprint_md5"], md5, "{name}: {key}");
        assert_eq!(key["fingerprint_sha256"], sha, "{name}: {key}");
        assert_eq!(
            key["encrypted"].as_bool().unwrap_or(false),
            encrypted,
            "{name}"
        );
    }
    let authorized: Vec<&Value> = keys
        .iter()
        .filter(|x| x["type"] == "authorizedkeys")
        .collect();
    assert_eq!(authorized.len(), 2);
    assert_eq!(authorized[0]["line"], 2);
    assert_eq!(authorized[1]["keytype"], "ssh-ed25519");
    assert_eq!(
        authorized[1]["fingerprint_sha256"],
        reference(&k("id_ed25519.pub")).1
    );
    // No key material in the result.
    let text = r.elements.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("AAAA"),
        "key material leaked"
    );
}

fn scan(params: Value) -> Vec<Value> {
    let r = lookup("sshkey")
        .unwrap()
        .run_json(&params, &Context::default());
    assert!(r.success, "{:?}", r.errors);
    r.elements["keys"].as_array().cloned().unwrap_or_default()
}

#[test]
fn keys_are_told_by_parsing_and_package_caches_are_skipped() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home/bob");
    let cache = home.join(".cargo/registry/src/some-crate/tests");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::create_dir_all(home.join("src")).unwrap();
    // A real key, and the same key as a test fixture in a package cache.
    let key = home.join("id_ed25519");
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()]);
    std::fs::copy(&key, cache.join("fixture_key")).unwrap();
    // A source file quoting a PEM header, and a file that starts like a key but is not one.
    std::fs::write(
        home.join("src/lib.rs"),
        "const KEY: &str = \"-----BEGIN RSA PRIVATE KEY-----\\nMIIBOgIBAAJBAK\\n-----END RSA PRIVATE KEY-----\";\n",
    )
    .unwrap();
    std::fs::write(
        home.join("broken.pem"),
        "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let root = home.to_str().unwrap();
    let paths = |keys: &[Value]| -> Vec<String> {
        let mut p: Vec<String> = keys
            .iter()
            .filter(|k| k["type"] == "private")
            .map(|k| k["path"].as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    let found = scan(json!({"paths": [root]}));
    assert_eq!(paths(&found), [key.display().to_string()], "{found:?}");
    // Asked to, the cache is walked too.
    let all = scan(json!({"paths": [root], "skip": []}));
    assert_eq!(paths(&all).len(), 2, "{all:?}");
    // The flags say the same.
    let m = lookup("sshkey").unwrap();
    let p = m
        .flags_to_json(&["-path".into(), root.into(), "-noskip".into()])
        .unwrap();
    assert_eq!(p["skip"], json!([]));
    let p = m.flags_to_json(&["-path".into(), root.into()]).unwrap();
    assert!(
        p.get("skip").is_none(),
        "MIG's parameters when nothing is said: {p}"
    );
}

#[test]
fn pkcs8_ed25519_keys_have_their_type_and_fingerprint() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("ed.pem");
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ssh-keygen cannot read PKCS#8 Ed25519 keys: its fingerprint comes from the public key
    // openssl derives, written as an OpenSSH public key line.
    let der = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .unwrap()
        .stdout;
    let public = &der[der.len() - 32..];
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], public] {
        blob.extend((part.len() as u32).to_be_bytes());
        blob.extend(part);
    }
    use base64::Engine;
    let line = format!(
        "ssh-ed25519 {}\n",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    );
    let pubfile = d.path().join("ed.openssh.pub");
    std::fs::write(&pubfile, line).unwrap();
    let (md5, sha) = reference(&pubfile);
    let found = scan(json!({"paths": [d.path()], "skip": []}));
    let private = found.iter().find(|k| k["type"] == "private").unwrap();
    assert_eq!(private["keytype"], "ssh-ed25519", "{private}");
    assert_eq!(private["fingerprint_sha256"], sha.as_str());
    assert_eq!(private["fingerprint_md5"], md5.as_str());
}
