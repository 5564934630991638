//! Every module through `mig-agent -m <module>` (MIG's module protocol), as the agent runs them.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(module: &str, params: Value) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mig-agent"))
        .args(["-m", module, "--sandbox"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let msg = json!({"class": "parameters", "parameters": params});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{msg}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{module} exited with {}", out.status);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn netstat_pkg_ping_sshkey_timedrift_answer() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let r = run("netstat", json!({"listeningport": [port.to_string()]}));
    assert_eq!(r["foundanything"], true, "{r}");

    if std::path::Path::new("/var/lib/dpkg/status").exists() {
        let r = run("pkg", json!({"pkgmatch": {"matches": ["^dpkg$"]}}));
        assert_eq!(r["foundanything"], true, "{r}");
    }

    let r = run(
        "ping",
        json!({"destination": "127.0.0.1", "destinationport": port, "protocol": "tcp", "count": 1, "timeout": 2}),
    );
    assert_eq!(r["foundanything"], true, "{r}");

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = run("sshkey", json!({"paths": [dir.path()]}));
    assert_eq!(r["elements"]["keys"].as_array().unwrap().len(), 2, "{r}");

    let server = mig_modules::timedrift::spawn_test_server(0.0);
    let r = run(
        "timedrift",
        json!({"drift": "5s", "servers": [server.to_string()]}),
    );
    assert_eq!(r["elements"]["iswithindrift"], true, "{r}");
}

#[test]
fn agentdestroy_stops_an_old_agent_and_removes_its_binary() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("mig-agent-old");
    std::fs::copy(env!("CARGO_BIN_EXE_mig-agent"), &old).unwrap();
    // An old agent process, alive (waiting for its parameters).
    let mut victim = Command::new(&old)
        .arg("-m")
        .arg("file")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = victim.id();

    let r = run(
        "agentdestroy",
        json!({"pid": pid, "version": "0.0.0-not-this"}),
    );
    assert_eq!(r["elements"]["killed"], false, "{r}");
    assert!(old.exists());

    let version = env!("CARGO_PKG_VERSION");
    let r = run("agentdestroy", json!({"pid": pid, "version": version}));
    assert_eq!(r["elements"]["killed"], true, "{r}");
    assert!(!old.exists(), "the old binary is removed");
    assert!(
        victim.wait().unwrap().code().is_none(),
        "killed by a signal"
    );

    // Never a process that is not an agent, never itself.
    let r = run("agentdestroy", json!({"pid": 1, "version": version}));
    assert_eq!(r["success"], false);
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let r = run(
        "agentdestroy",
        json!({"pid": sleeper.id(), "version": version}),
    );
    assert!(
        r["errors"][0].as_str().unwrap().contains("not a mig-agent"),
        "{r}"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}
