//! The agent's side of MIG's upgrade protocol, with a rollback MIG did not have.
//!
//! The old agent (A), given a verified `upgrade` action:
//! 1. has the `upgrade` module download the binary in a sandboxed child, into a file A opened
//!    beside its own binary; checks the SHA-256 and the version section again itself;
//! 2. installs it: `mig-agent-<new>` next to `mig-agent-<old>` (A's binary, renamed to that
//!    if it was plain `mig-agent`), and `mig-agent` made a symbolic link to the new one, each
//!    step an atomic rename;
//! 3. records the upgrade in `<state_dir>/upgrade.json` (state `probation`), lets go of its
//!    relay connection (both agents share one identity) and starts the new agent (B) with
//!    `--upgraded-from <A's pid>`;
//! 4. watches B. B, once connected and still connected after the probation period
//!    (`upgrade_probation`), moves the record to `succeeded` and sends the upgrade's result:
//!    success, with A's pid (MIG's `oldpid`). The scheduler then has B's agentdestroy stop A
//!    and remove A's binary. If instead B exits, or has not succeeded by twice the probation
//!    (it could not reach the relay), A moves the record to `rolled_back`, stops B, puts the
//!    previous binary back under `mig-agent`, reconnects and answers "rolled back: <reason>".
//!
//! The record's state changes under a lock, so A's rollback and B's success cannot both
//! happen.

use crate::audit;
use crate::executor::{Handoff, HANDOFF_FD};
use mig_core::command::status;
use mig_core::{Command, GoTime, ModuleResult};
use mig_modules::agent_binary::{compare_versions, version_of};
use mig_modules::upgrade::{Elements, Instruction, Statistics};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The record of the upgrade under way or last made, in the state directory.
const RECORD_FILE: &str = "upgrade.json";
const LOCK_FILE: &str = "upgrade.lock";

/// Where an upgrade stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The new agent runs; the old one watches it.
    Probation,
    /// The new agent took over.
    Succeeded,
    /// The old agent took back its place.
    RolledBack,
}

/// What both agents know of one upgrade.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Record {
    pub command: u64,
    pub action: u64,
    pub action_name: String,
    pub old_pid: u32,
    pub old_version: String,
    pub new_version: String,
    /// The path the agent is started by (`…/mig-agent`).
    pub link: PathBuf,
    /// The previous binary, kept for a rollback (`…/mig-agent-<old>`).
    pub previous: PathBuf,
    /// Whether `link` was the previous binary itself, renamed to `previous`.
    pub link_was_file: bool,
    pub new_binary: PathBuf,
    pub new_pid: u32,
    pub probation_ms: u64,
    pub downloadtime: String,
    pub downloadsize: f64,
    pub state: State,
    #[serde(default)]
    pub reason: String,
}

impl Record {
    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(RECORD_FILE)
    }

    pub fn load(state_dir: &Path) -> Option<Record> {
        let text = std::fs::read(Record::path(state_dir)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    pub fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = Record::path(state_dir);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).unwrap_or_default())?;
        std::fs::rename(&tmp, &path)
    }

    /// The longest the old agent waits for the new one to succeed.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.probation_ms * 2) + Duration::from_secs(10)
    }

    /// The result the upgrade command ends with when the new agent took over.
    pub fn success_result(&self) -> Command {
        let result = ModuleResult {
            foundanything: true,
            success: true,
            elements: serde_json::to_value(Elements {
                oldpid: f64::from(self.old_pid),
                oldversion: self.old_version.clone(),
                newversion: self.new_version.clone(),
                binary: self.new_binary.display().to_string(),
                ..Default::default()
            })
            .unwrap_or_default(),
            statistics: serde_json::to_value(Statistics {
                downloadtime: self.downloadtime.clone(),
                downloadsize: self.downloadsize,
            })
            .unwrap_or_default(),
            errors: Vec::new(),
        };
        self.command_result(status::SUCCESS, result)
    }

    /// The result when the old agent took its place back.
    pub fn rolled_back_result(&self) -> Command {
        self.command_result(
            status::FAILED,
            ModuleResult::failure(format!("rolled back: {}", self.reason)),
        )
    }

    fn command_result(&self, st: &str, result: ModuleResult) -> Command {
        Command {
            id: self.command,
            action: mig_core::Action {
                id: self.action,
                name: self.action_name.clone(),
                ..Default::default()
            },
            status: st.into(),
            results: vec![result],
            starttime: GoTime::now(),
            finishtime: GoTime::now(),
            ..Default::default()
        }
    }

    /// An audit entry for this upgrade's command.
    pub fn audit_entry(&self, outcome: &str, reason: String, st: &str) -> audit::Entry {
        audit::Entry {
            time: GoTime::now().to_rfc3339(),
            command: self.command,
            action: self.action,
            name: self.action_name.clone(),
            signers: Vec::new(),
            modules: vec!["upgrade".into()],
            outcome: outcome.into(),
            operations: Vec::new(),
            results: Vec::new(),
            reason,
            status: st.into(),
        }
    }
}

