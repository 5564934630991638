//! Every table, by name. osquery's names, columns and types; see docs/modules/query.md.

mod processes;
mod sockets;

use super::schema::Table;

static ALL: &[&Table] = &[
    &processes::PROCESSES,
    &processes::PROCESS_OPEN_FILES,
    &processes::PROCESS_MEMORY_MAP,
    &sockets::PROCESS_OPEN_SOCKETS,
    &sockets::LISTENING_PORTS,
];

pub fn all() -> &'static [&'static Table] {
    ALL
}

pub fn lookup(name: &str) -> Option<&'static Table> {
    ALL.iter().copied().find(|t| t.name == name)
}
