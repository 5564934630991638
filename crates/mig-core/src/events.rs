//! Events the agent collects while a signed schedule asks for them (`process_events`,
//! `file_events`), as the agent hands them to a query's module process: one JSON document, an
//! [`EventSnapshot`], in the file descriptor named by [`EVENTS_FD_ENV`]. The columns are
//! osquery's (specs/posix/process_events.table and file_events.table).

use serde::{Deserialize, Serialize};

/// The environment variable naming the descriptor a query's process reads its events from.
pub const EVENTS_FD_ENV: &str = "MIG_EVENTS_FD";

/// The event tables, by name.
pub const PROCESS_EVENTS: &str = "process_events";
/// See [`PROCESS_EVENTS`].
pub const FILE_EVENTS: &str = "file_events";
/// See [`PROCESS_EVENTS`].
pub const SOCKET_EVENTS: &str = "socket_events";
/// Tables whose rows are events the agent collects (and queries reading them get only the
/// events since their schedule's previous run).
pub const EVENT_TABLES: &[&str] = &[PROCESS_EVENTS, FILE_EVENTS, SOCKET_EVENTS];
/// Every table whose rows come from what the agent hands over: the event tables, and the
/// tables about the agent's event buffers.
pub const SNAPSHOT_TABLES: &[&str] = &[
    PROCESS_EVENTS,
    FILE_EVENTS,
    SOCKET_EVENTS,
    SOCKET_EVENTS,
    "mig_event_buffers",
    "osquery_events",
];

/// Of `tables`, those whose rows come from what the agent hands over.
pub fn snapshot_tables(tables: &[String]) -> Vec<String> {
    tables
        .iter()
        .filter(|t| SNAPSHOT_TABLES.contains(&t.as_str()))
        .cloned()
        .collect()
}

/// Does any of `tables` hold collected events (not only the buffers' state)?
pub fn reads_events(tables: &[String]) -> bool {
    tables.iter().any(|t| EVENT_TABLES.contains(&t.as_str()))
}

/// One program started (execve), as osquery's process_events has it on Linux.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[allow(missing_docs)]
pub struct ProcessEvent {
    pub pid: i64,
    pub path: String,
    pub mode: String,
    pub cmdline: String,
    pub cmdline_size: i64,
    pub cwd: String,
    pub auid: i64,
    pub uid: i64,
    pub euid: i64,
    pub gid: i64,
    pub egid: i64,
    pub owner_uid: i64,
    pub owner_gid: i64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    pub btime: i64,
    pub parent: i64,
    /// Unix seconds.
    pub time: i64,
    /// Seconds since boot.
    pub uptime: i64,
    pub eid: String,
    pub fsuid: i64,
    pub suid: i64,
    pub fsgid: i64,
    pub sgid: i64,
    pub syscall: String,
}

/// One change under a watched path, as osquery's file_events has it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[allow(missing_docs)]
pub struct FileEvent {
    pub target_path: String,
    /// The watched path the change is under.
    pub category: String,
    /// `CREATED`, `UPDATED`, `DELETED`, `ATTRIBUTES_MODIFIED`, `MOVED_FROM`, `MOVED_TO`.
    pub action: String,
    pub transaction_id: i64,
    pub inode: i64,
    pub uid: i64,
    pub gid: i64,
    pub mode: String,
    pub size: i64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    /// 1 hashed, 0 not asked or not a regular file, -1 hashing failed.
    pub hashed: i64,
    /// Unix seconds.
    pub time: i64,
    pub eid: String,
}

/// A TCP or UDP socket that appeared or went, as osquery's socket_events has it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[allow(missing_docs)]
pub struct SocketEvent {
    /// `bind` (listening), `connect`, `accept`, `close`.
    pub action: String,
    pub pid: i64,
    pub path: String,
    pub fd: String,
    pub auid: i64,
    /// `succeeded`, or `in_progress` for a connection still being made.
    pub status: String,
    /// 2 (IPv4) or 10 (IPv6).
    pub family: i64,
    /// 6 (TCP) or 17 (UDP).
    pub protocol: i64,
    pub local_address: String,
    pub remote_address: String,
    pub local_port: i64,
    pub remote_port: i64,
    /// Unix seconds.
    pub time: i64,
    /// Seconds since boot.
    pub uptime: i64,
    pub eid: String,
}

/// One event buffer of the agent: how full it is, and what it lost.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct BufferStats {
    /// The event table it feeds.
    pub name: String,
    /// Events it holds at most (the oldest go first).
    pub capacity: u64,
    /// Events it holds now.
    pub buffered: u64,
    /// Events collected since the collector started.
    pub events: u64,
    /// Events lost: pushed out of a full buffer before a run read them, or dropped by the
    /// kernel (the proc connector's socket overran).
    pub dropped: u64,
    /// Whether a signed schedule asks for these events now.
    pub active: bool,
}

/// What a query's process gets: the events for its run, and the buffers' state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct EventSnapshot {
    /// process_events rows.
    #[serde(default)]
    pub process_events: Vec<ProcessEvent>,
    /// file_events rows.
    #[serde(default)]
    pub file_events: Vec<FileEvent>,
    /// socket_events rows.
    #[serde(default)]
    pub socket_events: Vec<SocketEvent>,
    /// Every buffer, active or not.
    #[serde(default)]
    pub buffers: Vec<BufferStats>,
}
