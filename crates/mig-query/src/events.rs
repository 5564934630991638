//! The events this query process was handed: the agent collects process and file events while
//! a signed schedule asks for them, and gives each query that reads an event table the events
//! since its schedule's previous run (all it holds, for a one-off query), as an
//! [`EventSnapshot`] in the descriptor named by `MIG_EVENTS_FD`. Without one (no agent, or no
//! event table in the query), the event tables are empty.

use mig_core::events::{EventSnapshot, EVENTS_FD_ENV};
use std::sync::OnceLock;

/// The most a snapshot may be (10,000 events of each kind are a few MiB).
const MAX_SNAPSHOT: u64 = 256 << 20;

static SNAPSHOT: OnceLock<EventSnapshot> = OnceLock::new();

/// The events handed to this process (read once, on first use).
pub fn snapshot() -> &'static EventSnapshot {
    SNAPSHOT.get_or_init(|| load().unwrap_or_default())
}

/// Reads the snapshot from the descriptor the environment names, through /proc (no unsafe
/// descriptor adoption, and the read starts at the file's beginning whatever its offset).
fn load() -> Option<EventSnapshot> {
    use std::io::Read;
    let fd: u32 = std::env::var(EVENTS_FD_ENV).ok()?.parse().ok()?;
    let file = std::fs::File::open(format!("/proc/self/fd/{fd}")).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_SNAPSHOT).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}
