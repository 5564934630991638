//! agentdestroy: stops another mig-agent process (by PID) and removes its binary when its
//! version is the one named. Used by the upgrade protocol to retire the old agent. It never
//! stops the agent that runs it, nor that agent's module process, and it never executes
//! anything: the other agent's version is read from its binary's version section (MIG ran
//! `<binary> -V`, which runs whatever file a process was started from, as root).

use crate::flags::{self, Flag};
use crate::{gofmt, Context, ExecTime, Module, ModuleError, Report, SandboxNeeds};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
/// agentdestroy's parameters: which agent process to stop, and the version it must run.
pub(crate) struct Params {
    /// The process ID of the agent to stop.
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    pub pid: f64,
    /// Its version: it is stopped only when it runs this one.
    #[serde(default)]
    pub version: String,
}

/// The agent to stop, checked.
pub(crate) struct Plan {
    pid: u32,
    version: String,
}

/// What agentdestroy reports, its `elements`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Elements {
    /// The process ID asked for, as the parameters gave it.
    pub pid: f64,
    /// The version the process runs.
    pub version: String,
    /// Whether it was stopped.
    pub killed: bool,
    /// The binary removed, if any.
    pub removed: String,
}

const FLAGS: &[Flag] = &[
    Flag::value("pid", "<pid>", "the process ID of the agent to stop"),
    Flag::value(
        "version",
        "<version>",
        "its version, as `mig-agent --version` prints it",
    ),
];

fn check(p: &Params) -> Result<Plan, ModuleError> {
    if !(p.pid > 1.0 && p.pid < u32::MAX as f64 && p.pid.fract() == 0.0) {
        return Err(ModuleError::invalid(
            "pid",
            format!("{} is not a process ID", p.pid),
        ));
    }
    if p.version.trim().is_empty() {
        return Err(ModuleError::invalid(
            "version",
            "expected the agent's version",
        ));
    }
    Ok(Plan {
        pid: p.pid as u32,
        version: p.version.trim().to_string(),
    })
}

/// The agentdestroy module.
pub(crate) struct AgentDestroy;

impl Module for AgentDestroy {
    const NAME: &'static str = "agentdestroy";
    const ABOUT: &'static str = "stop another agent process and remove its binary (upgrades)";
    // Reading another agent's /proc entries, signalling it and removing its binary.
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        modifies_system: true,
        ptrace: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = ExecTime;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        check(p)
    }

    fn run(p: &Plan, _ctx: &Context) -> Result<Report<Elements, ExecTime>, ModuleError> {
        let start = Instant::now();
        let (killed, removed, version) = destroy(p).map_err(ModuleError::Failed)?;
        Ok(Report {
            foundanything: killed,
            elements: Elements {
                pid: f64::from(p.pid),
                version,
                killed,
                removed,
            },
            statistics: ExecTime::since(start),
            errors: Vec::new(),
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        Ok(Params {
            pid: f.int("pid")?.unwrap_or(0) as f64,
            version: f.value("version").unwrap_or("").to_string(),
        })
    }

    fn pretty(report: &Report<Elements, ExecTime>, found_only: bool) -> Vec<String> {
        let e = &report.elements;
        if e.killed {
            let removed = if e.removed.is_empty() {
                String::new()
            } else {
                format!(", removed {}", e.removed)
            };
            vec![format!(
                "agent {} (version {}) stopped{removed}",
                e.pid, e.version
            )]
        } else if found_only {
            Vec::new()
        } else {
            let mut l = vec![format!(
                "agent {} not stopped: its version is {}",
                e.pid, e.version
            )];
            l.extend(report.errors.iter().cloned());
            l
        }
    }
}

/// (killed, removed binary, the process's version).
fn destroy(p: &Plan) -> Result<(bool, String, String), String> {
    let pid = p.pid;
    let me = std::process::id();
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() } as u32;
    if pid == me || pid == parent {
        return Err(format!(
            "refusing to stop pid {pid}: it is the agent running this module"
        ));
    }
    let agent = identify_agent(pid)?;
    if agent.version != p.version {
        return Ok((false, String::new(), agent.version));
    }
    // SAFETY: signalling a process identified above as another mig-agent.
    if unsafe { libc::kill(pid as i32, libc::SIGKILL) } != 0 {
        return Err(format!(
            "cannot stop process {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}/exe")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let own = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let exe = agent.exe;
    let mut removed = String::new();
    if exe.exists() && exe.canonicalize().ok() != own {
        std::fs::remove_file(&exe).map_err(|e| {
            format!(
                "stopped {pid} but cannot remove {}: {}",
                exe.display(),
                gofmt::os_error(&e)
            )
        })?;
        removed = exe.display().to_string();
    }
    Ok((true, removed, agent.version))
}

/// Another agent process, as identified without running anything of it.
struct OtherAgent {
    /// Where its executable is (or was).
    exe: PathBuf,
    version: String,
}

/// Is `pid` a mig-agent? Its executable must be named `mig-agent…`, belong to root (or to
/// whoever runs this agent), be writable by nobody else, and carry the version section of a
/// mig-agent build. The binary is read through `/proc/PID/exe` (the image the process runs,
/// even if the file was replaced since) and never executed: a file that merely claims to be
/// an agent is never given the agent's privileges.
fn identify_agent(pid: u32) -> Result<OtherAgent, String> {
    use std::os::unix::fs::MetadataExt;
    let link = format!("/proc/{pid}/exe");
    let exe_link =
        std::fs::read_link(&link).map_err(|e| format!("process {pid}: {}", gofmt::os_error(&e)))?;
    let exe_text = exe_link.to_string_lossy().into_owned();
    let exe = PathBuf::from(exe_text.strip_suffix(" (deleted)").unwrap_or(&exe_text));
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.starts_with("mig-agent") {
        return Err(format!(
            "process {pid} is not a mig-agent ({})",
            exe.display()
        ));
    }
    let image = std::fs::File::open(&link).map_err(|e| {
        format!(
            "process {pid}: cannot read its executable: {}",
            gofmt::os_error(&e)
        )
    })?;
    let meta = image
        .metadata()
        .map_err(|e| format!("process {pid}: {}", gofmt::os_error(&e)))?;
    // SAFETY: getuid has no preconditions.
    let our_uid = unsafe { libc::getuid() };
    if meta.uid() != 0 && meta.uid() != our_uid {
        return Err(format!(
            "process {pid} is not a mig-agent: its executable {} belongs to uid {}, not to root",
            exe.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "process {pid} is not a mig-agent: its executable {} is writable by others (mode {:o})",
            exe.display(),
            meta.mode() & 0o7777
        ));
    }
    let version = crate::agent_binary::version_of(&image)
        .map_err(|e| format!("process {pid} is not a mig-agent: {}: {e}", exe.display()))?;
    Ok(OtherAgent { exe, version })
}