/// Moves the record from `from` to `to` (with `reason`), under the upgrade lock; false when
/// it was not in `from` (the other agent decided first).
pub fn transition(state_dir: &Path, from: State, to: State, reason: &str) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join(LOCK_FILE))?;
    // SAFETY: flock on a descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let Some(mut record) = Record::load(state_dir) else {
        return Ok(false);
    };
    if record.state != from {
        return Ok(false);
    }
    record.state = to;
    record.reason = reason.to_string();
    record.save(state_dir)?;
    Ok(true)
}

/// Why an upgrade was not started; the text goes in the command's failed result.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn refused(text: impl Into<String>) -> Refused {
    Refused(text.into())
}

/// Checks the instruction against the running agent: not the version it runs, not older
/// unless allowed.
pub fn check_version(instruction: &Instruction, current: &str) -> Result<(), Refused> {
    let to = &instruction.to_version;
    if to == current {
        return Err(refused(format!("the agent already runs version {current}")));
    }
    if compare_versions(to, current) == std::cmp::Ordering::Less && !instruction.allow_downgrade {
        return Err(refused(format!(
            "refusing to downgrade from {current} to {to}: the signed parameters do not set allow_downgrade"
        )));
    }
    Ok(())
}

/// Where the binaries go: the running agent's directory.
pub struct Layout {
    pub link: PathBuf,
    pub previous: PathBuf,
    pub new_binary: PathBuf,
    pub staging: PathBuf,
    /// The running binary is `link` itself (a regular file), not `previous`.
    pub running_is_link: bool,
}

impl Layout {
    /// The layout for the agent running from `exe`, upgraded from `old` to `new`.
    pub fn of(exe: &Path, old: &str, new: &str) -> Result<Layout, Refused> {
        let dir = exe
            .parent()
            .ok_or_else(|| refused(format!("{} has no directory", exe.display())))?;
        let name = exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let previous_name = format!("mig-agent-{old}");
        let running_is_link = name == "mig-agent";
        if !running_is_link && name != previous_name {
            return Err(refused(format!(
                "cannot upgrade an agent started as {}: its binary must be named mig-agent or {previous_name}",
                exe.display()
            )));
        }
        Ok(Layout {
            link: dir.join("mig-agent"),
            previous: dir.join(previous_name),
            new_binary: dir.join(format!("mig-agent-{new}")),
            staging: dir.join(format!(".mig-agent-{new}.download")),
            running_is_link,
        })
    }

    fn dir(&self) -> &Path {
        self.link.parent().unwrap_or(Path::new("/"))
    }

