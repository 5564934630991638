//! The platform end to end: mig → mig-server → mig-agent and back, with real processes.

use mig_e2e::{acl, stderr, stdout, wait_for, Platform};
use serde_json::Value;
use std::time::Duration;

fn action_id(stderr_text: &str) -> u64 {
    stderr_text
        .lines()
        .find_map(|l| {
            l.strip_prefix("action ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no action id in {stderr_text}"))
}

fn marker_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("marker.conf"), "secret=42\n").unwrap();
    d
}

#[test]
fn file_search_local_json_and_chained_targets() {
    let p = Platform::start();
    let _a = p.agent("alpha", &[&p.admin], acl(1, &[&p.admin]), "");
    let _b = p.agent("beta", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("alpha");
    p.wait_online("beta");
    let d = marker_dir();
    let path = d.path().to_str().unwrap();

    let out = p.mig(
        &p.admin,
        &["file", "-t", "all", "-path", path, "-name", "^marker"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for agent in ["alpha", "beta"] {
        assert!(
            text.contains(&format!("{agent} {path}/marker.conf [lastmodified:")),
            "{text}"
        );
    }
    let first = action_id(&stderr(&out));

    // JSON output parses back into commands.
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-o",
            "json",
            "-path",
            path,
            "-content",
            "^secret=4[0-9]$",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cmds: Vec<mig_core::Command> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(cmds.len(), 2);
    assert!(cmds
        .iter()
        .all(|c| c.status == "success" && c.found_anything()));

    // Nothing found: exit code 1.
    let out = p.mig(&p.admin, &["file", "-path", path, "-name", "^absent$"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // Locally, without the server.
    let out = p.mig(
        &p.admin,
        &["file", "-t", "local", "-path", path, "-name", "^marker"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Statistics: "), "{}", stdout(&out));
    // -show found leaves the statistics out; -show notfound prints nothing for a find.
    let local = |show: &str| {
        let args = [
            "file", "-t", "local", "-show", show, "-path", path, "-name", "^marker",
        ];
        stdout(&p.mig(&p.admin, &args))
    };
    let found = local("found");
    assert!(
        found.contains("marker.conf") && !found.contains("Statistics"),
        "{found}"
    );
    assert_eq!(local("notfound"), "");
    // NDJSON: one command per line; -V prints the version.
    let out = p.mig(
        &p.admin,
        &["file", "-o", "ndjson", "-path", path, "-name", "^marker"],
    );
    let lines: Vec<mig_core::Command> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    let out = p.mig(&p.admin, &["file", "-V"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("mig {}", env!("CARGO_PKG_VERSION"))
    );

    // -target-found chains a second action onto the agents that found something.
    std::fs::remove_file(d.path().join("marker.conf")).unwrap();
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-t",
            "name='alpha'",
            "-path",
            path,
            "-name",
            "^marker",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let second = action_id(&stderr(&out));
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-target-found",
            &first.to_string(),
            "-path",
            "/etc",
            "-name",
            "^hostname$",
            "-show",
            "all",
        ],
    );
    assert!(
        stderr(&out).contains("matches 2 agent(s)"),
        "{}",
        stderr(&out)
    );
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-target-notfound",
            &second.to_string(),
            "-path",
            "/etc",
            "-name",
            "^hostname$",
            "-show",
            "all",
        ],
    );
    assert!(
        stderr(&out).contains("matches 1 agent(s)"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("alpha"), "{}", stdout(&out));

    // mig action show / list read it back.
    let out = p.mig(
        &p.admin,
        &["action", "show", &first.to_string(), "-o", "text"],
    );
    assert!(stdout(&out).contains("success 2"), "{}", stdout(&out));
    let out = p.mig(&p.admin, &["action", "list"]);
    assert!(stdout(&out).contains(&first.to_string()));
}

#[test]
fn each_agent_applies_its_own_acl() {
    let p = Platform::start();
    let lax = p.agent("lax", &[&p.admin], acl(1, &[&p.admin]), "");
    let strict = p.agent("strict", &[&p.admin], acl(2, &[&p.admin]), "");
    p.wait_online("lax");
    p.wait_online("strict");
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-show",
            "all",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    let text = stdout(&out);
    assert!(text.contains("lax /etc/hostname"), "{text}");
    assert!(
        text.contains("strict command") && text.contains("failed"),
        "{text}"
    );
    assert!(text.contains("ACL weight 1 < 2 for module file"), "{text}");
    assert!(
        lax.audit().contains("\"outcome\":\"ran\""),
        "{}",
        lax.audit()
    );
    assert!(
        strict.audit().contains("\"outcome\":\"refused\""),
        "{}",
        strict.audit()
    );
    // The audit log names the signer for the endpoint's users, refused actions included.
    assert!(lax.audit().contains(&p.admin.fingerprint));
    assert!(
        strict.audit().contains(&p.admin.fingerprint),
        "{}",
        strict.audit()
    );
    let out = std::process::Command::new(mig_e2e::bin("mig-agent"))
        .args(["--config"])
        .arg(&strict.config)
        .arg("audit")
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("refused") && stdout(&out).contains("ACL weight 1 < 2"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn two_investigators_sign_what_one_cannot() {
    let p = Platform::start();
    let bob = p.investigator("Bob");
    p.add_investigator(&bob, "investigator");
    let _a = p.agent("vault", &[&p.admin, &bob], acl(2, &[&p.admin, &bob]), "");
    p.wait_online("vault");

    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-show",
            "all",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    assert!(
        stdout(&out).contains("ACL weight 1 < 2"),
        "one signature is not enough: {}",
        stdout(&out)
    );

    let file = p.dir.path().join("dual.json");
    let f = file.to_str().unwrap();
    let out = p.mig(
        &p.admin,
        &[
            "action",
            "create",
            "--sign",
            "-o",
            f,
            "file",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = p.mig(&bob, &["action", "sign", f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let signed: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(signed["pgpsignatures"].as_array().unwrap().len(), 2);
    let out = p.mig(&bob, &["action", "launch", f, "-y"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("vault /etc/hostname"),
        "{}",
        stdout(&out)
    );
    // Signing the same action again is refused (agents would reject the duplicate signer).
    let out = p.mig(&bob, &["action", "sign", f]);
    assert!(
        stderr(&out).contains("already signed by"),
        "{}",
        stderr(&out)
    );

    // MIG's way: the first investigator prints a signed action (-p -s), the second adds a
    // signature with -i FILE -s, and either launches it with -i.
    let one = p.dir.path().join("one.json");
    let out = p.mig(
        &p.admin,
        // A name of its own: the same signed text as the action above would be a replay.
        &[
            "file",
            "-s",
            "-n",
            "mig-style dual",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(&one, &out.stdout).unwrap();
    let out = p.mig(&bob, &["file", "-i", one.to_str().unwrap(), "-s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let two: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(two["pgpsignatures"].as_array().unwrap().len(), 2, "{two}");
    let both = p.dir.path().join("two.json");
    std::fs::write(&both, &out.stdout).unwrap();
    let out = p.mig(
        &p.admin,
        &["file", "-i", both.to_str().unwrap(), "-y", "-show", "all"],
    );
    assert!(
        stdout(&out).contains("vault /etc/hostname"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn offline_agents_get_queued_commands_until_expiry() {
    let p = Platform::start();
    let mut late = p.agent("late", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("late");
    late.stop();

    // Queued while the agent is away, delivered when it comes back.
    let api = p.api(&p.admin);
    let run = |expire: &str| {
        p.mig(
            &p.admin,
            &[
                "file",
                "-t",
                "name='late'",
                "-e",
                expire,
                "-path",
                "/etc",
                "-name",
                "^hostname$",
            ],
        )
    };
    let spawn = std::thread::scope(|s| {
        let h = s.spawn(|| run("60s"));
        std::thread::sleep(Duration::from_secs(2));
        late.start();
        h.join().unwrap()
    });
    assert_eq!(
        spawn.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&spawn),
        stderr(&spawn)
    );
    assert!(stdout(&spawn).contains("late /etc/hostname"));

    // Back only after expiry: never runs it.
    late.stop();
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-t",
            "name='late'",
            "-e",
            "3s",
            "-path",
            "/etc",
            "-name",
            "^passwd$",
        ],
    );
    let id = action_id(&stderr(&out));
    let a = p.wait_action(id, Duration::from_secs(30));
    assert_eq!(a.status, "expired");
    assert_eq!(a.counters.expired, 1);
    late.start();
    p.wait_online("late");
    std::thread::sleep(Duration::from_secs(2));
    let audit = late.audit();
    assert!(
        !audit.contains(&id.to_string()),
        "an expired action must never run: {audit}"
    );
    let _ = api;
}

#[test]
fn server_killed_mid_action_carries_on_without_resending() {
    let mut p = Platform::start();
    let early = p.agent("early", &[&p.admin], acl(1, &[&p.admin]), "");
    let mut late = p.agent("late", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("early");
    p.wait_online("late");
    late.stop();

    let file = p.dir.path().join("action.json");
    let f = file.to_str().unwrap();
    let out = p.mig(
        &p.admin,
        &[
            "action",
            "create",
            "--sign",
            "-e",
            "120s",
            "-o",
            f,
            "file",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let api = p.api(&p.admin);
    let action: mig_core::Action = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let created = api.create_action(&action).unwrap();
    // The early agent answers; the late one is away.
    wait_for("the early agent's result", Duration::from_secs(30), || {
        (api.action(created.id).ok()?.counters.success == 1).then_some(())
    });

    p.kill_server();
    p.start_server();
    late.start();
    let done = p.wait_action(created.id, Duration::from_secs(60));
    assert_eq!(done.status, "completed");
    assert_eq!((done.counters.sent, done.counters.success), (2, 2));
    // The agent that had answered was not sent the command again (a run is two audit
    // entries: it started, it ran).
    let runs = early.audit().matches("\"outcome\":\"ran\"").count();
    assert_eq!(runs, 1, "{}", early.audit());
    assert_eq!(early.audit().lines().count(), 2, "{}", early.audit());
    let cmds = p.api(&p.admin).commands(created.id, None).unwrap();
    assert_eq!(cmds.len(), 2);
    // The early agent reconnected by itself and takes new work.
    p.wait_online("early");
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-t",
            "name='early'",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn agent_restart_keeps_its_identity() {
    let p = Platform::start();
    let mut a = p.agent("steady", &[&p.admin], acl(1, &[&p.admin]), "");
    let before = p.wait_online("steady");
    a.stop();
    a.start();
    std::thread::sleep(Duration::from_secs(1));
    let after = p.wait_online("steady");
    assert_eq!(before["id"], after["id"]);
    assert_eq!(before["queueloc"], after["queueloc"]);
    assert_ne!(before["pid"], after["pid"]);
}

#[test]
fn hanging_and_greedy_modules_are_stopped() {
    let p = Platform::start();
    let _a = p.agent(
        "box",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "module_timeout = \"3s\"\nmodule_memory_mb = 128\n",
    );
    p.wait_online("box");
    let out = p.mig(&p.admin, &["testhang", "-show", "all", "-o", "json"]);
    let cmds: Vec<mig_core::Command> =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    assert_eq!(cmds[0].status, "timeout");
    assert!(
        cmds[0].results[0].errors[0].contains("did not finish within 3s and was killed"),
        "{:?}",
        cmds[0].results
    );

    let out = p.mig(&p.admin, &["testalloc", "-show", "all", "-o", "json"]);
    let cmds: Vec<mig_core::Command> =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    assert_eq!(cmds[0].status, "failed");
    assert!(
        cmds[0].results[0].errors[0].contains("memory limit of 128 MiB"),
        "{:?}",
        cmds[0].results
    );

    // The agent lives on.
    let out = p.mig(&p.admin, &["file", "-path", "/etc", "-name", "^hostname$"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
