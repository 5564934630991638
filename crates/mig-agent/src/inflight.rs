//! Commands being run, on disk: a command that was started but whose result was never kept
//! (the agent crashed, was killed, or the machine rebooted) is found again when the agent
//! starts. Its module processes, if any survived, are killed, the endpoint's audit log says
//! what happened, and the server gets a failed result saying why, instead of silence.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One command being run.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Record {
    pub command: u64,
    pub action: u64,
    pub name: String,
    pub modules: Vec<String>,
    /// When the run started (RFC 3339).
    pub started: String,
    /// The module processes started for it.
    pub children: Vec<Child>,
}

/// A module process, named by its pid and its start time (so that a pid reused by another
/// process after a reboot is never killed).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    pub starttime: u64,
}

pub struct InFlight {
    dir: PathBuf,
}

impl InFlight {
    pub fn open(state_dir: &Path) -> std::io::Result<InFlight> {
        let dir = state_dir.join("inflight");
        std::fs::create_dir_all(&dir)?;
        Ok(InFlight { dir })
    }

    fn path(&self, command: u64) -> PathBuf {
        self.dir.join(format!("{command}.json"))
    }

    fn write(&self, record: &Record) {
        let tmp = self.dir.join(format!("{}.tmp", record.command));
        let done = serde_json::to_vec(record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|_| std::fs::rename(&tmp, self.path(record.command)));
        if let Err(e) = done {
            tracing::error!(
                "cannot record that command {} is running: {e}",
                record.command
            );
        }
    }

    /// The command starts running.
    pub fn begin(&self, record: &Record) {
        self.write(record);
    }

    /// One of its module processes started.
    pub fn child(&self, command: u64, pid: u32) {
        let Ok(bytes) = std::fs::read(self.path(command)) else {
            return;
        };
        let Ok(mut record) = serde_json::from_slice::<Record>(&bytes) else {
            return;
        };
        if let Some(starttime) = process_starttime(pid) {
            record.children.push(Child { pid, starttime });
            self.write(&record);
        }
    }

    /// Its result is kept (in the outbox): nothing is running for it any more.
    pub fn end(&self, command: u64) {
        let _ = std::fs::remove_file(self.path(command));
    }

    /// Commands a previous run of the agent started and never finished. Each is forgotten
    /// as it is returned: the caller reports it.
    pub fn take_unfinished(&self) -> Vec<Record> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                match std::fs::read(&path).map(|b| serde_json::from_slice::<Record>(&b)) {
                    Ok(Ok(r)) => records.push(r),
                    Ok(Err(e)) => tracing::warn!("{}: unreadable: {e}", path.display()),
                    Err(e) => tracing::warn!("{}: {e}", path.display()),
                }
            }
            let _ = std::fs::remove_file(&path);
        }
        records.sort_by_key(|r| r.command);
        records
    }
}

/// Kills what is left of a record's module processes (each was a process group leader).
/// Returns how many were still running.
pub fn kill_leftovers(record: &Record) -> usize {
    let mut killed = 0;
    for child in &record.children {
        if process_starttime(child.pid) == Some(child.starttime) {
            // SAFETY: signalling a process group we started, identified by pid and start time.
            unsafe {
                libc::kill(-(child.pid as libc::pid_t), libc::SIGKILL);
                libc::kill(child.pid as libc::pid_t, libc::SIGKILL);
            }
            killed += 1;
        }
    }
    killed
}

/// A process's start time after boot, in clock ticks (field 22 of /proc/PID/stat).
pub fn process_starttime(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn an_unfinished_command_is_found_once_and_its_processes_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let inflight = InFlight::open(dir.path()).unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap();
        inflight.begin(&Record {
            command: 7,
            action: 9,
            name: "interrupted".into(),
            modules: vec!["file".into()],
            started: "2026-12-06T00:00:00Z".into(),
            children: Vec::new(),
        });
        inflight.child(7, sleeper.id());
        inflight.begin(&Record {
            command: 8,
            ..Default::default()
        });
        inflight.end(8);

        let records = inflight.take_unfinished();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].command, 7);
        assert_eq!(records[0].children[0].pid, sleeper.id());
        assert!(inflight.take_unfinished().is_empty(), "reported once");

        // A pid now naming another process (another start time) is left alone.
        let mut stranger = records[0].clone();
        stranger.children[0].starttime += 1;
        assert_eq!(kill_leftovers(&stranger), 0);
        assert!(sleeper.try_wait().unwrap().is_none());
        assert_eq!(kill_leftovers(&records[0]), 1);
        let status = sleeper.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
