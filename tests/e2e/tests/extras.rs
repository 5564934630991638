//! The rest of what users touch: the one-command dev platform, check-in mode, local runs, the
//! sandbox as a module sees it, privacy mode, the whitelist, the ACL courtesy check, cancel,
//! and agents behind a proxy.

use mig_e2e::{acl, bin, stderr, stdout, wait_for, Platform};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn dev_platform_in_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let dev = mig_e2e::dev::Dev::start(dir.path(), &["--agents", "2"]);
    let said = &dev.said;
    assert!(said.contains("export MIG_CONFIG="), "{said}");
    let config = dir.path().canonicalize().unwrap().join("client.toml");
    let mig = |args: &[&str]| {
        Command::new(bin("mig"))
            .args(args)
            .env("MIG_CONFIG", &config)
            .output()
            .unwrap()
    };
    let o = wait_for("both dev agents", Duration::from_secs(30), || {
        let o = mig(&["file", "-t", "all", "-path", "/etc", "-name", "^passwd$"]);
        stderr(&o).contains("matches 2 agent(s)").then_some(o)
    });
    // Both streams: a failed command's reason is in the results on stdout.
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stderr(&o), stdout(&o));
    for agent in ["-dev0 /etc/passwd", "-dev1 /etc/passwd"] {
        assert!(stdout(&o).contains(agent), "{}\n{}", stderr(&o), stdout(&o));
    }
    let o = mig(&["file", "-t", "local", "-path", "/etc", "-name", "^passwd$"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("/etc/passwd [lastmodified:"));
    dev.stop();
}

/// `mig action create --sign` of a search for /etc/hostname on `target`, with `options`
/// before the module: the signed action it wrote.
fn signed_hostname_search(p: &Platform, target: &str, options: &[&str]) -> mig_core::Action {
    let file = p
        .dir
        .path()
        .join(format!("action-{}.json", mig_core::id::generate()));
    let mut args = vec!["action", "create", "--sign", "-t", target, "-o"];
    args.push(file.to_str().unwrap());
    args.extend_from_slice(options);
    args.extend_from_slice(&["file", "-path", "/etc", "-name", "^hostname$"]);
    let o = p.mig(&p.admin, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
}

#[test]
fn checkin_mode_runs_what_is_queued_then_exits() {
    let p = Platform::start();
    let mut a = p.agent(
        "cron",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "checkin_idle = \"2s\"\n",
    );
    p.wait_online("cron");
    a.stop();
    let action = signed_hostname_search(&p, "name='cron'", &[]);
    let created = p.api(&p.admin).create_action(&action).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let start = std::time::Instant::now();
    let status = Command::new(bin("mig-agent"))
        .arg("--config")
        .arg(&a.config)
        .arg("--checkin")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "check-in took {:?}",
        start.elapsed()
    );
    let done = p.wait_action(created.id, Duration::from_secs(10));
    assert_eq!(
        (done.status.as_str(), done.counters.success),
        ("completed", 1)
    );
    let agents = p.api(&p.admin).agents(&[("name", "cron".into())]).unwrap();
    assert_eq!(agents[0].mode, "checkin");
    // MIG's heartbeat file.
    let ok: mig_core::Agent =
        serde_json::from_slice(&std::fs::read(a.dir.join("run/mig-agent.ok")).unwrap()).unwrap();
    assert_eq!(ok.name, "cron");
}

#[test]
fn local_action_file_runs_without_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let action = serde_json::json!({
        "name": "local", "target": "local", "syntaxversion": 2,
        "validfrom": "2020-01-01T00:00:00Z", "expireafter": "2099-01-01T00:00:00Z",
        "operations": [{"module": "file", "parameters": {"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"], "options": {"matchall": true}}}}}],
        "pgpsignatures": []
    });
    let f = dir.path().join("a.json");
    std::fs::write(&f, action.to_string()).unwrap();
    let o = Command::new(bin("mig-agent"))
        .arg("-i")
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cmd: mig_core::Command = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cmd.status, "success");
    assert!(cmd.results[0].foundanything);
}

