//! What a new investigator does in the first hour, from README and docs/acl.md, on the real
//! binaries: the dev platform keeps an operator's edits across restarts, and a two-person rule
//! is tried end to end in dev mode.

use mig_e2e::dev::Dev;
use mig_e2e::{bin, stderr, stdout, wait_for};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn mig(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("mig"))
        .args(args)
        .env("MIG_CONFIG", config)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn dev_mode_keeps_edits_and_walks_through_a_two_person_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let dev = Dev::start(&root, &["--investigators", "2"]);
    let ports = dev.ports;
    for file in [
        "acl.json",
        "server.toml",
        "client.toml",
        "client-2.toml",
        "agent-0/agent.toml",
    ] {
        assert!(
            dev.said.contains(file),
            "{file} not reported created: {}",
            dev.said
        );
    }
    assert!(dev.said.contains("created:"), "{}", dev.said);
    let (alice, bob): (PathBuf, PathBuf) = (root.join("client.toml"), root.join("client-2.toml"));
    wait_for("the dev agent", Duration::from_secs(30), || {
        stderr(&mig(
            &alice,
            &["file", "-t", "all", "-path", "/etc", "-name", "^hostname$"],
        ))
        .contains("matches 1 agent(s)")
        .then_some(())
    });

    // docs/acl.md: `file` needs both investigators (the fingerprints are in acl.json).
    let acl_path = root.join("acl.json");
    let mut acl: Value = serde_json::from_slice(&std::fs::read(&acl_path).unwrap()).unwrap();
    let mut file = acl["default"].clone();
    file["minimumweight"] = 2.into();
    acl["file"] = file;
    std::fs::write(&acl_path, serde_json::to_vec_pretty(&acl).unwrap()).unwrap();
    let agent_log = root.join("agent-0/agent.log");
    wait_for(
        "the agent to reload its ACL",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&agent_log)
                .unwrap_or_default()
                .contains("reloaded")
                .then_some(())
        },
    );

    // One signer: the agent refuses, and says why.
    let o = mig(
        &alice,
        &["file", "-t", "all", "-path", "/etc", "-name", "^passwd$"],
    );
    assert!(
        stdout(&o).contains("ACL weight 1 < 2"),
        "{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    // Create and sign, second signature, launch: it runs.
    let action = root.join("find.json");
    let a = action.to_str().unwrap();
    let o = mig(
        &alice,
        &[
            "action", "create", "--sign", "-t", "all", "-o", a, "file", "-path", "/etc", "-name",
            "^passwd$",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = mig(&bob, &["action", "sign", a]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = mig(&bob, &["action", "launch", "-y", a]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("/etc/passwd"), "{}", stdout(&o));
    dev.stop();

    // The same command again: the edited ACL and every file are kept, the logs go on.
    let log_before = std::fs::read_to_string(&agent_log).unwrap();
    let dev = Dev::start_on(&root, ports, &["--investigators", "2"]);
    assert!(dev.said.contains("kept"), "{}", dev.said);
    assert!(!dev.said.contains("created:"), "{}", dev.said);
    let acl_after: Value = serde_json::from_slice(&std::fs::read(&acl_path).unwrap()).unwrap();
    assert_eq!(
        acl_after["file"]["minimumweight"], 2,
        "the operator's ACL was rewritten"
    );
    wait_for("the agent back", Duration::from_secs(30), || {
        let log = std::fs::read_to_string(&agent_log).unwrap_or_default();
        (log.len() > log_before.len() && log.starts_with(&log_before)).then_some(())
    });
    let o = wait_for("the agent to answer again", Duration::from_secs(30), || {
        let o = mig(
            &alice,
            &["file", "-t", "all", "-path", "/etc", "-name", "^passwd$"],
        );
        stdout(&o).contains("ACL weight 1 < 2").then_some(o)
    });
    drop(o);
    dev.stop();
}

#[test]
fn the_client_is_kind_to_pipes_typos_and_people() {
    use mig_e2e::{acl, Platform};
    let p = Platform::start();
    let _agent = p.agent("reader", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("reader");

    // `mig … | head`: the reader goes away, mig ends quietly (no panic, no 101).
    let mut child = p
        .mig_command(
            &p.admin,
            &[
                "file", "-t", "all", "-show", "all", "-path", "/etc", "-name", ".",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(101), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));

    // A value that does not exist is refused, in one line pointing at the help.
    let o = p.mig(&p.admin, &["action", "list", "--status", "bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("bogus") && err.contains("completed") && err.contains("mig action list -h"),
        "{err}"
    );
    let o = p.mig(&p.admin, &["file", "-path", "/etc", "-bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("mig file -h"), "{}", stderr(&o));
    // The API says the same to anyone else.
    let err = p
        .api(&p.admin)
        .actions(&[("status", "bogus".into())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not one of"), "{err}");

    // A query the agents would refuse is refused before it is signed.
    let o = p.mig(&p.admin, &["query", "-t", "all", "SELECT path FROM file"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("needs a constraint on 'path' or 'directory'"),
        "{}",
        stderr(&o)
    );

    // Lists have headers and aligned columns; `action list` shows when it was launched.
    let o = p.mig(&p.admin, &["agents"]);
    let header = stdout(&o).lines().next().unwrap_or("").to_string();
    assert!(
        header.starts_with("ID") && header.contains("STATUS") && header.contains("HEARTBEAT"),
        "{}",
        stdout(&o)
    );
    let o = p.mig(
        &p.admin,
        &["file", "-t", "all", "-path", "/nonexistent", "-name", "x"],
    );
    // An agent's errors are shown by default, one short line each.
    assert!(stdout(&o).contains("reader error:"), "{}", stdout(&o));
    let o = p.mig(&p.admin, &["action", "list"]);
    let listed = stdout(&o);
    let lines: Vec<&str> = listed.lines().collect();
    assert!(lines[0].contains("LAUNCHED (UTC)"), "{}", stdout(&o));
    let launched = lines[0].find("LAUNCHED").unwrap();
    assert!(lines[1][launched..].starts_with("20"), "{}", stdout(&o));

    // JSON output carries the real action, not an empty one.
    let o = p.mig(
        &p.admin,
        &[
            "file",
            "-t",
            "all",
            "-o",
            "json",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    let cmds: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        cmds[0]["action"]["target"],
        "status='online'",
        "{}",
        stdout(&o)
    );
    assert!(
        !cmds[0]["action"]["validfrom"]
            .as_str()
            .unwrap()
            .starts_with("0001"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn following_an_action_survives_a_server_restart() {
    use mig_e2e::{acl, Platform};
    let mut p = Platform::start();
    let _agent = p.agent("patient", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("patient");
    // Four seconds of work, followed by `mig`; the server goes away for a moment meanwhile.
    let follow = p
        .mig_command(
            &p.admin,
            &["testsleep", "-t", "all", "-show", "all", "-ms", "4000"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    p.kill_server();
    std::thread::sleep(Duration::from_secs(2));
    p.start_server();
    let out = follow.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains("reconnecting"), "{}", stderr(&out));
    assert!(stderr(&out).contains("completed"), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).matches("patient ").count(),
        1,
        "printed once: {}",
        stdout(&out)
    );
}

#[test]
fn logs_have_no_colour_codes_in_files_and_come_as_json_on_request() {
    use mig_e2e::{acl, Platform};
    let p = Platform::start();
    let agent = p.agent_stopped(
        "logger",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "checkin_idle = \"1s\"\n",
    );
    // Check-in mode: connect, find nothing to do, exit; its log in JSON lines.
    let out = Command::new(bin("mig-agent"))
        .args(["--log-format", "json", "--checkin", "--config"])
        .arg(&agent.config)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stderr).unwrap().lines().collect();
    assert!(lines.len() >= 2, "{lines:?}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("check-in done")),
        "{lines:?}"
    );
    // A server writing its log to a file (the platform's server.log) writes plain text.
    let log = p.server_log();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a log file");
}

#[test]
fn netstat_through_the_agent_names_the_process_that_owns_a_socket() {
    use mig_e2e::{acl, Platform};
    let p = Platform::start();
    let _agent = p.agent("sockets", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("sockets");
    // A listener owned by another process than the agent's.
    let mut listener = Command::new("python3")
        .args([
            "-c",
            "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(listener.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port = port.trim().to_string();
    let o = p.mig(&p.admin, &["netstat", "-t", "all", "-lp", &port]);
    let out = stdout(&o);
    let _ = listener.kill();
    let _ = listener.wait();
    assert!(
        out.contains(&format!("by python3 (pid {})", listener.id())),
        "{out}\n{}",
        stderr(&o)
    );
}
