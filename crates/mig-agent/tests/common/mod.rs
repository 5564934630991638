//! Running one module the way the agent does: `mig-agent -m <module> --sandbox`, MIG's
//! parameters message on stdin, the result on stdout.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `module` confined, with `params` and extra environment; its whole output.
pub fn run_module(module: &str, params: &Value, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mig-agent"))
        .args(["-m", module, "--sandbox"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mig-agent -m");
    let message = json!({"class": "parameters", "parameters": params});
    child
        .stdin
        .take()
        .expect("the module's stdin")
        .write_all(format!("{message}\n").as_bytes())
        .expect("write the parameters");
    child.wait_with_output().expect("the module's output")
}

/// The result a module printed, after checking it exited normally.
pub fn result(module: &str, out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{module} exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{module}: no result ({e})\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