    /// The file the download goes to, private to root until installed.
    pub fn open_staging(&self) -> Result<std::fs::File, Refused> {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&self.staging);
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&self.staging)
            .map_err(|e| {
                refused(format!(
                    "cannot create {}: {}",
                    self.staging.display(),
                    mig_host::error_text(&e)
                ))
            })
    }

    /// The handoff for the upgrade module: the staging file as its output, the CA, and
    /// whether to fetch the release manifest.
    pub fn handoff(&self, file: std::fs::File, ca: &Path, manifest: bool) -> Handoff {
        let mut env = vec![
            (
                mig_modules::upgrade::OUTPUT_FD_ENV,
                HANDOFF_FD.to_string().into(),
            ),
            (mig_modules::upgrade::CA_ENV, ca.as_os_str().to_owned()),
        ];
        if manifest {
            env.push((mig_modules::upgrade::MANIFEST_ENV, "1".into()));
        }
        Handoff { file, env }
    }

    /// Checks the downloaded file again, here in the agent (the module process is not
    /// trusted with the decision), then installs it: the new binary under its versioned
    /// name, the previous one kept, `mig-agent` pointing at the new one.
    pub fn verify_and_install(&self, instruction: &Instruction) -> Result<(), Refused> {
        let result = self.verify(instruction).and_then(|_| self.install());
        if result.is_err() {
            let _ = std::fs::remove_file(&self.staging);
        }
        result
    }

    fn verify(&self, instruction: &Instruction) -> Result<(), Refused> {
        let io = |what: &str, e: std::io::Error| {
            refused(format!(
                "{what} {}: {}",
                self.staging.display(),
                mig_host::error_text(&e)
            ))
        };
        let mut file = std::fs::File::open(&self.staging).map_err(|e| io("cannot open", e))?;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| io("cannot read", e))?;
            if n == 0 {
                break;
            }
            sha2::Digest::update(&mut hasher, &buf[..n]);
        }
        let sum = mig_host::hash::hex(&sha2::Digest::finalize(hasher));
        if !sum.eq_ignore_ascii_case(&instruction.checksum) {
            return Err(refused(format!(
                "checksum mismatch: the downloaded binary has SHA-256 {sum}, the action expects {}",
                instruction.checksum.to_lowercase()
            )));
        }
        let version = version_of(&file).map_err(|e| {
            refused(format!(
                "the downloaded file is not a mig-agent binary: {e}"
            ))
        })?;
        if version != instruction.to_version {
            return Err(refused(format!(
                "version mismatch: the downloaded binary is mig-agent {version}, the action expects {}",
                instruction.to_version
            )));
        }
        Ok(())
    }

    fn install(&self) -> Result<(), Refused> {
        let fail = |what: String, e: std::io::Error| {
            refused(format!("{what}: {}", mig_host::error_text(&e)))
        };
        std::fs::set_permissions(&self.staging, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| fail(format!("cannot chmod {}", self.staging.display()), e))?;
        std::fs::File::open(&self.staging)
            .and_then(|f| f.sync_all())
            .map_err(|e| fail(format!("cannot sync {}", self.staging.display()), e))?;
        std::fs::rename(&self.staging, &self.new_binary)
            .map_err(|e| fail(format!("cannot install {}", self.new_binary.display()), e))?;
        if self.running_is_link {
            // A rename keeps the running image's name current (/proc/PID/exe follows it),
            // which is how agentdestroy finds the binary to remove later.
            std::fs::rename(&self.link, &self.previous).map_err(|e| {
                fail(
                    format!(
                        "cannot keep {} as {}",
                        self.link.display(),
                        self.previous.display()
                    ),
                    e,
                )
            })?;
        }
        self.point_link_at(&self.new_binary)
    }

    /// Makes `mig-agent` a symbolic link to `target` (same directory), atomically.
    fn point_link_at(&self, target: &Path) -> Result<(), Refused> {
        let name = target.file_name().unwrap_or_default();
        let tmp = self.dir().join(".mig-agent.link");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(name, &tmp)
            .and_then(|_| std::fs::rename(&tmp, &self.link))
            .and_then(|_| std::fs::File::open(self.dir()).and_then(|d| d.sync_all()))
            .map_err(|e| {
                refused(format!(
                    "cannot point {} at {}: {}",
                    self.link.display(),
                    target.display(),
                    mig_host::error_text(&e)
                ))
            })
    }
}

/// With a release keyring: the binary must be in a manifest signed by one of its keys, under
/// the file name of its location, with the signed checksum and version.
pub fn check_release(
    keyring_path: &Path,
    instruction: &Instruction,
    elements: &Elements,
) -> Result<(), Refused> {
    let refuse = |why: String| refused(format!("the release manifest: {why}"));
    let keyring = mig_pgp::Keyring::load(keyring_path).map_err(|e| refuse(e.to_string()))?;
    if elements.manifest.is_empty() {
        return Err(refuse("none was fetched".into()));
    }
    let (manifest, signer) = mig_pgp::release::verify_manifest(
        elements.manifest.as_bytes(),
        &elements.manifest_signature,
        &keyring,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| refuse(e.to_string()))?;
    let name = instruction.location.rsplit('/').next().unwrap_or_default();
    manifest
        .artifact(name, &instruction.checksum)
        .map_err(|e| refuse(format!("{e} (signed by {})", signer.fingerprint)))?;
    if manifest.version != instruction.to_version {
        return Err(refuse(format!(
            "it is release {}, the action installs {}",
            manifest.version, instruction.to_version
        )));
    }
    Ok(())
}

/// Puts the previous binary back under `mig-agent` and removes the new one (A's rollback).
pub fn restore(record: &Record) -> Result<(), String> {
    let layout = Layout {
        link: record.link.clone(),
        previous: record.previous.clone(),
        new_binary: record.new_binary.clone(),
        staging: PathBuf::new(),
        running_is_link: record.link_was_file,
    };
    if record.link_was_file {
        std::fs::rename(&record.previous, &record.link).map_err(|e| {
            format!(
                "cannot put {} back as {}: {}",
                record.previous.display(),
                record.link.display(),
                mig_host::error_text(&e)
            )
        })?;
    } else {
        layout.point_link_at(&record.previous).map_err(|e| e.0)?;
    }
    match std::fs::remove_file(&record.new_binary) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!(
            "cannot remove {}: {}",
            record.new_binary.display(),
            mig_host::error_text(&e)
        )),
    }
}

