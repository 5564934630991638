//! `mig-server` as an operator meets it: init, configuration errors, investigators.
//! (This test also makes cargo build the mig-server binary that the end-to-end tests run.)

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mig-server"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn init_creates_certificates_and_a_configuration() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let out = server(&[
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--server-name",
        "mig.example.com",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (file, mode) in [
        ("ca.pem", 0o644),
        ("ca.key", 0o600),
        ("server.pem", 0o644),
        ("server.key", 0o600),
        ("agent.pem", 0o644),
        ("agent.key", 0o600),
    ] {
        let m = std::fs::metadata(data.join("pki").join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{file}");
    }
    let config = std::fs::read_to_string(data.join("server.toml")).unwrap();
    assert!(config.contains("data_dir"));
    // A second init keeps what exists.
    let before = std::fs::read(data.join("pki/ca.key")).unwrap();
    assert!(server(&["init", "--data-dir", data.to_str().unwrap()])
        .status
        .success());
    assert_eq!(std::fs::read(data.join("pki/ca.key")).unwrap(), before);
}

#[test]
fn configuration_errors_name_the_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("server.toml");
    std::fs::write(&cfg, "[api]\nlisten_address = \"x\"\n").unwrap();
    let out = server(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_address"));
    std::fs::write(&cfg, "[scheduler]\ntick = \"soon\"\n").unwrap();
    let out = server(&["--config", cfg.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scheduler.tick"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server(&["--config", "/nonexistent/server.toml"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/server.toml"));
}