#[test]
fn modules_are_confined_and_privacy_masks_names() {
    let p = Platform::start();
    let _a = p.agent("jail", &[&p.admin], acl(1, &[&p.admin]), "privacy = true\n");
    p.wait_online("jail");
    let o = p.mig(&p.admin, &["testprobe", "-o", "json"]);
    let cmds: Vec<mig_core::Command> =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    let probe = &cmds[0].results[0].elements;
    assert_eq!(probe["write"], "denied", "landlock: {probe}");
    assert_eq!(probe["socket"], "denied", "seccomp: {probe}");
    assert_eq!(probe["ptrace"], "denied", "seccomp: {probe}");
    // Modules that read other processes are not landlocked (landlock would hide them): the
    // filesystem is read-only through seccomp instead.
    let o = p.mig(&p.admin, &["testprobeproc", "-o", "json"]);
    let cmds: Vec<mig_core::Command> =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    let proc_probe = &cmds[0].results[0].elements;
    for what in ["write", "mkdir", "socket", "ptrace"] {
        assert_eq!(proc_probe[what], "denied", "{what}: {proc_probe}");
    }
    assert_eq!(proc_probe["peer"], "allowed", "{proc_probe}");
    assert_eq!(probe["mkdir"], "denied", "landlock: {probe}");
    // Running as root, a reading module keeps only CAP_DAC_READ_SEARCH; one that reads
    // other processes, CAP_SYS_PTRACE too.
    if std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .contains("CapEff:\t000001ffffffffff")
    {
        assert_eq!(probe["capeff"], "0000000000000004", "capabilities: {probe}");
        assert_eq!(
            proc_probe["capeff"], "0000000000080004",
            "capabilities: {proc_probe}"
        );
    }
    let o = p.mig(
        &p.admin,
        &["file", "-o", "json", "-path", "/etc", "-name", "^hostname$"],
    );
    let cmds: Vec<mig_core::Command> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(cmds[0].found_anything());
    assert_eq!(cmds[0].results[0].elements["s1"][0]["file"], "[masked]");
}

