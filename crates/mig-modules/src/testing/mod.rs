//! Misbehaving modules, compiled only with the `test-modules` feature, so that the agent's
//! end-to-end tests can check what happens to a module that never returns, that allocates
//! without limit, or that was exploited and tries to leave its sandbox.

pub mod escape;

use crate::{Context, Module, ModuleResult};
use serde_json::Value;

/// Ignores its deadline and sleeps forever: the agent must kill it.
pub struct Hang;

impl Module for Hang {
    const NAME: &'static str = "testhang";
    const ABOUT: &'static str = "test fixture: never returns";
    type Params = Value;
    const FLAGS: &'static [crate::flags::Flag] = &[];

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(_: &Value, _: &Context) -> ModuleResult {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    fn parse_flags(_: &[String]) -> Result<Value, String> {
        Ok(Value::Object(Default::default()))
    }
    fn pretty(_: &ModuleResult, _: bool) -> Vec<String> {
        Vec::new()
    }
}

/// Sleeps `ms` milliseconds and says when it started and ended (Unix milliseconds): how
/// many operations the agent runs at once shows in the intervals.
pub struct Sleep;

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Module for Sleep {
    const NAME: &'static str = "testsleep";
    const ABOUT: &'static str = "test fixture: sleeps, then reports when it ran";
    type Params = Value;
    const FLAGS: &'static [crate::flags::Flag] = &[crate::flags::Flag::value(
        "ms",
        "<n>",
        "how long to sleep, in milliseconds",
    )];

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(p: &Value, _: &Context) -> ModuleResult {
        let start = unix_ms();
        std::thread::sleep(std::time::Duration::from_millis(
            p["ms"].as_u64().unwrap_or(100),
        ));
        ModuleResult {
            foundanything: true,
            success: true,
            elements: serde_json::json!({"start": start, "end": unix_ms()}),
            statistics: Value::Null,
            errors: vec![],
        }
    }
    fn parse_flags(args: &[String]) -> Result<Value, String> {
        let f = crate::flags::parse(Self::FLAGS, args)?;
        Ok(serde_json::json!({"ms": f.int("ms")?.unwrap_or(100)}))
    }
    fn pretty(r: &ModuleResult, _: bool) -> Vec<String> {
        vec![r.elements.to_string()]
    }
}

/// Allocates and touches memory until the allocator fails: the agent's cap must stop it.
pub struct Alloc;

impl Module for Alloc {
    const NAME: &'static str = "testalloc";
    const ABOUT: &'static str = "test fixture: allocates without limit";
    type Params = Value;
    const FLAGS: &'static [crate::flags::Flag] = &[];

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(_: &Value, _: &Context) -> ModuleResult {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    fn parse_flags(_: &[String]) -> Result<Value, String> {
        Ok(Value::Object(Default::default()))
    }
    fn pretty(_: &ModuleResult, _: bool) -> Vec<String> {
        Vec::new()
    }
}

/// Tries what a sandboxed module must not be able to do, and reports what happened.
pub struct Probe;

fn outcome<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "allowed".into(),
        Err(e)
            if e.kind() == std::io::ErrorKind::PermissionDenied
                || e.raw_os_error() == Some(libc::EPERM)
                || e.raw_os_error() == Some(libc::EACCES) =>
        {
            "denied".into()
        }
        Err(e) => format!("error: {e}"),
    }
}

/// What the probes found, for both probe modules.
fn probe() -> ModuleResult {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("mig-probe-{}", std::process::id()));
    let write = outcome(std::fs::write(&path, b"x"));
    let _ = std::fs::remove_file(&path);
    let mkdir = outcome(std::fs::create_dir(&path));
    let _ = std::fs::remove_dir(&path);
    // A TCP socket: refused by seccomp before any connection is attempted.
    let socket = outcome(std::net::TcpStream::connect(("127.0.0.1", 9)));
    // SAFETY: PTRACE_TRACEME takes no pointers.
    let traced = unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) };
    let ptrace = if traced == 0 {
        "allowed".into()
    } else {
        outcome::<()>(Err(std::io::Error::last_os_error()))
    };
    // Another process's executable link: what process inspection needs.
    let peer = outcome(std::fs::read_link(format!(
        "/proc/{}/exe",
        std::os::unix::process::parent_id()
    )));
    let capeff = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    ModuleResult {
        foundanything: true,
        success: true,
        elements: serde_json::json!({"write": write, "mkdir": mkdir, "socket": socket,
            "ptrace": ptrace, "peer": peer, "capeff": capeff}),
        statistics: Value::Null,
        errors: vec![],
    }
}

impl Module for Probe {
    const NAME: &'static str = "testprobe";
    const ABOUT: &'static str = "test fixture: probes the sandbox";
    type Params = Value;
    const FLAGS: &'static [crate::flags::Flag] = &[];

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(_: &Value, _: &Context) -> ModuleResult {
        probe()
    }
    fn parse_flags(_: &[String]) -> Result<Value, String> {
        Ok(Value::Object(Default::default()))
    }
    fn pretty(r: &ModuleResult, _: bool) -> Vec<String> {
        vec![r.elements.to_string()]
    }
}

/// The same probes in the sandbox of modules that inspect other processes (memory, yara).
pub struct ProcessProbe;

impl Module for ProcessProbe {
    const NAME: &'static str = "testprobeproc";
    const ABOUT: &'static str = "test fixture: probes the sandbox of process-reading modules";
    const SANDBOX: crate::SandboxNeeds = crate::SandboxNeeds {
        ptrace: true,
        ..crate::SandboxNeeds::READ_ONLY
    };
    type Params = Value;
    const FLAGS: &'static [crate::flags::Flag] = &[];

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(_: &Value, _: &Context) -> ModuleResult {
        probe()
    }
    fn parse_flags(_: &[String]) -> Result<Value, String> {
        Ok(Value::Object(Default::default()))
    }
    fn pretty(r: &ModuleResult, _: bool) -> Vec<String> {
        vec![r.elements.to_string()]
    }
}
