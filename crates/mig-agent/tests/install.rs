//! `mig-agent install` and `uninstall` through the real binary, on a temporary root: the
//! installed agent runs, and uninstall leaves the root as it was.

use std::process::Command;

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mig-agent"))
        .args(args)
        .output()
        .unwrap()
}

/// Where systemd's tools are installed, the units under `root` must pass `systemd-analyze
/// verify` (each pointed at the installed binary, which verify checks is there).
fn verify_units(root: &std::path::Path, units: &[&str]) {
    let installed = root.join("usr/local/sbin/mig-agent");
    let checked = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for unit in units {
        let text = std::fs::read_to_string(root.join("etc/systemd/system").join(unit))
            .unwrap()
            .replace("/usr/local/sbin/mig-agent", installed.to_str().unwrap());
        std::fs::write(checked.path().join(unit), text).unwrap();
        paths.push(checked.path().join(unit));
    }
    match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
    {
        Ok(v) => assert!(
            v.status.success(),
            "{units:?}: {}",
            String::from_utf8_lossy(&v.stderr)
        ),
        Err(_) => eprintln!("skipped systemd-analyze verify: not installed"),
    }
}

#[test]
fn checkin_mode_installs_a_timer_that_systemd_accepts() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let out = agent(&["install", "--root", r, "--init", "systemd", "--checkin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    verify_units(
        root.path(),
        &["mig-agent-checkin.service", "mig-agent-checkin.timer"],
    );
    assert!(agent(&["uninstall", "--root", r]).status.success());
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn install_runs_the_installed_agent_and_uninstall_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let out = agent(&["install", "--root", r, "--init", "systemd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("mig-agent.service") && !said.contains("started"),
        "{said}"
    );
    let installed = root.path().join("usr/local/sbin/mig-agent");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mig-agent {}", env!("CARGO_PKG_VERSION"))
    );
    verify_units(root.path(), &["mig-agent.service"]);
    // Installing twice is refused with a reason.
    let again = agent(&["install", "--root", r]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already installed"));
    let out = agent(&["uninstall", "--root", r]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
