//! Every module through the platform (mig → server → agent → back) and locally (`-t local`).

use mig_e2e::{acl, bin, stderr, stdout, Platform};
use std::process::{Command, Stdio};

#[test]
fn every_module_answers_through_the_platform_and_locally() {
    let p = Platform::start();
    let _a = p.agent("modules", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("modules");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let keys = tempfile::tempdir().unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(keys.path().join("id"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let ntp = mig_modules::testing::sntp_server(0.0).to_string();
    let dpkg = std::path::Path::new("/var/lib/dpkg/status").exists();

    let listening = format!("found listening tcp 127.0.0.1:{port}");
    let pinged = format!("tcp ping of 127.0.0.1:{port}");
    // memory and yara: an agent process still reading a parameters line that holds a marker.
    let marker = format!("mig-e2e-marker-{}-{port}", std::process::id());
    let mut holder = Command::new(bin("mig-agent"))
        .args(["-m", "file"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().unwrap();
        write!(
            stdin,
            r#"{{"class":"parameters","parameters":{{"note":"{marker}"#
        )
        .unwrap();
        stdin.flush().unwrap();
    }
    let holder_pid = holder.id().to_string();
    let in_memory = format!("[pid:{holder_pid}] in search 's1'");
    let yara_dir = tempfile::tempdir().unwrap();
    let rules = yara_dir.path().join("marker.yar");
    std::fs::write(
        &rules,
        format!(r#"rule marker {{ strings: $m = "{marker}" condition: $m }}"#),
    )
    .unwrap();
    std::fs::write(
        yara_dir.path().join("dropper.sh"),
        format!("echo {marker}\n"),
    )
    .unwrap();
    let yara_files = format!("-path {} -name dropper", yara_dir.path().display());
    let yara_file_hit = format!("{}/dropper.sh [marker]", yara_dir.path().display());
    let yara_pid_hit = format!("[pid:{holder_pid}] [marker]");
    // scribe: the shipped sshd document, its `ssh` variable pointed at a hardened fixture.
    let sshd = tempfile::tempdir().unwrap();
    std::fs::write(
        sshd.path().join("sshd_config"),
        "PermitRootLogin no\nPasswordAuthentication no\n",
    )
    .unwrap();
    let mut scribe_doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/examples/scribe-sshd.json")).unwrap();
    scribe_doc["variables"][0]["value"] = serde_json::json!(sshd.path());
    let scribe_path = sshd.path().join("doc.json");
    std::fs::write(&scribe_path, scribe_doc.to_string()).unwrap();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["memory", "-content", &marker, "-name", "mig-agent$"], &in_memory),
        (
            vec!["yara", "-rules", rules.to_str().unwrap(), "-files", &yara_files],
            &yara_file_hit,
        ),
        (
            vec!["yara", "-rules", rules.to_str().unwrap(), "-pid", &holder_pid],
            &yara_pid_hit,
        ),
        (vec!["netstat", "-lp", &port], &listening),
        (
            vec![
                "ping",
                "-d",
                "127.0.0.1",
                "-dp",
                &port,
                "-p",
                "tcp",
                "-c",
                "1",
                "-t",
                "2",
            ],
            &pinged,
        ),
        (
            vec!["sshkey", "-path", keys.path().to_str().unwrap()],
            "private ssh-ed25519",
        ),
        (
            vec!["timedrift", "-drift", "5s", "-server", &ntp, "-show", "all"],
            "local time is within acceptable drift from NTP servers",
        ),
        (
            vec!["scribe", "-path", scribe_path.to_str().unwrap(), "-onlytrue"],
            "master [true] name:\"sshd disallows root login and password auth\" id:\"sshd-hardened\"",
        ),
    ];
    if dpkg {
        cases.push((
            vec!["pkg", "-name", "^dpkg$"],
            "pkgmatch name=dpkg version=",
        ));
    }
    for (args, want) in &cases {
        let out = p.mig(&p.admin, args);
        assert!(
            stdout(&out).contains(want),
            "mig {args:?}: want {want:?}\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
        let mut local = args.clone();
        local.insert(1, "local");
        local.insert(1, "-t");
        let out = p.mig(&p.admin, &local);
        assert!(
            stdout(&out).contains(want),
            "mig {local:?}: want {want:?}\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
    }

    // agentdestroy: an old agent process (a copy of the binary) is stopped and removed.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("mig-agent-old");
    std::fs::copy(bin("mig-agent"), &old).unwrap();
    let mut victim = Command::new(&old)
        .args(["-m", "file"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = victim.id().to_string();
    let out = p.mig(
        &p.admin,
        &[
            "agentdestroy",
            "-pid",
            &pid,
            "-version",
            env!("CARGO_PKG_VERSION"),
        ],
    );
    assert!(
        stdout(&out).contains("stopped, removed"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(victim.wait().unwrap().code().is_none());
    assert!(!old.exists());
    drop(listener);
    let _ = holder.kill();
    let _ = holder.wait();
}
