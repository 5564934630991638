//! Event collection: the agent gathers process and file events only while a signed schedule
//! asks for them (a query of `process_events` or `file_events` in a schedule it holds), into
//! bounded buffers, and hands each query that reads them a snapshot (docs/monitoring.md).

mod inotify;
mod proc_connector;
mod ring;
mod sockets;

use mig_core::events::{
    EventSnapshot, FileEvent, ProcessEvent, SocketEvent, FILE_EVENTS, PROCESS_EVENTS, SOCKET_EVENTS,
};
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
    pub sockets: bool,
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

/// One event table's buffer, who waits for its events, and its collector when one runs.
struct Source<T> {
    ring: Arc<Ring<T>>,
    /// Bumped whenever events arrive (alerting schedules wait on it).
    arrived: Arc<tokio::sync::watch::Sender<u64>>,
    collector: Mutex<Option<Collector>>,
}

impl<T: Clone + Send + Sync + 'static> Source<T> {
    fn new(name: &'static str, capacity: usize) -> Source<T> {
        Source {
            ring: Arc::new(Ring::new(name, capacity)),
            arrived: Arc::new(tokio::sync::watch::Sender::new(0)),
            collector: Mutex::new(None),
        }
    }

    /// Stops the collector, if one runs, and empties the buffer.
    fn stop(&self) {
        if let Some(c) = self
            .collector
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            c.stop();
        }
        self.ring.set_active(false);
    }

    /// Starts `collect(ring, stop, notify)` in a thread of its own (after stopping the one
    /// before); `what` names the source in the log when it fails.
    fn start<F>(&self, what: &'static str, collect: F)
    where
        F: FnOnce(Arc<Ring<T>>, Arc<AtomicBool>, Box<dyn Fn() + Send>) -> std::io::Result<()>
            + Send
            + 'static,
    {
        self.stop();
        self.ring.set_active(true);
        let stop = Arc::new(AtomicBool::new(false));
        let (ring, s, arrived) = (self.ring.clone(), stop.clone(), self.arrived.clone());
        let notify: Box<dyn Fn() + Send> =
            Box::new(move || arrived.send_modify(|n| *n = n.wrapping_add(1)));
        let thread = std::thread::spawn(move || {
            if let Err(e) = collect(ring, s, notify) {
                warn!("{what} cannot be used: {e}");
            }
        });
        *self.collector.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Collector { stop, thread });
    }

    /// The events after `cursors[name]` (moved past them).
    fn since(&self, name: &'static str, cursors: &mut Cursors) -> Vec<T> {
        let after = cursors.get(name).copied().unwrap_or(0);
        let (events, last) = self.ring.since(after);
        cursors.insert(name, last);
        events
    }
}

pub struct EventHub {
    process: Source<ProcessEvent>,
    file: Source<FileEvent>,
    sockets: Source<SocketEvent>,
    wants: Mutex<Wants>,
}

/// Where each event table's reader got to.
pub type Cursors = HashMap<&'static str, u64>;

impl EventHub {
    pub fn new(capacity: usize) -> EventHub {
        EventHub {
            process: Source::new(PROCESS_EVENTS, capacity),
            file: Source::new(FILE_EVENTS, capacity),
            sockets: Source::new(SOCKET_EVENTS, capacity),
            wants: Mutex::new(Wants::default()),
        }
    }

    /// Wakes when events of `table` arrive (never, for a table that is not an event table).
    pub fn subscribe(&self, table: &str) -> tokio::sync::watch::Receiver<u64> {
        match table {
            PROCESS_EVENTS => self.process.arrived.subscribe(),
            FILE_EVENTS => self.file.arrived.subscribe(),
            SOCKET_EVENTS => self.sockets.arrived.subscribe(),
            _ => tokio::sync::watch::Sender::new(0).subscribe(),
        }
    }

    /// Starts and stops collectors to match what the schedules want now.
    pub fn want(&self, wants: Wants) {
        let mut current = self.wants.lock().unwrap_or_else(|p| p.into_inner());
        if *current == wants {
            return;
        }
        if wants.process != current.process {
            if wants.process {
                self.process.start(
                    "process_events: the kernel's process connector",
                    proc_connector::collect,
                );
                info!("process_events: collecting (a signed schedule asks for it)");
            } else {
                self.process.stop();
                info!("process_events: collection stopped (no schedule asks for it)");
            }
        }
        if wants.sockets != current.sockets {
            if wants.sockets {
                self.sockets
                    .start("socket_events: the socket tables", |r, s, n| {
                        sockets::collect(r, s, n)
                    });
                info!("socket_events: collecting (a signed schedule asks for it)");
            } else {
                self.sockets.stop();
                info!("socket_events: collection stopped (no schedule asks for it)");
            }
        }
        if wants.file_paths != current.file_paths || wants.file_hashes != current.file_hashes {
            if wants.file_paths.is_empty() {
                self.file.stop();
                info!("file_events: collection stopped (no schedule watches a path)");
            } else {
                let roots: Vec<PathBuf> = wants.file_paths.iter().cloned().collect();
                let hash = wants.file_hashes;
                info!("file_events: watching {roots:?}");
                self.file.start("file_events: inotify", move |r, s, n| {
                    inotify::collect(r, s, roots, hash, n)
                });
            }
        }
        *current = wants;
    }

    /// Where a reader starting now begins: after every event so far.
    pub fn cursors_now(&self) -> Cursors {
        HashMap::from([
            (PROCESS_EVENTS, self.process.ring.last()),
            (FILE_EVENTS, self.file.ring.last()),
            (SOCKET_EVENTS, self.sockets.ring.last()),
        ])
    }

    /// The events of `tables` after `cursors` (moved past them), and every buffer's state.
    pub fn snapshot_since(&self, tables: &[String], cursors: &mut Cursors) -> EventSnapshot {
        let reads = |name: &str| tables.iter().any(|t| t == name);
        let mut snapshot = EventSnapshot::default();
        if reads(PROCESS_EVENTS) {
            snapshot.process_events = self.process.since(PROCESS_EVENTS, cursors);
        }
        if reads(FILE_EVENTS) {
            snapshot.file_events = self.file.since(FILE_EVENTS, cursors);
        }
        if reads(SOCKET_EVENTS) {
            snapshot.socket_events = self.sockets.since(SOCKET_EVENTS, cursors);
        }
        snapshot.buffers = vec![
            self.process.ring.stats(),
            self.file.ring.stats(),
            self.sockets.ring.stats(),
        ];
        snapshot
    }
}

impl Drop for EventHub {
    fn drop(&mut self) {
        self.process.stop();
        self.file.stop();
        self.sockets.stop();
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
