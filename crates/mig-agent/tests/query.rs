//! The query module through `mig-agent -m query --sandbox`, as the agent runs it: answers in
//! the sandbox, reports its caps, refuses writes, and the process lives on.

use serde_json::{json, Value};

mod common;

fn run(params: Value) -> Value {
    common::result("query", &common::run_module("query", &params, &[]))
}

#[test]
fn answers_in_the_sandbox() {
    let r = run(
        json!({"sql": "SELECT p.pid, p.name, u.username FROM processes p JOIN users u USING (uid) WHERE p.pid = 1"}),
    );
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["foundanything"], true, "{r}");
    assert_eq!(r["elements"]["columns"], json!(["pid", "name", "username"]));
    assert_eq!(r["elements"]["rows"][0][0], 1);
    assert_eq!(r["elements"]["rowcount"], 1);
    // Files and hashes are readable under the sandbox's read-only filesystem.
    let r = run(
        json!({"sql": "SELECT f.path, h.sha256 FROM file f JOIN hash h USING (path) WHERE f.directory = '/etc' AND f.filename = 'passwd'"}),
    );
    assert_eq!(r["elements"]["rows"][0][0], "/etc/passwd", "{r}");
    assert_eq!(r["elements"]["rows"][0][1].as_str().unwrap().len(), 64);
    let r = run(json!({"sql": "SELECT name FROM os_version"}));
    assert_eq!(r["foundanything"], true, "{r}");
    // Other processes' /proc entries stay readable in the sandbox (no landlock domain hides
    // them): a process started here shows its executable.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let r = run(json!({"sql": format!("SELECT path FROM processes WHERE pid = {}", sleeper.id())}));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        r["elements"]["rows"][0][0]
            .as_str()
            .unwrap()
            .ends_with("/sleep"),
        "{r}"
    );
}

#[test]
fn caps_and_refusals_are_reported() {
    let r = run(json!({"sql": "SELECT path FROM file WHERE path LIKE '/usr/%%'", "maxrows": 5}));
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["elements"]["rowcount"], 5);
    assert!(
        r["errors"][0].as_str().unwrap().contains("maxrows=5"),
        "{r}"
    );
    let r = run(
        json!({"sql": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n", "timeout": "300ms"}),
    );
    assert!(r["errors"][0].as_str().unwrap().contains("timeout"), "{r}");
    let r = run(json!({"sql": "SELECT * FROM hash"}));
    assert_eq!(r["success"], false);
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap()
            .contains("needs a constraint on 'path' or 'directory'"),
        "{r}"
    );
    let r = run(json!({"sql": "ATTACH DATABASE '/tmp/x' AS x"}));
    assert_eq!(r["success"], false, "{r}");
}

/// The docker tables reach the daemon from inside the sandbox (which opens Unix sockets for
/// them), and magic and yara_file work there too.
#[test]
fn docker_magic_and_yara_tables_answer_in_the_sandbox() {
    let server = std::process::Command::new("docker")
        .args(["version", "-f", "{{.Server.Version}}"])
        .output();
    match server {
        Ok(o) if o.status.success() => {
            let version = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let r = run(json!({"sql": "SELECT version FROM docker_version"}));
            assert_eq!(r["elements"]["rows"], json!([[version]]), "{r}");
        }
        _ => {
            eprintln!("skipped the daemon's part: no Docker daemon");
            let r = run(json!({"sql": "SELECT * FROM docker_containers"}));
            assert_eq!(r["success"], true, "{r}");
        }
    }
    let r = run(json!({"sql": "SELECT mime_type FROM magic WHERE path = '/etc/passwd'"}));
    assert_eq!(r["elements"]["rows"], json!([["text/plain"]]), "{r}");
    let r = run(
        json!({"sql": "SELECT count FROM yara_file WHERE path = '/etc/passwd' AND sigrule = 'rule r { strings: $a = \"root\" condition: $a }'"}),
    );
    assert_eq!(r["elements"]["rows"], json!([[1]]), "{r}");
}
