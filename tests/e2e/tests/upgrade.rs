//! MIG's upgrade protocol, end to end with real processes: agents of version A upgraded to B
//! through a signed `upgrade` action (the binary served by mig-server over HTTPS), the old
//! agent retired by an agentdestroy the scheduler signs with its own key, over the built-in
//! relay and over RabbitMQ; every refusal leaving the agent untouched; a broken new binary
//! rolled back.
//!
//! "Version A" and "version B" are the workspace's agent binary with its version section
//! rewritten: the same code built with another version string (the section is the agent's
//! only notion of its version: heartbeats and `--version` read it).

use mig_e2e::services::Vhost;
use mig_e2e::{bin, free_port, wait_for, AgentProc, Investigator, Platform, ServerOptions};
use mig_pgp::KeySigner;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const OLD: &str = "7.0.0";
const NEW: &str = "7.1.0";
const PROBATION: &str = "upgrade_probation = \"2s\"\nheartbeat = \"2s\"\n";

/// The workspace's agent with its version section saying `version`, written to `dest`.
fn agent_of_version(version: &str, dest: &Path) {
    let mut data = std::fs::read(bin("mig-agent")).unwrap();
    let padded = |text: String| {
        let mut v = text.into_bytes();
        v.resize(64, 0);
        v
    };
    let current = padded(format!("mig-agent {}", env!("CARGO_PKG_VERSION")));
    let at: Vec<usize> = data
        .windows(current.len())
        .enumerate()
        .filter(|(_, w)| *w == current.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the version section is not found exactly once");
    data[at[0]..at[0] + 64].copy_from_slice(&padded(format!("mig-agent {version}")));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(dest, &data).unwrap();
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    mig_host::hash::hex(&sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The investigator the server registered for its scheduler key.
fn scheduler(p: &Platform) -> Investigator {
    let public_file = p.dir.path().join("server/scheduler.pub.asc");
    wait_for("the scheduler's key", Duration::from_secs(20), || {
        public_file.exists().then_some(())
    });
    let mut ring = mig_pgp::Keyring::new();
    ring.add_bytes(&std::fs::read(&public_file).unwrap(), "scheduler")
        .unwrap();
    let fingerprint = ring.keys().next().unwrap().fingerprint.clone();
    Investigator {
        name: "MIG Scheduler".into(),
        key_file: p.dir.path().join("server/scheduler.key.asc"),
        public_file,
        fingerprint,
    }
}

/// Agents trust the investigators for everything (one signature), `upgrade` only with two,
/// and the scheduler for agentdestroy alone.
fn upgrade_acl(admin: &Investigator, second: &Investigator, sched: &Investigator) -> Value {
    let w = |i: &Investigator| json!({"fingerprint": i.fingerprint, "weight": 1});
    json!({
        "default": {"minimumweight": 1, "investigators": {admin.name.clone(): w(admin)}},
        "upgrade": {"minimumweight": 2, "investigators": {
            admin.name.clone(): w(admin), second.name.clone(): w(second)}},
        "agentdestroy": {"minimumweight": 1, "investigators": {sched.name.clone(): w(sched)}},
    })
}

/// The platform with a second investigator (the `upgrade` ACL asks two signatures) and the
/// scheduler's key: (platform, second signer, scheduler).
fn with_signers(p: Platform) -> (Platform, Investigator, Investigator) {
    let second = p.investigator("Second Signer");
    p.add_investigator(&second, "investigator");
    let sched = scheduler(&p);
    (p, second, sched)
}

/// A host trusting both investigators and the scheduler, under [`upgrade_acl`].
fn trusting_host(
    p: &Platform,
    second: &Investigator,
    sched: &Investigator,
    name: &str,
) -> AgentProc {
    host(
        p,
        name,
        &[&p.admin, second, sched],
        upgrade_acl(&p.admin, second, sched),
    )
}

/// Signs an action of one operation by every signer and launches it.
fn launch(
    p: &Platform,
    signers: &[&Investigator],
    target: &str,
    module: &str,
    params: Value,
) -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("upgrade test {}", N.fetch_add(1, Ordering::SeqCst));
    let op = mig_core::Operation::new(module, params);
    let mut action =
        mig_client::build::action(&name, target, vec![op], Duration::from_secs(600), false);
    for s in signers {
        let signer = KeySigner::from_file(&s.key_file, None).unwrap();
        mig_client::build::sign(&mut action, &signer).unwrap();
    }
    p.api(&p.admin).create_action(&action).unwrap().id
}

/// The single result of `agent`'s command in action `id`.
fn result_of(p: &Platform, id: u64, agent: &str) -> (String, mig_core::ModuleResult) {
    let commands = p.api(&p.admin).commands(id, None).unwrap();
    let c = commands
        .into_iter()
        .find(|c| c.agent.name == agent)
        .unwrap_or_else(|| panic!("no command of action {id} for {agent}"));
    (c.status.to_string(), c.results.into_iter().next().unwrap())
}

/// A host: an agent running its own copy of version `OLD` from `<dir>/bin/mig-agent`.
fn host(p: &Platform, name: &str, trusted: &[&Investigator], acl: Value) -> AgentProc {
    host_with(p, name, trusted, acl, "")
}

/// The same, with more agent configuration.
fn host_with(
    p: &Platform,
    name: &str,
    trusted: &[&Investigator],
    acl: Value,
    extra: &str,
) -> AgentProc {
    let mut a = p.agent_stopped(name, trusted, acl, &format!("{PROBATION}{extra}"));
    a.exe = a.dir.join("bin/mig-agent");
    agent_of_version(OLD, &a.exe);
    a.start();
    a
}

/// A release of `version` under the server's releases folder; (URL, SHA-256).
fn release(p: &Platform, version: &str, file: &Path) -> (String, String) {
    let name = format!("{version}/mig-agent-linux-amd64");
    let dest = p.dir.path().join("server/releases").join(&name);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(file, &dest).unwrap();
    (
        format!("https://localhost:{}/releases/{name}", p.api_port),
        sha256(&dest),
    )
}

fn instruction(to: &str, location: &str, checksum: &str) -> Value {
    json!({"linux/amd64": {"to_version": to, "location": location, "checksum": checksum}})
}

fn agent_row(p: &Platform, name: &str) -> mig_core::Agent {
    let agents = p.api(&p.admin).agents(&[]).unwrap();
    agents.into_iter().find(|a| a.name == name).unwrap()
}

/// Three hosts go from OLD to NEW: all report NEW, one agent process each, the old binaries
/// removed, the audit logs tell the story, and the scheduler's key could not do more.
fn upgrade_three_hosts(opts: ServerOptions) {
    let (p, second, sched) = with_signers(Platform::start_with(opts));
    let acl = upgrade_acl(&p.admin, &second, &sched);
    let trusted = [&p.admin, &second, &sched];
    let hosts: Vec<AgentProc> = (1..=3)
        .map(|i| host(&p, &format!("up-{i}"), &trusted, acl.clone()))
        .collect();
    for h in &hosts {
        p.wait_online(&h.name);
        assert_eq!(agent_row(&p, &h.name).version, OLD);
    }
    let old_pids: Vec<u32> = hosts.iter().map(|h| h.pid()).collect();
    let new_binary = p.dir.path().join("build/mig-agent");
    agent_of_version(NEW, &new_binary);
    let (url, sum) = release(&p, NEW, &new_binary);

    let id = launch(
        &p,
        &[&p.admin, &second],
        "name LIKE 'up-%'",
        "upgrade",
        instruction(NEW, &url, &sum),
    );
    let action = p.wait_action(id, Duration::from_secs(120));
    for (h, old_pid) in hosts.iter().zip(&old_pids) {
        let (st, r) = result_of(&p, id, &h.name);
        assert_eq!(st, "success", "{}: {r:?}\n{}", h.name, h.log());
        assert_eq!(r.elements["oldpid"], json!(*old_pid as f64), "{r:?}");
        assert_eq!(r.elements["oldversion"], OLD);
        assert_eq!(r.elements["newversion"], NEW);
    }
    assert_eq!(action.counters.success, 3, "{action:?}");

    // The scheduler retires each old process: one agent process per host, of version NEW.
    for h in &hosts {
        wait_for(
            &format!("{} to run one agent process, of {NEW}", h.name),
            Duration::from_secs(60),
            || {
                let procs = h.processes();
                (procs.len() == 1
                    && procs[0].1 == h.dir.join(format!("bin/mig-agent-{NEW}"))
                    && agent_row(&p, &h.name).version == NEW)
                    .then_some(())
            },
        );
        let bin_dir = h.dir.join("bin");
        assert!(
            !bin_dir.join(format!("mig-agent-{OLD}")).exists(),
            "{}: the old binary is still there",
            h.name
        );
        assert_eq!(
            std::fs::read_link(bin_dir.join("mig-agent")).unwrap(),
            PathBuf::from(format!("mig-agent-{NEW}"))
        );
        let audit = h.audit();
        assert!(audit.contains("\"upgraded\""), "{audit}");
        assert!(audit.contains("agentdestroy"), "{audit}");
    }
    let retired = p
        .api(&p.admin)
        .actions(&[("name", "retire old agent%".into())])
        .unwrap();
    assert_eq!(retired.len(), 3, "{retired:?}");
    for a in &retired {
        let a = p.wait_action(a.id, Duration::from_secs(60));
        assert_eq!(a.counters.success, 1, "{a:?}\n{}", p.server_log());
        assert_eq!(a.investigators[0].name, "MIG Scheduler");
    }

    // The scheduler's key signs agentdestroy and nothing else: a server that holds it (a
    // compromised one) cannot make an agent read a file with it.
    let id = launch(
        &p,
        &[&sched],
        "name='up-1'",
        "file",
        json!({"searches": {"s": {"paths": ["/etc"], "names": ["^hostname$"]}}}),
    );
    p.wait_action(id, Duration::from_secs(60));
    let (st, r) = result_of(&p, id, "up-1");
    assert_eq!(st, "failed");
    assert!(
        r.errors.iter().any(|e| e.contains("refused by the agent")),
        "{r:?}"
    );
}

#[test]
fn three_agents_upgrade_over_the_builtin_relay() {
    upgrade_three_hosts(ServerOptions::default());
}

#[test]
fn three_agents_upgrade_over_rabbitmq() {
    let Some(vhost) = Vhost::create() else {
        return;
    };
    upgrade_three_hosts(ServerOptions {
        amqp_url: Some(vhost.url.clone()),
        ..Default::default()
    });
}

/// Each bad upgrade is refused with its reason, and the agent goes on as it was.
#[test]
fn bad_upgrades_are_refused_and_leave_the_agent_untouched() {
    let (p, second, sched) = with_signers(Platform::start());
    let h = trusting_host(&p, &second, &sched, "steady");
    p.wait_online("steady");
    let pid = h.pid();
    let before = sha256(&h.exe);
    let build = p.dir.path().join("build");
    agent_of_version(NEW, &build.join("new"));
    agent_of_version("7.2.0", &build.join("other"));
    agent_of_version("6.0.0", &build.join("older"));
    let (new_url, new_sum) = release(&p, NEW, &build.join("new"));
    let (other_url, other_sum) = release(&p, "7.2.0", &build.join("other"));
    let (older_url, older_sum) = release(&p, "6.0.0", &build.join("older"));
    let nothing_listens = format!("https://127.0.0.1:{}/mig-agent", free_port());
    let wrong_sum = "0".repeat(64);
    let both = [&p.admin, &second];

    let cases: Vec<(&str, Vec<&Investigator>, Value, &str)> = vec![
        (
            "checksum mismatch",
            both.to_vec(),
            instruction(NEW, &new_url, &wrong_sum),
            "checksum mismatch",
        ),
        (
            "unreachable location",
            both.to_vec(),
            instruction(NEW, &nothing_listens, &new_sum),
            "download failed",
        ),
        (
            "binary of another version",
            both.to_vec(),
            instruction(NEW, &other_url, &other_sum),
            "version mismatch",
        ),
        (
            "downgrade",
            both.to_vec(),
            instruction("6.0.0", &older_url, &older_sum),
            "refusing to downgrade from 7.0.0 to 6.0.0",
        ),
        (
            "one signature where the ACL asks two",
            vec![&p.admin],
            instruction(NEW, &new_url, &new_sum),
            "refused by the agent",
        ),
    ];
    for (what, signers, params, want) in cases {
        let id = launch(&p, &signers, "name='steady'", "upgrade", params);
        p.wait_action(id, Duration::from_secs(60));
        let (st, r) = result_of(&p, id, "steady");
        assert_eq!(st, "failed", "{what}: {r:?}");
        assert!(
            r.errors.iter().any(|e| e.contains(want)),
            "{what}: expected {want:?} in {:?}\n{}",
            r.errors,
            h.log()
        );
        // Untouched: the same process, binary and version, nothing left beside it.
        assert_eq!(h.processes(), vec![(pid, h.exe.clone())], "{what}");
        assert_eq!(sha256(&h.exe), before, "{what}");
        let files: Vec<String> = std::fs::read_dir(h.exe.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["mig-agent"], "{what}");
        assert_eq!(agent_row(&p, "steady").version, OLD, "{what}");
    }
    // The downgrade goes through when the signed parameters allow it.
    let mut allowed = instruction("6.0.0", &older_url, &older_sum);
    allowed["linux/amd64"]["allow_downgrade"] = json!(true);
    let id = launch(&p, &both, "name='steady'", "upgrade", allowed);
    p.wait_action(id, Duration::from_secs(120));
    let (st, r) = result_of(&p, id, "steady");
    assert_eq!(st, "success", "{r:?}\n{}", h.log());
    assert_eq!(r.elements["newversion"], "6.0.0");
}

/// A program that carries a mig-agent version section but is no agent: it exits at once
/// (`exit`), or runs without ever connecting (`sleep`).
fn broken_agent(version: &str, behaviour: &str, dest: &Path) {
    let body = match behaviour {
        "exit" => "return 3;",
        _ => "for (;;) pause(); return 0;",
    };
    let src = dest.with_extension("c");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(
        &src,
        format!(
            "#include <unistd.h>\n__attribute__((used, section(\".mig_agent_version\"))) \
             static const char version[64] = \"mig-agent {version}\";\n\
             int main(void) {{ {body} }}\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new("cc")
        .arg("-o")
        .arg(dest)
        .arg(&src)
        .output()
        .expect("cc (gcc) is needed to build the broken agent");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new binary that exits at once, and one that never connects, are both rolled back: the
/// old agent takes its place back and says why.
#[test]
fn a_broken_new_agent_is_rolled_back() {
    let (p, second, sched) = with_signers(Platform::start());
    let h = trusting_host(&p, &second, &sched, "phoenix");
    p.wait_online("phoenix");
    let pid = h.pid();
    let before = sha256(&h.exe);
    for (version, behaviour, want) in [
        ("7.3.0", "exit", "the new agent exited"),
        ("7.4.0", "sleep", "did not stay connected"),
    ] {
        let file = p.dir.path().join(format!("build/{behaviour}"));
        broken_agent(version, behaviour, &file);
        let (url, sum) = release(&p, version, &file);
        let id = launch(
            &p,
            &[&p.admin, &second],
            "name='phoenix'",
            "upgrade",
            instruction(version, &url, &sum),
        );
        // Rolled back within a minute (the probation is 2 s; the deadline twice that + 10 s).
        p.wait_action(id, Duration::from_secs(60));
        let (st, r) = result_of(&p, id, "phoenix");
        assert_eq!(st, "failed", "{r:?}\n{}", h.log());
        assert!(
            r.errors
                .iter()
                .any(|e| e.starts_with("rolled back: ") && e.contains(want)),
            "{r:?}"
        );
        assert_eq!(h.processes(), vec![(pid, h.exe.clone())]);
        assert!(!std::fs::symlink_metadata(&h.exe)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(sha256(&h.exe), before);
        assert!(!h.dir.join(format!("bin/mig-agent-{version}")).exists());
        assert!(h.audit().contains("rolled back"));
        // Still the agent it was: online and answering.
        p.wait_online("phoenix");
        let id = p.launch(
            &p.admin,
            "name='phoenix'",
            "file",
            json!({"searches": {"s": {"paths": ["/etc"], "names": ["^hostname$"]}}}),
            Duration::from_secs(60),
        );
        assert_eq!(
            p.wait_action(id, Duration::from_secs(60)).counters.success,
            1
        );
    }
}

/// `mig upgrade` from a release folder: the plan signed by two investigators, a canary wave,
/// then the rest; `mig upgrade status` shows the fleet on the new version.
#[test]
fn mig_upgrade_rolls_a_release_out_in_waves() {
    let (p, second, sched) = with_signers(Platform::start());
    let acl = upgrade_acl(&p.admin, &second, &sched);
    let trusted = [&p.admin, &second, &sched];
    let hosts: Vec<AgentProc> = (1..=3)
        .map(|i| host(&p, &format!("wave-{i}"), &trusted, acl.clone()))
        .collect();
    for h in &hosts {
        p.wait_online(&h.name);
    }
    // The release folder, copied under the server's releases folder as operators do.
    let release = p.dir.path().join("server/releases/r7.1");
    agent_of_version(NEW, &release.join("mig-agent-linux-amd64"));
    let plan = p.dir.path().join("plan.json");
    let plan_arg = plan.display().to_string();
    let release_arg = release.display().to_string();
    let out = p.mig(
        &p.admin,
        &[
            "upgrade",
            "--release",
            &release_arg,
            "-t",
            "name LIKE 'wave-%'",
            "--canary",
            "34%",
            "--save",
            &plan_arg,
        ],
    );
    assert!(out.status.success(), "{}", mig_e2e::stderr(&out));
    let saved: Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    assert_eq!(saved["waves"].as_array().unwrap().len(), 2, "{saved}");
    assert_eq!(saved["waves"][0]["agents"].as_array().unwrap().len(), 2);
    // Signed once: the agents' ACL asks two for upgrade, so the second investigator signs.
    let out = p.mig(&second, &["upgrade", "--plan", &plan_arg, "--sign"]);
    assert!(out.status.success(), "{}", mig_e2e::stderr(&out));
    let out = p.mig(&p.admin, &["upgrade", "--plan", &plan_arg]);
    let text = mig_e2e::stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}\n{}",
        mig_e2e::stderr(&out),
        p.server_log()
    );
    assert!(
        text.contains("wave canary: every agent runs 7.1.0"),
        "{text}"
    );
    assert!(text.contains("wave rest: every agent runs 7.1.0"), "{text}");
    let out = p.mig(&p.admin, &["upgrade", "status", "-t", "name LIKE 'wave-%'"]);
    let text = mig_e2e::stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with(NEW) && l.split_whitespace().nth(1) == Some("3")),
        "{text}"
    );
}

/// A rollout stops at a canary wave that fails: the rest of the fleet is not touched.
#[test]
fn a_failed_canary_stops_the_rollout() {
    let p = Platform::start();
    let sched = scheduler(&p);
    let second = p.investigator("Second Signer");
    let acl = upgrade_acl(&p.admin, &second, &sched);
    let hosts: Vec<AgentProc> = (1..=2)
        .map(|i| host(&p, &format!("halt-{i}"), &[&p.admin, &sched], acl.clone()))
        .collect();
    for h in &hosts {
        p.wait_online(&h.name);
    }
    let release = p.dir.path().join("server/releases/r7.1");
    agent_of_version(NEW, &release.join("mig-agent-linux-amd64"));
    let release_arg = release.display().to_string();
    // One signature where the agents' ACL asks two: the canary refuses.
    let out = p.mig(
        &p.admin,
        &[
            "upgrade",
            "--release",
            &release_arg,
            "-t",
            "name LIKE 'halt-%'",
            "--canary",
            "50%",
        ],
    );
    let text = mig_e2e::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        mig_e2e::stderr(&out)
    );
    assert!(text.contains("wave canary is not healthy"), "{text}");
    assert!(text.contains("refused by the agent"), "{text}");
    let launched = p.api(&p.admin).actions(&[]).unwrap();
    assert!(
        launched.iter().all(|a| !a.name.contains("(rest)")),
        "{launched:?}"
    );
    for h in &hosts {
        assert_eq!(agent_row(&p, &h.name).version, OLD);
    }
}

/// Signs `dir`'s manifest (listing `names`) with `signer`.
fn sign_manifest(dir: &Path, names: &[&str], signer: &KeySigner) {
    use mig_pgp::release::{Manifest, MANIFEST, SIGNATURE};
    use mig_pgp::Signer;
    let _ = std::fs::remove_file(dir.join(MANIFEST));
    let _ = std::fs::remove_file(dir.join(SIGNATURE));
    let mut m = Manifest::of_folder(dir, NEW, "").unwrap();
    m.artifacts.retain(|a| names.contains(&a.name.as_str()));
    let text = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(dir.join(MANIFEST), &text).unwrap();
    std::fs::write(dir.join(SIGNATURE), signer.sign(&text).unwrap()).unwrap();
}

/// An agent given a release keyring installs an upgrade only if the binary is in a manifest
/// signed by a release key, beside the investigators' signed checksum: two independent keys.
#[test]
fn an_agent_with_a_release_keyring_needs_the_signed_manifest() {
    use mig_pgp::keygen::{generate_key, KeyAlgorithm};
    let (p, second, sched) = with_signers(Platform::start());
    let new_key = |name: &str| {
        let key = generate_key(
            &format!("{name} <{name}@example.com>"),
            KeyAlgorithm::Ed25519,
            false,
        )
        .unwrap();
        KeySigner::new(key, None).unwrap()
    };
    let release_key = new_key("release");
    let intruder = new_key("intruder");
    let keyring = p.dir.path().join("release-keyring.asc");
    std::fs::write(&keyring, release_key.public_key_armored().unwrap()).unwrap();
    let h = host_with(
        &p,
        "guarded",
        &[&p.admin, &second, &sched],
        upgrade_acl(&p.admin, &second, &sched),
        &format!("release_keyring = {:?}\n", keyring.display().to_string()),
    );
    p.wait_online("guarded");
    let built = p.dir.path().join("build/new");
    agent_of_version(NEW, &built);
    let (url, sum) = release(&p, NEW, &built);
    let folder = p.dir.path().join(format!("server/releases/{NEW}"));
    std::fs::write(folder.join("mig_7.1.0_amd64.deb"), b"a package").unwrap();
    let both = [&p.admin, &second];
    let upgrade = || {
        let id = launch(
            &p,
            &both,
            "name='guarded'",
            "upgrade",
            instruction(NEW, &url, &sum),
        );
        p.wait_action(id, Duration::from_secs(120));
        result_of(&p, id, "guarded")
    };
    for (what, names, signer, want) in [
        (
            "binary missing from the manifest",
            vec!["mig_7.1.0_amd64.deb"],
            &release_key,
            "the release manifest: mig-agent-linux-amd64 is not in the signed manifest",
        ),
        (
            "manifest signed by another key",
            vec!["mig-agent-linux-amd64", "mig_7.1.0_amd64.deb"],
            &intruder,
            "the release manifest: the manifest's signature is not accepted: unknown signer",
        ),
    ] {
        sign_manifest(&folder, &names, signer);
        let (st, r) = upgrade();
        assert_eq!(st, "failed", "{what}: {r:?}");
        assert!(r.errors.iter().any(|e| e.contains(want)), "{what}: {r:?}");
        assert_eq!(h.processes(), vec![(h.pid(), h.exe.clone())], "{what}");
        assert_eq!(agent_row(&p, "guarded").version, OLD, "{what}");
    }
    sign_manifest(
        &folder,
        &["mig-agent-linux-amd64", "mig_7.1.0_amd64.deb"],
        &release_key,
    );
    let (st, r) = upgrade();
    assert_eq!(st, "success", "{r:?}\n{}", h.log());
    assert_eq!(r.elements["newversion"], NEW);
}

/// An old agent the scheduler cannot retire (here the agent's ACL does not trust the
/// scheduler's key) lingers: the server does not guess further, and `mig upgrade status`
/// shows investigators which one and why.
#[test]
fn an_old_agent_the_scheduler_cannot_retire_is_shown() {
    let (p, second, sched) = with_signers(Platform::start());
    let mut acl = upgrade_acl(&p.admin, &second, &sched);
    acl.as_object_mut().unwrap().remove("agentdestroy");
    let h = host(&p, "stuck", &[&p.admin, &second], acl);
    p.wait_online("stuck");
    let old_pid = h.pid();
    let built = p.dir.path().join("build/new");
    agent_of_version(NEW, &built);
    let (url, sum) = release(&p, NEW, &built);
    let id = launch(
        &p,
        &[&p.admin, &second],
        "name='stuck'",
        "upgrade",
        instruction(NEW, &url, &sum),
    );
    p.wait_action(id, Duration::from_secs(120));
    assert_eq!(result_of(&p, id, "stuck").0, "success");
    let retire = wait_for("the retire action", Duration::from_secs(30), || {
        let found = p
            .api(&p.admin)
            .actions(&[("name", "retire old agent%".into())])
            .ok()?;
        found.into_iter().next()
    });
    let retire = p.wait_action(retire.id, Duration::from_secs(60));
    assert_eq!(retire.counters.success, 0, "{retire:?}");
    // Both processes are still there: the old one idle, off the relay.
    let pids: Vec<u32> = h.processes().into_iter().map(|(pid, _)| pid).collect();
    assert!(pids.contains(&old_pid) && pids.len() == 2, "{pids:?}");
    let out = p.mig(&p.admin, &["upgrade", "status", "-t", "name='stuck'"]);
    let text = mig_e2e::stdout(&out);
    assert!(
        text.contains("old agent still running on stuck") && text.contains("refused by the agent"),
        "{text}"
    );
}