/// Starts the new agent: its own session (it outlives this agent), the same configuration.
pub fn start_new_agent(
    binary: &Path,
    args: &[std::ffi::OsString],
    old_pid: u32,
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(binary);
    cmd.args(args)
        .arg("--upgraded-from")
        .arg(old_pid.to_string())
        .stdin(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
}

/// Stops the new agent and everything it started (its own session's process group).
pub fn stop_new_agent(child: &mut std::process::Child) {
    // SAFETY: signalling the process group the new agent leads (it called setsid).
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// How long the old agent has waited, in words for the rollback reason.
pub fn since(start: Instant) -> String {
    format!("{:.1}s", start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instruction(to: &str, allow_downgrade: bool) -> Instruction {
        Instruction {
            to_version: to.into(),
            allow_downgrade,
            ..Default::default()
        }
    }

    /// An upgrade from 1.0 to 2.0 in probation, of a binary that was plain `mig-agent`.
    fn probation_record() -> Record {
        Record {
            command: 1,
            action: 2,
            action_name: "x".into(),
            old_pid: 1,
            old_version: "1.0".into(),
            new_version: "2.0".into(),
            link: PathBuf::new(),
            previous: PathBuf::new(),
            link_was_file: true,
            new_binary: PathBuf::new(),
            new_pid: 0,
            probation_ms: 1000,
            downloadtime: String::new(),
            downloadsize: 0.0,
            state: State::Probation,
            reason: String::new(),
        }
    }

    #[test]
    fn same_and_older_versions_are_refused_unless_allowed() {
        assert!(check_version(&instruction("0.2.0", false), "0.1.0").is_ok());
        let same = check_version(&instruction("0.1.0", false), "0.1.0").unwrap_err();
        assert!(same.0.contains("already runs version 0.1.0"), "{same}");
        let down = check_version(&instruction("0.0.9", false), "0.1.0").unwrap_err();
        assert!(down.0.contains("allow_downgrade"), "{down}");
        assert!(check_version(&instruction("0.0.9", true), "0.1.0").is_ok());
    }

    #[test]
    fn install_keeps_the_previous_binary_and_restore_puts_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("mig-agent");
        std::fs::write(&exe, b"old").unwrap();
        let layout = Layout::of(&exe, "1.0", "2.0").unwrap();
        std::fs::write(&layout.staging, b"new").unwrap();
        layout.install().unwrap();
        assert_eq!(std::fs::read(&layout.link).unwrap(), b"new");
        assert_eq!(
            std::fs::read_link(&layout.link).unwrap(),
            Path::new("mig-agent-2.0")
        );
        assert_eq!(std::fs::read(&layout.previous).unwrap(), b"old");
        let record = Record {
            link: layout.link.clone(),
            previous: layout.previous.clone(),
            new_binary: layout.new_binary.clone(),
            ..probation_record()
        };
        restore(&record).unwrap();
        assert!(!std::fs::symlink_metadata(&layout.link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&layout.link).unwrap(), b"old");
        assert!(!layout.new_binary.exists() && !layout.previous.exists());

        // An agent started as mig-agent-<version> behind a link: the link moves back.
        let layout = Layout::of(&dir.path().join("mig-agent-1.0"), "1.0", "2.0").unwrap();
        std::fs::rename(&layout.link, &layout.previous).unwrap();
        std::fs::write(&layout.staging, b"new").unwrap();
        layout.install().unwrap();
        assert_eq!(std::fs::read(&layout.link).unwrap(), b"new");
        restore(&Record {
            link_was_file: false,
            ..record
        })
        .unwrap();
        assert_eq!(
            std::fs::read_link(&layout.link).unwrap(),
            Path::new("mig-agent-1.0")
        );
        assert_eq!(std::fs::read(&layout.link).unwrap(), b"old");
    }

    #[test]
    fn only_one_of_success_and_rollback_happens() {
        let dir = tempfile::tempdir().unwrap();
        let record = probation_record();
        record.save(dir.path()).unwrap();
        assert!(transition(dir.path(), State::Probation, State::Succeeded, "").unwrap());
        assert!(!transition(dir.path(), State::Probation, State::RolledBack, "late").unwrap());
        assert_eq!(Record::load(dir.path()).unwrap().state, State::Succeeded);
    }

    #[test]
    fn an_agent_binary_named_otherwise_is_not_upgraded() {
        let e = Layout::of(Path::new("/opt/x/agent"), "1.0", "2.0")
            .err()
            .unwrap();
        assert!(e.0.contains("must be named mig-agent"), "{e}");
    }
}
