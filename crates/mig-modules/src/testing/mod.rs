//! Misbehaving modules, compiled only with the `test-modules` feature, so that the agent's
//! end-to-end tests can check what happens to a module that never returns, that allocates
//! without limit, or that was exploited and tries to leave its sandbox.

pub mod escape;

/// A loopback SNTP server with a chosen clock skew, for timedrift's tests.
pub use crate::timedrift::spawn_test_server as sntp_server;

use crate::{Context, Module, ModuleError, Report, SandboxNeeds};
use serde_json::Value;

/// A fixture's report: found, with `elements` and nothing else.
fn found(elements: Value) -> Report<Value, Value> {
    Report {
        foundanything: true,
        elements,
        statistics: Value::Null,
        errors: Vec::new(),
    }
}

/// A fixture module: any parameters, no flags, elements printed as their JSON.
macro_rules! fixture {
    ($module:ident, $name:literal, $about:literal, $sandbox:expr, |$params:ident| $run:expr) => {
        impl Module for $module {
            const NAME: &'static str = $name;
            const ABOUT: &'static str = $about;
            const SANDBOX: SandboxNeeds = $sandbox;
            const FLAGS: &'static [crate::flags::Flag] = &[];
            type Params = Value;
            type Plan = Value;
            type Elements = Value;
            type Statistics = Value;

            fn validate(params: &Value) -> Result<Value, ModuleError> {
                Ok(params.clone())
            }
            // Hang and Alloc never return: their `Ok` is unreachable, by design.
            #[allow(unreachable_code)]
            fn run($params: &Value, _: &Context) -> Result<Report<Value, Value>, ModuleError> {
                Ok($run)
            }
            fn parse_flags(_: &[String]) -> Result<Value, ModuleError> {
                Ok(Value::Object(Default::default()))
            }
            fn pretty(report: &Report<Value, Value>, _: bool) -> Vec<String> {
                vec![report.elements.to_string()]
            }
        }
    };
}

/// Ignores its deadline and sleeps forever: the agent must kill it.
pub struct Hang;

fixture!(
    Hang,
    "testhang",
    "test fixture: never returns",
    SandboxNeeds::READ_ONLY,
    |_p| {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
);

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
    const FLAGS: &'static [crate::flags::Flag] = &[crate::flags::Flag::value(
        "ms",
        "<n>",
        "how long to sleep, in milliseconds",
    )];
    type Params = Value;
    type Plan = std::time::Duration;
    type Elements = Value;
    type Statistics = Value;

    fn validate(p: &Value) -> Result<std::time::Duration, ModuleError> {
        Ok(std::time::Duration::from_millis(
            p["ms"].as_u64().unwrap_or(100),
        ))
    }
    fn run(pause: &std::time::Duration, _: &Context) -> Result<Report<Value, Value>, ModuleError> {
        let start = unix_ms();
        std::thread::sleep(*pause);
        Ok(found(serde_json::json!({"start": start, "end": unix_ms()})))
    }
    fn parse_flags(args: &[String]) -> Result<Value, ModuleError> {
        let f = crate::flags::parse(Self::FLAGS, args)?;
        Ok(serde_json::json!({"ms": f.int("ms")?.unwrap_or(100)}))
    }
    fn pretty(r: &Report<Value, Value>, _: bool) -> Vec<String> {
        vec![r.elements.to_string()]
    }
}

/// Allocates and touches memory until the allocator fails: the agent's cap must stop it.
pub struct Alloc;

fixture!(
    Alloc,
    "testalloc",
    "test fixture: allocates without limit",
    SandboxNeeds::READ_ONLY,
    |_p| {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    }
);

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
fn probe() -> Report<Value, Value> {
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
    found(
        serde_json::json!({"write": write, "mkdir": mkdir, "socket": socket,
        "ptrace": ptrace, "peer": peer, "capeff": capeff}),
    )
}

fixture!(
    Probe,
    "testprobe",
    "test fixture: probes the sandbox",
    SandboxNeeds::READ_ONLY,
    |_p| probe()
);

/// The same probes in the sandbox of modules that inspect other processes (memory, yara).
pub struct ProcessProbe;

fixture!(
    ProcessProbe,
    "testprobeproc",
    "test fixture: probes the sandbox of process-reading modules",
    SandboxNeeds {
        ptrace: true,
        ..SandboxNeeds::READ_ONLY
    },
    |_p| probe()
);
