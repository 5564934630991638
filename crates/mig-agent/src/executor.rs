//! Running operations: each in a child process `mig-agent -m <module> --sandbox` speaking
//! MIG's module protocol, with a timeout (killed when it passes), a memory cap, a CPU cap and
//! a result budget; at most `slots` of them at once across the agent, the rest waiting.

use crate::module_mode::{DEADLINE_ENV, RESULT_BYTES_ENV};
use crate::sandbox::{ENV_CGROUP, ENV_CPU_SECONDS, ENV_MEMORY};
use mig_core::command::status;
use mig_core::{ModuleResult, Operation};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a module may print on stdout beyond its result budget before it is refused (the
/// module cuts its own result to the budget; this is for one that does not).
const RESULT_SLACK: u64 = 1 << 20;
/// The tail of stderr kept to explain a crash.
const MAX_STDERR: u64 = 64 << 10;
/// Room in a relay message for the command around its results.
const COMMAND_OVERHEAD: usize = 64 << 10;

pub struct Executor {
    pub exe: PathBuf,
    pub module_timeout: Duration,
    pub memory_bytes: u64,
    /// The cgroup's procs file that caps the CPU, if one could be set up.
    pub cgroup_procs: Option<PathBuf>,
    /// Module processes running at once, across every action.
    pub slots: tokio::sync::Semaphore,
    /// The largest message the relay takes: a command's results must fit in it together.
    pub max_message: usize,
}

/// One operation's outcome: its status (`success`, `failed`, `timeout`) and result.
pub struct Outcome {
    pub status: &'static str,
    pub result: ModuleResult,
}

impl Outcome {
    fn failed(msg: String) -> Outcome {
        Outcome {
            status: status::FAILED,
            result: ModuleResult::failure(msg),
        }
    }
}

/// What the agent hands one module process besides its parameters: a file it writes to (the
/// upgrade's download; a confined process could not open one), as file descriptor
/// [`HANDOFF_FD`], and environment variables.
pub struct Handoff {
    pub file: std::fs::File,
    pub env: Vec<(&'static str, std::ffi::OsString)>,
}

/// The descriptor number a [`Handoff`]'s file gets in the module process.
pub const HANDOFF_FD: i32 = 3;

/// Module processes at once by default: one per core.
pub fn default_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Executor {
    /// The result budget of each of `operations` operations: together they fit in one relay
    /// message.
    pub fn result_budget(&self, operations: usize) -> usize {
        self.max_message.saturating_sub(COMMAND_OVERHEAD) / operations.max(1)
    }

    /// Runs every operation, at most `slots` module processes at once across the agent; each
    /// gets the time left until `expires` when its turn comes (at most the module timeout).
    /// `spawned` hears each module process's pid as it starts.
    pub async fn run_all(
        &self,
        operations: &[Operation],
        expires: chrono::DateTime<chrono::Utc>,
        spawned: &(dyn Fn(u32) + Sync),
    ) -> Vec<Outcome> {
        let none: Vec<Option<Handoff>> = operations.iter().map(|_| None).collect();
        self.run_all_with(operations, expires, spawned, &none).await
    }

    /// [`Executor::run_all`], handing operation N's process `handoffs[N]` if there is one
    /// (the events a query reads).
    pub async fn run_all_with(
        &self,
        operations: &[Operation],
        expires: chrono::DateTime<chrono::Utc>,
        spawned: &(dyn Fn(u32) + Sync),
        handoffs: &[Option<Handoff>],
    ) -> Vec<Outcome> {
        let budget = self.result_budget(operations.len());
        let runs = operations.iter().enumerate().map(|(i, op)| async move {
            // The semaphore is never closed: a permit always comes.
            let _slot = self.slots.acquire().await.ok();
            let left = (expires - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            if left.is_zero() {
                return Outcome::failed(format!(
                    "module {} did not start: the action expired while it waited for a free module slot",
                    op.module
                ));
            }
            let handoff = handoffs.get(i).and_then(Option::as_ref);
            self.run_with(&op.module, &op.parameters, left, budget, spawned, handoff)
                .await
        });
        futures_util::future::join_all(runs).await
    }

    /// Runs `module` on `params` for at most `limit` (the smaller of the module timeout and
    /// the time left before the action expires), its result cut to `budget` bytes, handing
    /// the module process `handoff` if given (the caller keeps its file).
    pub async fn run_with(
        &self,
        module: &str,
        params: &Value,
        limit: Duration,
        budget: usize,
        spawned: &(dyn Fn(u32) + Sync),
        handoff: Option<&Handoff>,
    ) -> Outcome {
        if mig_modules::lookup(module).is_none() {
            return Outcome::failed(format!("module {module:?} is not available on this agent"));
        }
        let timeout = limit.min(self.module_timeout);
        // The module stops itself a little before the agent would kill it, with partial results.
        let soft = timeout.saturating_sub((timeout / 10).min(Duration::from_secs(2)));
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.arg("-m")
            .arg(module)
            .arg("--sandbox")
            .env(DEADLINE_ENV, soft.as_millis().to_string())
            .env(ENV_MEMORY, self.memory_bytes.to_string())
            .env(ENV_CPU_SECONDS, (timeout.as_secs() + 5).to_string())
            .env(RESULT_BYTES_ENV, budget.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(p) = &self.cgroup_procs {
            cmd.env(ENV_CGROUP, p);
        }
        let agent = std::process::id() as libc::pid_t;
        let handoff_fd = handoff.as_ref().map(|h| {
            use std::os::fd::AsRawFd;
            for (k, v) in &h.env {
                cmd.env(k, v);
            }
            h.file.as_raw_fd()
        });
        // SAFETY: between fork and exec the closure only makes async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = handoff_fd {
                    hand_over_fd(fd)?;
                }
                die_with_parent(agent)
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return Outcome::failed(format!("cannot start module {module}: {e}")),
        };
        let pid = child.id();
        if let Some(pid) = pid {
            spawned(pid);
        }
        let max_output = budget as u64 + RESULT_SLACK;
        let message = mig_modules::protocol::parameters_message(params, false);
        let mut stdin = child.stdin.take();
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let io = async {
            if let Some(mut s) = stdin.take() {
                // A module that exits before reading its parameters closes the pipe: its
                // result says why.
                let _ = s.write_all(message.as_bytes()).await;
                let _ = s.write_all(b"\n").await;
            }
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                if let Some(s) = stdout.take() {
                    let _ = s.take(max_output + 1).read_to_end(&mut out).await;
                }
            };
            let read_err = async {
                if let Some(s) = stderr.take() {
                    let _ = s.take(MAX_STDERR).read_to_end(&mut err).await;
                }
            };
            tokio::join!(read_out, read_err);
            let exit = child.wait().await;
            (out, err, exit)
        };
        let (out, err, exit) = match tokio::time::timeout(timeout, io).await {
            Ok(r) => r,
            Err(_) => {
                kill_group(pid);
                return Outcome {
                    status: status::TIMEOUT,
                    result: ModuleResult::failure(format!(
                        "module {module} did not finish within {}s and was killed",
                        timeout.as_secs_f64().ceil()
                    )),
                };
            }
        };
        // Whatever the module left running in its group goes with it.
        kill_group(pid);
        let stderr_text = String::from_utf8_lossy(&err);
        for line in stderr_text.lines().filter(|l| l.starts_with("sandbox:")) {
            tracing::debug!("module {module}: {line}");
        }
        let exit = match exit {
            Ok(s) => s,
            Err(e) => return Outcome::failed(format!("module {module}: {e}")),
        };
        if !exit.success() {
            return Outcome::failed(crash_reason(module, exit, &stderr_text, self.memory_bytes));
        }
        if out.len() as u64 > max_output {
            return Outcome::failed(format!(
                "module {module} returned more than {max_output} bytes (its result budget is {budget})"
            ));
        }
        match serde_json::from_slice::<ModuleResult>(&out) {
            Ok(result) => Outcome {
                status: if result.success {
                    status::SUCCESS
                } else {
                    status::FAILED
                },
                result,
            },
            Err(e) => Outcome::failed(format!(
                "module {module} returned an unreadable result: {e}"
            )),
        }
    }
}

/// In the module child, before exec: the handed-off file becomes descriptor [`HANDOFF_FD`],
/// kept open across exec (every other descriptor of the agent is close-on-exec).
fn hand_over_fd(fd: i32) -> std::io::Result<()> {
    // SAFETY: dup2 and fcntl are async-signal-safe and take no pointers.
    unsafe {
        if fd == HANDOFF_FD {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else if libc::dup2(fd, HANDOFF_FD) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In the module child, before exec: die when the agent does (whatever kills the agent, its
/// modules do not outlive it). If the agent already died, exit now.
fn die_with_parent(agent: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: prctl and getppid are async-signal-safe and take no pointers.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() != agent {
            libc::_exit(1);
        }
    }
    Ok(())
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: signalling the child's own process group (it was started with pgid = pid).
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}

/// Why a module process ended badly, in words.
fn crash_reason(module: &str, exit: std::process::ExitStatus, stderr: &str, memory: u64) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mib = memory >> 20;
    if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
        return format!("module {module} exceeded its memory limit of {mib} MiB and was stopped");
    }
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("sandbox:"))
        .unwrap_or("")
        .trim();
    let how = match (exit.code(), exit.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(libc::SIGXCPU)) => {
            return format!("module {module} exceeded its CPU time limit and was stopped")
        }
        (None, Some(libc::SIGKILL)) => {
            return format!(
                "module {module} was killed (SIGKILL: out of memory or killed from outside)"
            )
        }
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "unknown exit".to_string(),
    };
    if last.is_empty() {
        format!("module {module} crashed ({how})")
    } else {
        format!("module {module} crashed ({how}): {last}")
    }
}
