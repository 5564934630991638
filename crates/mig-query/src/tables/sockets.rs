//! process_open_sockets and listening_ports: each process's socket descriptors, matched with
//! the kernel's socket tables of the process's own network namespace.

use super::super::row::{saturate, table_row};
use super::super::schema::*;
use super::processes::{all_shown, per_process, shown};
use mig_host::net::{self, Namespace, Proto, Socket};
use mig_host::{process, unix};
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

const AF_UNIX: i64 = 1;
const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

/// One socket held by one process; `pid` and `fd` are -1 for a socket no process holds (as
/// osquery lists them: a listener whose owner cannot be seen is still a listener).
struct Held {
    pid: i64,
    fd: i64,
    inode: u64,
    namespace: String,
    kind: Kind,
}

enum Kind {
    Ip(Socket),
    Unix(unix::UnixSocket),
}

/// The socket tables of one network namespace, by inode, and the inodes a process holds.
struct Tables {
    ip: HashMap<u64, Socket>,
    unix: HashMap<u64, unix::UnixSocket>,
    held: HashSet<u64>,
}

/// Every socket descriptor of the processes the scan visits, namespace tables read once each;
/// then, unless the scan asks for given processes only, the sockets of those namespaces no
/// process was seen to hold.
fn held<R: Into<Row> + 'static>(
    q: &Constraints,
    each: impl FnMut(Held) -> Option<R> + 'static,
) -> Result<Box<dyn Rows>, String> {
    let namespaces: Rc<RefCell<HashMap<String, Tables>>> = Rc::default();
    let each = Rc::new(RefCell::new(each));
    let (seen, emit) = (namespaces.clone(), each.clone());
    let wanted = q.ints("pid");
    let unowned_wanted = wanted.as_ref().is_none_or(|pids| pids.contains(&-1));
    // Which sockets nobody holds is known only once every process was looked at: a scan
    // for pid -1 visits them all, and keeps the rows of the pids asked for.
    let visit_all;
    let scan = match &wanted {
        Some(pids) if pids.contains(&-1) => {
            let pid_column = q.table.column_index("pid");
            visit_all = Constraints {
                table: q.table,
                eq: q
                    .eq
                    .iter()
                    .filter(|(c, _)| Some(*c) != pid_column)
                    .cloned()
                    .collect(),
                like: q.like.clone(),
                used: q.used,
                budget: q.budget.clone(),
            };
            &visit_all
        }
        _ => q,
    };
    let mut owned = per_process(scan, move |pid| {
        let mut by_namespace = seen.borrow_mut();
        let fds: Vec<(u64, u64)> = all_shown(process::fds(pid))?
            .into_iter()
            .filter_map(|f| Some((f.fd, process::socket_inode(&f.target)?)))
            .collect();
        if fds.is_empty() {
            return Ok(Vec::new());
        }
        // Empty when the kernel has no network namespaces.
        let namespace = shown(process::namespace(pid, "net"))?.unwrap_or_default();
        let tables = match by_namespace.entry(namespace.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let ns = Namespace {
                    id: namespace.clone(),
                    net_dir: PathBuf::from(format!("/proc/{pid}/net")),
                };
                let (Some(ip), Some(unix)) = (
                    shown(net::sockets(&ns).map(Some))?,
                    shown(unix::sockets(&ns).map(Some))?,
                ) else {
                    // Not shown through this process: another of its namespace may show it.
                    return Ok(Vec::new());
                };
                // A process that exited meanwhile reads as empty tables, which are not its
                // namespace's: they are not kept for the other processes of the namespace.
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    return Ok(Vec::new());
                }
                new.insert(Tables {
                    ip: ip.into_iter().map(|s| (s.inode, s)).collect(),
                    unix,
                    held: HashSet::new(),
                })
            }
        };
        let mut rows = Vec::new();
        for (fd, inode) in fds {
            let kind = match (tables.ip.get(&inode), tables.unix.get(&inode)) {
                (Some(s), _) => Kind::Ip(s.clone()),
                (None, Some(s)) => Kind::Unix(s.clone()),
                // Netlink, packet and other sockets: not network endpoints.
                (None, None) => continue,
            };
            tables.held.insert(inode);
            if wanted
                .as_ref()
                .is_some_and(|pids| !pids.contains(&i64::from(pid)))
            {
                continue;
            }
            let h = Held {
                pid: i64::from(pid),
                fd: saturate(fd),
                inode,
                namespace: namespace.clone(),
                kind,
            };
            rows.extend((emit.borrow_mut())(h));
        }
        Ok(rows)
    })?;
    let mut unowned: Option<std::vec::IntoIter<R>> = None;
    Ok(Box::new(FnRows(move || {
        if let Some(row) = owned.next_row()? {
            return Ok(Some(row));
        }
        if !unowned_wanted {
            return Ok(None);
        }
        let rest = unowned.get_or_insert_with(|| {
            let mut out = Vec::new();
            let mut by_namespace = namespaces.borrow_mut();
            let mut emit = each.borrow_mut();
            for (namespace, tables) in by_namespace.iter_mut() {
                let mut nobodys: Vec<(u64, Kind)> = tables
                    .ip
                    .iter()
                    // TIME_WAIT and other sockets without an inode belong to nobody to ask.
                    .filter(|(inode, _)| **inode != 0 && !tables.held.contains(inode))
                    .map(|(inode, s)| (*inode, Kind::Ip(s.clone())))
                    .chain(
                        tables
                            .unix
                            .iter()
                            .filter(|(inode, _)| !tables.held.contains(inode))
                            .map(|(inode, s)| (*inode, Kind::Unix(s.clone()))),
                    )
                    .collect();
                nobodys.sort_by_key(|(inode, _)| *inode);
                for (inode, kind) in nobodys {
                    out.extend(emit(Held {
                        pid: -1,
                        fd: -1,
                        inode,
                        namespace: namespace.clone(),
                        kind,
                    }));
                }
            }
            out.into_iter()
        });
        Ok(rest.next().map(Into::into))
    })))
}

