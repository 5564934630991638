//! `mig-agent -m <module>` as a child process, as the agent itself will run it.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

fn run_module(module: &str, input: &str, extra: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mig-agent"))
        .arg("-m")
        .arg(module)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that refuses before reading (an unknown module) closes its
    // stdin early; the broken pipe is its answer, not a test failure.
    match child.stdin.take().unwrap().write_all(input.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("etc")).unwrap();
    std::fs::write(d.path().join("etc/passwd"), "root:x:0:0::/root:/bin/bash\n").unwrap();
    d
}

#[test]
fn file_module_answers_on_stdout() {
    let d = tree();
    let msg = json!({"class": "parameters", "parameters": {"searches": {"s1": {
        "paths": [d.path()], "names": ["^passwd$"], "contents": ["^root:"], "options": {"matchall": true}}}}});
    let (code, out) = run_module("file", &format!("{msg}\n"), &[]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["foundanything"], true);
    assert_eq!(r["success"], true);
    assert!(r["elements"]["s1"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with("/etc/passwd"));
    assert_eq!(r["statistics"]["totalhits"], 1.0);
}

#[test]
fn compressed_parameters_are_accepted() {
    let d = tree();
    let params = json!({"searches": {"s1": {"paths": [d.path()], "names": ["^passwd$"]}}});
    let encoded = mig_core::action::encode_compressed(&params);
    let msg = json!({"class": "parameters", "parameters": encoded, "compressed": true});
    let (code, out) = run_module("file", &msg.to_string(), &[]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["foundanything"], true, "{r}");
}

#[test]
fn bad_input_is_a_failed_result_not_a_crash() {
    for (input, want) in [
        ("not json\n", "invalid parameters message"),
        ("{\"class\":\"stop\"}\n", "unexpected message class"),
        ("\n", "no parameters message"),
        (
            r#"{"class":"parameters","parameters":{"searches":{"s1":{"paths":["/"],"names":["("]}}}}"#,
            "names",
        ),
    ] {
        let (code, out) = run_module("file", input, &[]);
        assert_eq!(code, 0, "{input}");
        let r: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(r["success"], false);
        assert!(
            r["errors"][0].as_str().unwrap().contains(want),
            "{input}: {r}"
        );
    }
    let (code, out) = run_module("nosuchmodule", "{}\n", &[]);
    assert_ne!(code, 0);
    assert!(out.contains("unknown module"));
}

#[test]
fn pretty_flag_prints_migs_human_form() {
    let d = tree();
    let msg = json!({"class": "parameters", "parameters": {"searches": {"s1": {
        "paths": [d.path()], "names": ["^passwd$"], "options": {"matchall": true}}}}});
    let (code, out) = run_module("file", &msg.to_string(), &["-p"]);
    assert_eq!(code, 0);
    assert!(out.contains("/etc/passwd [lastmodified:"), "{out}");
    assert!(out.contains("in search 's1'"));
    assert!(out.contains("Statistics: "));
}