#[test]
fn whitelist_acl_courtesy_and_cancel() {
    let acl_path = tempfile::NamedTempFile::new().unwrap();
    let mut p = Platform::start();
    p.kill_server();
    std::fs::write(acl_path.path(), acl(2, &[&p.admin]).to_string()).unwrap();
    let cfg = std::fs::read_to_string(p.server_config()).unwrap();
    let cfg = format!(
        "acl = {:?}\n{cfg}\n[agents]\nwhitelist_enabled = true\nwhitelist = [\"re:^linux\\\\.listed\\\\.\"]\n",
        acl_path.path().display().to_string()
    );
    std::fs::write(p.server_config(), cfg).unwrap();
    p.start_server();
    let _listed = p.agent("listed", &[&p.admin], acl(1, &[&p.admin]), "");
    let stranger = p.agent("stranger", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("listed");
    wait_for(
        "the stranger to be refused",
        Duration::from_secs(20),
        || stranger.log().contains("not whitelisted").then_some(()),
    );

    // The server has the agents' ACL: one signature (weight 1 < 2) is refused up front.
    let o = p.mig(&p.admin, &["file", "-path", "/etc", "-name", "^hostname$"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ACL would refuse"), "{}", stderr(&o));

    // Cancel: an action for an agent that never answers.
    let mut a = mig_client::build::action(
        "to cancel",
        "name='listed'",
        vec![mig_core::Operation::new("testhang", serde_json::json!({}))],
        Duration::from_secs(300),
        false,
    );
    let bob = p.investigator("Bob");
    p.add_investigator(&bob, "investigator");
    std::fs::write(acl_path.path(), acl(1, &[&p.admin]).to_string()).unwrap();
    p.kill_server();
    p.start_server();
    mig_client::build::sign(
        &mut a,
        &mig_pgp::KeySigner::from_file(&p.admin.key_file, None).unwrap(),
    )
    .unwrap();
    let created = p.api(&p.admin).create_action(&a).unwrap();
    p.wait_online("listed");
    wait_for("the command to be sent", Duration::from_secs(20), || {
        (p.api(&p.admin).action(created.id).ok()?.status == "inflight").then_some(())
    });
    let o = p.mig(&p.admin, &["action", "cancel", &created.id.to_string()]);
    assert!(
        stdout(&o).contains("1 commands withdrawn"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let after = p.api(&p.admin).action(created.id).unwrap();
    assert_eq!(
        (after.status.as_str(), after.counters.cancelled),
        ("cancelled", 1)
    );
    let _ = bob;
}

/// A minimal HTTP CONNECT proxy that counts the tunnels it opened.
fn connect_proxy() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                let target = request.split_whitespace().nth(1).unwrap().to_string();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let upstream = TcpStream::connect(&target).unwrap();
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut client = client;
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut a, mut b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                });
                let (mut up, mut down) = (upstream, client);
                let mut buf = [0u8; 16384];
                while let Ok(n) = up.read(&mut buf) {
                    if n == 0 || down.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, count)
}

#[test]
fn agents_reach_the_relay_through_a_proxy() {
    let p = Platform::start();
    let (port, tunnels) = connect_proxy();
    let _a = p.agent(
        "proxied",
        &[&p.admin],
        acl(1, &[&p.admin]),
        &format!("proxy = \"127.0.0.1:{port}\"\n"),
    );
    let agent = p.wait_online("proxied");
    assert!(tunnels.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(agent["environment"]["isproxied"], true);
    let o = p.mig(&p.admin, &["file", "-path", "/etc", "-name", "^hostname$"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn heartbeats_describe_the_endpoint() {
    let p = Platform::start();
    let a = p.agent(
        "described",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "[tags]\nteam = \"incident-response\"\n",
    );
    let hb = p.wait_online("described");
    let env = &hb["environment"];
    assert_eq!(hb["mode"], "daemon", "{hb:#}");
    assert_eq!(hb["pid"], a.pid() as i64, "{hb:#}");
    assert!(
        hb["queueloc"].as_str().unwrap().starts_with("linux."),
        "{hb:#}"
    );
    assert!(!hb["version"].as_str().unwrap_or("").is_empty(), "{hb:#}");
    assert_eq!(hb["tags"]["team"], "incident-response", "{hb:#}");
    assert_eq!(env["os"], "linux", "{hb:#}");
    // Go's architecture names, as MIG reports them.
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(env["arch"], arch, "{hb:#}");
    if let Ok(release) = std::fs::read_to_string("/etc/os-release") {
        let pretty = release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default();
        assert!(
            env["ident"].as_str().unwrap_or("").contains(&pretty),
            "ident should name the distribution ({pretty}): {hb:#}"
        );
    }
    let addresses: Vec<&str> = env["addresses"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    // The same addresses as `ip addr`, loopback left out, in MIG's CIDR form.
    let ip = Command::new("ip")
        .args(["-o", "addr", "show"])
        .output()
        .unwrap();
    let mut expected: Vec<String> = String::from_utf8_lossy(&ip.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 3 && f[1] != "lo").then(|| f[3].to_string())
        })
        .collect();
    let mut reported: Vec<String> = addresses.iter().map(|s| s.to_string()).collect();
    expected.sort();
    reported.sort();
    assert_eq!(reported, expected, "{hb:#}");
    let started = chrono::DateTime::parse_from_rfc3339(hb["starttime"].as_str().unwrap()).unwrap();
    let age = chrono::Utc::now().signed_duration_since(started);
    assert!(
        age.num_seconds() >= 0 && age.num_seconds() < 120,
        "starttime {started} is not this agent's start"
    );
}

#[test]
fn an_action_created_to_start_later_waits_for_its_start() {
    let p = Platform::start();
    let _a = p.agent("later", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("later");
    let action = signed_hostname_search(&p, "name='later'", &["--start", "+6s", "-e", "60s"]);
    let window = action.expireafter.0 - action.validfrom.0;
    assert_eq!(window.num_seconds(), 60, "valid for -e from its start");
    let created = p.api(&p.admin).create_action(&action).unwrap();
    let waiting = p.api(&p.admin).action(created.id).unwrap();
    assert_eq!(waiting.status, "pending", "before its start");
    assert_eq!(waiting.counters.sent, 0);
    let done = p.wait_action(created.id, Duration::from_secs(30));
    assert_eq!(done.status, "completed");
    assert_eq!(done.counters.success, 1);
    // The agent ran it after its start, by the agent's own clock.
    let commands = p.api(&p.admin).commands(created.id, None).unwrap();
    assert_eq!(commands.len(), 1);
    assert!(
        commands[0].starttime.0 >= action.validfrom.0,
        "ran at {} before its start {}",
        commands[0].starttime.0,
        action.validfrom.0
    );
}
