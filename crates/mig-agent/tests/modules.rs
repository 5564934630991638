//! Every module through `mig-agent -m <module>` (MIG's module protocol), as the agent runs them.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

fn run(module: &str, params: Value) -> Value {
    common::result(module, &common::run_module(module, &params, &[]))
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

    let server = mig_modules::testing::sntp_server(0.0);
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

/// A program that records being run with `--version` (as MIG's agentdestroy ran every
/// candidate) and otherwise waits: the file an attacker names `mig-agent…`.
fn trap_binary(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let marker = dir.join("executed");
    let source = dir.join("trap.c");
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n\
             int main(int argc, char **argv) {{\n\
               if (argc > 1 && strcmp(argv[1], \"--version\") == 0) {{\n\
                 FILE *f = fopen(\"{}\", \"w\"); if (f) fclose(f);\n\
                 puts(\"mig-agent 1.0\"); return 0; }}\n\
               sleep(60); return 0; }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let binary = dir.join(name);
    let cc = Command::new("cc")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    (binary, marker)
}

#[test]
fn agentdestroy_never_runs_what_it_finds_and_stops_only_real_agents() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A user's program named like an agent.
    let (evil, marker) = trap_binary(dir.path(), "mig-agent-evil");
    let chown = Command::new("chown")
        .arg("65534:65534")
        .arg(&evil)
        .status()
        .unwrap();
    assert!(chown.success());
    let mut evil_process = Command::new(&evil).spawn().unwrap();
    // Root's program named like an agent, but no agent build.
    let (fake, _) = trap_binary(dir.path(), "mig-agent-fake");
    let mut fake_process = Command::new(&fake).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let r = run(
        "agentdestroy",
        json!({"pid": evil_process.id(), "version": "1.0"}),
    );
    assert_eq!(r["success"], false, "{r}");
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap()
            .contains("belongs to uid 65534"),
        "{r}"
    );
    let r = run(
        "agentdestroy",
        json!({"pid": fake_process.id(), "version": "1.0"}),
    );
    assert_eq!(r["success"], false, "{r}");
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap()
            .contains("no .mig_agent_version section"),
        "{r}"
    );

    assert!(!marker.exists(), "agentdestroy executed a binary it found");
    assert!(evil_process.try_wait().unwrap().is_none(), "not stopped");
    assert!(fake_process.try_wait().unwrap().is_none(), "not stopped");
    assert!(evil.exists() && fake.exists(), "not removed");
    for mut p in [evil_process, fake_process] {
        let _ = p.kill();
        let _ = p.wait();
    }
}

#[test]
fn scribe_runs_the_sshd_document_on_fixture_files() {
    // The shipped document, pointed at a fixture: root login off, but passwords still on.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sshd_config"),
        "PermitRootLogin no\nPasswordAuthentication yes\n",
    )
    .unwrap();
    let mut doc: Value =
        serde_json::from_str(include_str!("../../../docs/examples/scribe-sshd.json")).unwrap();
    doc["variables"][0]["value"] = json!(dir.path());
    let r = run("scribe", json!({"scribedoc": doc, "onlytrue": true}));
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["foundanything"], true, "{r}");
    let ids: Vec<&str> = r["elements"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["testid"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"sshd-root-login-disallowed"), "{r}");
    assert!(!ids.contains(&"sshd-hardened"), "{r}");
    assert!(r["statistics"]["execruntime"].is_string(), "{r}");

    // A bad document is refused with the field named.
    let r = run(
        "scribe",
        json!({"scribedoc": {"tests": [{"test": "t", "object": "nope"}]}}),
    );
    assert_eq!(r["success"], false, "{r}");
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap()
            .contains("scribedoc.tests[0] (\"t\"): object: unknown object \"nope\""),
        "{r}"
    );
}

/// An agent process (another `mig-agent -m file`) that holds `marker` in its heap: the start of
/// a parameters line it is still waiting to see the end of.
fn process_holding(marker: &str) -> std::process::Child {
    let mut holder = Command::new(env!("CARGO_BIN_EXE_mig-agent"))
        .args(["-m", "file"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let partial = format!(r#"{{"class":"parameters","parameters":{{"note":"{marker}"#);
    let stdin = holder.stdin.as_mut().unwrap();
    stdin.write_all(partial.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    holder
}

fn run_capped(module: &str, params: Value) -> Value {
    // As the agent runs modules: with its default address-space cap (1 GiB).
    let cap = (1u64 << 30).to_string();
    let out = common::run_module(module, &params, &[("MIG_MODULE_MEMORY_BYTES", &cap)]);
    common::result(module, &out)
}

#[test]
fn memory_and_yara_find_a_marker_in_another_process() {
    // Letters, digits and dashes: the same text as a regex, a YARA string and JSON.
    let nanos = std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos();
    let marker = format!("mig-agent-test-marker-{}-{nanos}", std::process::id());
    let mut holder = process_holding(&marker);
    let pid = holder.id() as u64;

    let r = run_capped(
        "memory",
        json!({"searches": {"s1": {"contents": [marker], "options": {"matchall": true}}}}),
    );
    assert_eq!(r["success"], true, "{r}");
    let pids: Vec<u64> = r["elements"]["s1"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["process"]["pid"].as_u64().unwrap())
        .collect();
    assert!(pids.contains(&pid), "{r}");

    let rules = format!(r#"rule marker {{ strings: $m = "{marker}" condition: $m }}"#);
    let r = run_capped("yara", json!({"yara": rules, "pids": [pid]}));
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(
        r["elements"]["Matches"][0]["MatchedRules"],
        json!(["marker"]),
        "{r}"
    );
    assert_eq!(r["elements"]["Matches"][0]["Pid"], pid, "{r}");

    // Files too, found with the file module's flags.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dropper.sh"), format!("echo {marker}\n")).unwrap();
    let r = run_capped(
        "yara",
        json!({"yara": rules, "filesearch": format!("-path {} -name dropper", dir.path().display())}),
    );
    assert_eq!(r["foundanything"], true, "{r}");
    let _ = holder.kill();
    let _ = holder.wait();
}
