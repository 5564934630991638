//! process_open_sockets and listening_ports: each process's socket descriptors, matched with
//! the kernel's socket tables of the process's own network namespace.

use super::super::row::{saturate, table_row};
use super::super::schema::*;
use super::processes::{all_shown, per_process, shown};
use mig_host::net::{self, Namespace, Proto, Socket};
use mig_host::{process, unix};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const AF_UNIX: i64 = 1;
const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

/// One socket held by one process.
struct Held {
    pid: u32,
    fd: u64,
    inode: u64,
    namespace: String,
    kind: Kind,
}

enum Kind {
    Ip(Socket),
    Unix(unix::UnixSocket),
}

/// The socket tables of one network namespace, by inode.
struct Tables {
    ip: HashMap<u64, Socket>,
    unix: HashMap<u64, unix::UnixSocket>,
}

/// Every socket descriptor of the processes the scan visits, namespace tables read once each.
fn held<R: Into<Row> + 'static>(
    q: &Constraints,
    mut each: impl FnMut(Held) -> Option<R> + 'static,
) -> Result<Box<dyn Rows>, String> {
    let mut by_namespace: HashMap<String, Tables> = HashMap::new();
    per_process(q, move |pid| {
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
            let h = Held {
                pid,
                fd,
                inode,
                namespace: namespace.clone(),
                kind,
            };
            rows.extend(each(h));
        }
        Ok(rows)
    })
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
    example:
        "SELECT pid, remote_address, remote_port FROM process_open_sockets WHERE remote_port != 0",
};

fn gen_open_sockets(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    held(q, |h| {
        let (pid, fd, socket) = (i64::from(h.pid), saturate(h.fd), saturate(h.inode));
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
    example: "SELECT DISTINCT p.name, l.port, l.address FROM listening_ports l JOIN processes p USING (pid) WHERE l.port != 0",
};

fn gen_listening(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    held(q, |h| {
        let (pid, fd, socket) = (i64::from(h.pid), saturate(h.fd), saturate(h.inode));
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
