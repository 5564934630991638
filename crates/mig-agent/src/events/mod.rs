//! Event collection: the agent gathers process and file events only while a signed schedule
//! asks for them (a query of `process_events` or `file_events` in a schedule it holds), into
//! bounded buffers, and hands each query that reads them a snapshot (docs/monitoring.md).

mod inotify;
mod proc_connector;
mod ring;

use mig_core::events::{EventSnapshot, FileEvent, ProcessEvent, FILE_EVENTS, PROCESS_EVENTS};
use ring::Ring;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// What the schedules held ask to collect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wants {
    pub process: bool,
    pub file_paths: BTreeSet<PathBuf>,
    pub file_hashes: bool,
}

/// A collector thread, and how to stop it.
struct Collector {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Collector {
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

pub struct EventHub {
    process: Arc<Ring<ProcessEvent>>,
    file: Arc<Ring<FileEvent>>,
    /// Bumped whenever process events arrive (alerting schedules wait on it)…
    process_arrived: Arc<tokio::sync::watch::Sender<u64>>,
    /// …and file events.
    file_arrived: Arc<tokio::sync::watch::Sender<u64>>,
    running: Mutex<(Wants, Option<Collector>, Option<Collector>)>,
}

/// Where each event table's reader got to.
pub type Cursors = HashMap<&'static str, u64>;

impl EventHub {
    pub fn new(capacity: usize) -> EventHub {
        EventHub {
            process: Arc::new(Ring::new(PROCESS_EVENTS, capacity)),
            file: Arc::new(Ring::new(FILE_EVENTS, capacity)),
            process_arrived: Arc::new(tokio::sync::watch::Sender::new(0)),
            file_arrived: Arc::new(tokio::sync::watch::Sender::new(0)),
            running: Mutex::new((Wants::default(), None, None)),
        }
    }

    /// Wakes when events of `table` arrive (never, for a table that is not an event table).
    pub fn subscribe(&self, table: &str) -> tokio::sync::watch::Receiver<u64> {
        match table {
            PROCESS_EVENTS => self.process_arrived.subscribe(),
            FILE_EVENTS => self.file_arrived.subscribe(),
            _ => tokio::sync::watch::Sender::new(0).subscribe(),
        }
    }

    fn notifier(arrived: &Arc<tokio::sync::watch::Sender<u64>>) -> impl Fn() + Send + 'static {
        let arrived = arrived.clone();
        move || arrived.send_modify(|n| *n = n.wrapping_add(1))
    }

    /// Starts and stops collectors to match what the schedules want now.
    pub fn want(&self, wants: Wants) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.0 == wants {
            return;
        }
        if wants.process != running.0.process {
            if let Some(c) = running.1.take() {
                c.stop();
                info!("process_events: collection stopped (no schedule asks for it)");
            }
            self.process.set_active(wants.process);
            if wants.process {
                let (ring, stop, notify) = (
                    self.process.clone(),
                    Arc::new(AtomicBool::new(false)),
                    Self::notifier(&self.process_arrived),
                );
                let s = stop.clone();
                let thread = std::thread::spawn(move || {
                    if let Err(e) = proc_connector::collect(ring, s, notify) {
                        warn!("process_events: the kernel's process connector cannot be read: {e}");
                    }
                });
                running.1 = Some(Collector { stop, thread });
                info!("process_events: collecting (a signed schedule asks for it)");
            }
        }
        let file_changed =
            wants.file_paths != running.0.file_paths || wants.file_hashes != running.0.file_hashes;
        if file_changed {
            if let Some(c) = running.2.take() {
                c.stop();
            }
            let active = !wants.file_paths.is_empty();
            self.file.set_active(active);
            if active {
                let (ring, stop, notify) = (
                    self.file.clone(),
                    Arc::new(AtomicBool::new(false)),
                    Self::notifier(&self.file_arrived),
                );
                let (s, roots, hash) = (
                    stop.clone(),
                    wants.file_paths.iter().cloned().collect::<Vec<_>>(),
                    wants.file_hashes,
                );
                info!("file_events: watching {roots:?}");
                let thread = std::thread::spawn(move || {
                    if let Err(e) = inotify::collect(ring, s, roots, hash, notify) {
                        warn!("file_events: inotify cannot be used: {e}");
                    }
                });
                running.2 = Some(Collector { stop, thread });
            } else {
                info!("file_events: collection stopped (no schedule watches a path)");
            }
        }
        running.0 = wants;
    }

    /// Where a reader starting now begins: after every event so far.
    pub fn cursors_now(&self) -> Cursors {
        HashMap::from([
            (PROCESS_EVENTS, self.process.last()),
            (FILE_EVENTS, self.file.last()),
        ])
    }

    /// The events of `tables` after `cursors` (moved past them), and every buffer's state.
    pub fn snapshot_since(&self, tables: &[String], cursors: &mut Cursors) -> EventSnapshot {
        let mut snapshot = EventSnapshot::default();
        if tables.iter().any(|t| t == PROCESS_EVENTS) {
            let after = cursors.get(PROCESS_EVENTS).copied().unwrap_or(0);
            let (events, last) = self.process.since(after);
            snapshot.process_events = events;
            cursors.insert(PROCESS_EVENTS, last);
        }
        if tables.iter().any(|t| t == FILE_EVENTS) {
            let after = cursors.get(FILE_EVENTS).copied().unwrap_or(0);
            let (events, last) = self.file.since(after);
            snapshot.file_events = events;
            cursors.insert(FILE_EVENTS, last);
        }
        snapshot.buffers = vec![self.process.stats(), self.file.stats()];
        snapshot
    }
}

impl Drop for EventHub {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        for c in [running.1.take(), running.2.take()].into_iter().flatten() {
            c.stop();
        }
    }
}

/// A snapshot handed to a query's process: a memory file, named in its environment.
pub fn handoff(snapshot: &EventSnapshot) -> std::io::Result<crate::executor::Handoff> {
    Ok(crate::executor::Handoff {
        file: snapshot_file(snapshot)?,
        env: vec![(
            mig_core::events::EVENTS_FD_ENV,
            crate::executor::HANDOFF_FD.to_string().into(),
        )],
    })
}

/// A snapshot as a file a module process reads (an anonymous memory file).
pub fn snapshot_file(snapshot: &EventSnapshot) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let name = c"mig-events";
    // SAFETY: memfd_create with a NUL-terminated name returns a new descriptor owned here.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is new and owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(&serde_json::to_vec(snapshot).map_err(std::io::Error::other)?)?;
    Ok(file)
}