fn family(s: &Socket) -> i64 {
    if s.family == 4 {
        AF_INET
    } else {
        AF_INET6
    }
}

/// IANA protocol numbers; a raw socket's "port" in /proc is its protocol.
fn protocol(s: &Socket) -> i64 {
    match s.proto {
        Proto::Tcp => 6,
        Proto::Udp => 17,
        Proto::Raw => i64::from(s.local_port),
    }
}

table_row! {
    /// One socket a process holds.
    struct OpenSocketRow {
        pid: integer = "Process (or thread) ID",
        fd: bigint = "Socket file descriptor number",
        socket: bigint = "Socket handle or inode number",
        family: integer = "Network protocol (IPv4, IPv6)",
        protocol: integer = "Transport protocol (TCP/UDP)",
        local_address: text = "Socket local address",
        remote_address: text = "Socket remote address",
        local_port: integer = "Socket local port",
        remote_port: integer = "Socket remote port",
        path: text = "For UNIX sockets (family=AF_UNIX), the domain path",
        state: text = "TCP socket state",
        net_namespace: text = "The inode number of the network namespace",
    }
}

pub(crate) static PROCESS_OPEN_SOCKETS: Table = Table {
    name: "process_open_sockets",
    about: "Processes which have open network sockets on the system.",
    columns: OpenSocketRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_open_sockets,
    reach: Reach::Host,
    example:
        "SELECT pid, remote_address, remote_port FROM process_open_sockets WHERE remote_port != 0",
};

fn gen_open_sockets(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    held(q, |h| {
        let (pid, fd, socket) = (h.pid, h.fd, saturate(h.inode));
        Some(match h.kind {
            Kind::Ip(s) => OpenSocketRow {
                pid,
                fd,
                socket,
                family: family(&s),
                protocol: protocol(&s),
                local_address: s.local.to_string(),
                remote_address: s.remote.to_string(),
                // A raw socket's "port" is its protocol, already in `protocol`.
                local_port: if s.proto == Proto::Raw {
                    0
                } else {
                    i64::from(s.local_port)
                },
                remote_port: i64::from(s.remote_port),
                path: String::new(),
                state: if s.proto == Proto::Tcp {
                    net::tcp_state_name(s.state).to_string()
                } else {
                    String::new()
                },
                net_namespace: h.namespace,
            },
            Kind::Unix(s) => OpenSocketRow {
                pid,
                fd,
                socket,
                family: AF_UNIX,
                protocol: 0,
                local_address: String::new(),
                remote_address: String::new(),
                local_port: 0,
                remote_port: 0,
                path: s.path,
                state: String::new(),
                net_namespace: h.namespace,
            },
        })
    })
}

table_row! {
    /// One listening socket of a process.
    struct ListeningRow {
        pid: integer = "Process (or thread) ID",
        port: integer = "Transport layer port",
        protocol: integer = "Transport protocol (TCP/UDP)",
        family: integer = "Network protocol (IPv4, IPv6)",
        address: text = "Specific address for bind",
        fd: bigint = "Socket file descriptor number",
        socket: bigint = "Socket handle or inode number",
        path: text = "Path for UNIX domain sockets",
        net_namespace: text = "The inode number of the network namespace",
    }
}

pub(crate) static LISTENING_PORTS: Table = Table {
    name: "listening_ports",
    about: "Processes with listening (bound) network sockets/ports.",
    columns: ListeningRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_listening,
    reach: Reach::Host,
    example: "SELECT DISTINCT p.name, l.port, l.address FROM listening_ports l JOIN processes p USING (pid) WHERE l.port != 0",
};

fn gen_listening(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    held(q, |h| {
        let (pid, fd, socket) = (h.pid, h.fd, saturate(h.inode));
        Some(match h.kind {
            Kind::Ip(s) if s.is_listening() => ListeningRow {
                pid,
                port: i64::from(s.local_port),
                protocol: protocol(&s),
                family: family(&s),
                address: s.local.to_string(),
                fd,
                socket,
                path: String::new(),
                net_namespace: h.namespace,
            },
            Kind::Unix(s) if s.listening && !s.path.is_empty() => ListeningRow {
                pid,
                port: 0,
                protocol: 0,
                family: AF_UNIX,
                address: String::new(),
                fd,
                socket,
                path: s.path,
                net_namespace: h.namespace,
            },
            _ => return None,
        })
    })
}
