//! Plays an exploited module in every module's sandbox: the `testescape` module, started the
//! way the agent starts modules (`mig-agent -m … --sandbox`) but confined as each real module
//! is, tries every way of writing to the filesystem, every socket family, other processes,
//! executing, regaining privileges. Everything a module's class does not need must be refused
//! by the kernel, and nothing outside may have changed.

use mig_modules::SandboxNeeds;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

mod common;

/// Runs the exploited module in `module`'s sandbox.
fn escape(module: &str, params: Value) -> Value {
    let out = common::run_module("testescape", &params, &[("MIG_TEST_SANDBOX_OF", module)]);
    let result = common::result(module, &out);
    assert_eq!(result["success"], true, "{module}: {result}");
    result["elements"].clone()
}

/// A file's handle, as an attacker with the file's name would make it (outside the sandbox).
fn file_handle(path: &Path) -> (String, i32) {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = vec![0u8; 8 + 128];
    buf[..4].copy_from_slice(&128u32.to_ne_bytes());
    let mut mount_id = 0i32;
    // SAFETY: a buffer of the size its header says, and valid pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            name.as_ptr(),
            buf.as_mut_ptr(),
            &mut mount_id as *mut i32,
            0,
        )
    };
    assert_eq!(
        ret,
        0,
        "name_to_handle_at: {}",
        std::io::Error::last_os_error()
    );
    let len = u32::from_ne_bytes(buf[..4].try_into().unwrap()) as usize;
    let kind = i32::from_ne_bytes(buf[4..8].try_into().unwrap());
    let hex: String = buf[8..8 + len].iter().map(|b| format!("{b:02x}")).collect();
    (hex, kind)
}

/// The exploited module's parameters: a file to attack in `dir`, its handle, and this test
/// process as the victim to signal.
fn attack_params(dir: &Path) -> Value {
    let target = dir.join("secret");
    std::fs::write(&target, "original").unwrap();
    let (handle, handle_type) = file_handle(&target);
    json!({"target": target, "dir": dir, "victim": std::process::id(),
        "handle": handle, "handle_type": handle_type})
}

/// What a module's class is granted, among the attempts.
fn granted(needs: SandboxNeeds) -> Vec<&'static str> {
    let mut g = Vec::new();
    if needs.network {
        g.extend(["socket AF_INET", "socket AF_INET6"]);
    }
    if needs.netlink {
        g.push("socket AF_NETLINK");
    }
    if needs.unix_sockets {
        g.push("socket AF_UNIX");
    }
    if needs.modifies_system {
        g.extend(["kill", "unlink"]);
    }
    g
}

#[test]
fn an_exploited_module_cannot_leave_any_modules_sandbox() {
    let modules: Vec<_> = mig_modules::registry()
        .iter()
        .filter(|m| !m.name().starts_with("test"))
        .collect();
    assert!(modules.len() >= 11, "every module is attacked");
    let mut victim = Command::new("sleep").arg("120").spawn().unwrap();
    let mut failures = Vec::new();
    for m in modules {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret");
        std::fs::write(&target, "original").unwrap();
        let before = std::fs::metadata(&target).unwrap();
        let (handle, handle_type) = file_handle(&target);
        let outcomes = escape(
            m.name(),
            json!({
                "target": target, "dir": dir.path(), "victim": victim.id(),
                "handle": handle, "handle_type": handle_type,
            }),
        );
        let outcomes = outcomes.as_object().unwrap();
        assert!(outcomes.len() >= 40, "{}: {outcomes:?}", m.name());
        let allowed = granted(m.sandbox());
        for (attempt, outcome) in outcomes {
            let outcome = outcome.as_str().unwrap();
            if !allowed.contains(&attempt.as_str()) && !outcome.starts_with("denied") {
                failures.push(format!("{}: {attempt}: {outcome}", m.name()));
            }
        }
        // Nothing outside changed (agentdestroy may remove files: that is its job).
        let mut changed = |what: String| failures.push(format!("{}: {what}", m.name()));
        if !m.sandbox().modifies_system {
            match std::fs::metadata(&target) {
                Err(e) => changed(format!("the target is gone: {e}")),
                Ok(after) => {
                    if std::fs::read_to_string(&target).unwrap_or_default() != "original" {
                        changed("the target's content changed".into());
                    }
                    if after.mode() != before.mode() {
                        changed(format!(
                            "mode {:o} became {:o}",
                            before.mode(),
                            after.mode()
                        ));
                    }
                    if (after.uid(), after.gid()) != (before.uid(), before.gid()) {
                        changed(format!("owner became {}:{}", after.uid(), after.gid()));
                    }
                    if after.mtime() != before.mtime() {
                        changed("the target's times changed".into());
                    }
                }
            }
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "secret")
            .collect();
        if !left.is_empty() {
            changed(format!("created {left:?}"));
        }
        if victim.try_wait().unwrap().is_some() {
            changed("the victim died".into());
        }
    }
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(
        failures.is_empty(),
        "ways out of the sandbox:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_allow_list_refuses_what_it_does_not_name_and_grants_each_class_its_own() {
    // The exploited module in the sandbox of a class that may use the network: its sockets
    // open; the same in a reading module's sandbox: refused.
    let dir = tempfile::tempdir().unwrap();
    let params = attack_params(dir.path());
    let ping = escape("ping", params.clone());
    assert_eq!(ping["socket AF_INET"], "allowed", "{ping}");
    assert!(
        ping["socket AF_UNIX"]
            .as_str()
            .unwrap()
            .starts_with("denied"),
        "{ping}"
    );
    let file = escape("file", params.clone());
    assert!(
        file["socket AF_INET"]
            .as_str()
            .unwrap()
            .starts_with("denied"),
        "{file}"
    );
    let netstat = escape("netstat", params);
    assert_eq!(netstat["socket AF_NETLINK"], "allowed", "{netstat}");
    assert!(
        netstat["socket AF_INET"]
            .as_str()
            .unwrap()
            .starts_with("denied"),
        "{netstat}"
    );
}

#[test]
fn a_query_gets_unix_or_network_sockets_only_when_it_reads_tables_that_need_them() {
    // The exploited module in the sandbox the query module would get for each statement.
    let dir = tempfile::tempdir().unwrap();
    let params = attack_params(dir.path());
    for (sql, unix, inet) in [
        ("SELECT * FROM processes", false, false),
        ("SELECT id FROM docker_containers", true, false),
        (
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM docker_images) AND 1 IN (SELECT pid FROM processes)",
            true,
            false,
        ),
        ("SELECT * FROM curl WHERE url = 'http://127.0.0.1/'", false, true),
    ] {
        let query = json!({"sql": sql}).to_string();
        let out = common::run_module(
            "testescape",
            &params,
            &[
                ("MIG_TEST_SANDBOX_OF", "query"),
                ("MIG_TEST_SANDBOX_PARAMS", &query),
            ],
        );
        let r = common::result("query", &out);
        let outcomes = &r["elements"];
        for (family, granted) in [
            ("socket AF_UNIX", unix),
            ("socket AF_INET", inet),
            ("socket AF_INET6", inet),
        ] {
            let outcome = outcomes[family].as_str().unwrap();
            assert_eq!(outcome == "allowed", granted, "{sql}: {family}: {outcomes}");
        }
        assert!(
            outcomes["socket AF_PACKET"]
                .as_str()
                .unwrap()
                .starts_with("denied"),
            "{sql}: {outcomes}"
        );
        assert_eq!(outcomes["socket AF_NETLINK"], "allowed", "{sql}: {outcomes}");
    }
}
