//! process_open_sockets and listening_ports: each process's socket descriptors, matched with
//! the kernel's socket tables of the process's own network namespace.

use super::super::schema::*;
use super::processes::per_process;
use mig_host::net::{self, Namespace, Proto, Socket};
use mig_host::{process, unix};
use std::collections::HashMap;
use std::path::PathBuf;

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
fn held(q: &Constraints, mut each: impl FnMut(Held) -> Option<Row> + 'static) -> Box<dyn Rows> {
    let mut by_namespace: HashMap<String, Tables> = HashMap::new();
    per_process(q, move |pid| {
        let fds: Vec<(u64, u64)> = process::fds(pid)
            .into_iter()
            .filter_map(|f| Some((f.fd, process::socket_inode(&f.target)?)))
            .collect();
        if fds.is_empty() {
            return Vec::new();
        }
        let namespace = process::namespace(pid, "net").unwrap_or_default();
        let tables = by_namespace.entry(namespace.clone()).or_insert_with(|| {
            let ns = Namespace {
                id: namespace.clone(),
                net_dir: PathBuf::from(format!("/proc/{pid}/net")),
            };
            // A process that exited meanwhile, or whose namespace cannot be read, lists no
            // sockets: the other processes' rows still come.
            Tables {
                ip: net::sockets(&ns)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| (s.inode, s))
                    .collect(),
                unix: unix::sockets(&ns).unwrap_or_default(),
            }
        });
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
        rows
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

pub(crate) static PROCESS_OPEN_SOCKETS: Table = Table {
    name: "process_open_sockets",
    about: "Processes which have open network sockets on the system.",
    columns: &[
        integer("pid", "Process (or thread) ID"),
        bigint("fd", "Socket file descriptor number"),
        bigint("socket", "Socket handle or inode number"),
        integer("family", "Network protocol (IPv4, IPv6)"),
        integer("protocol", "Transport protocol (TCP/UDP)"),
        text("local_address", "Socket local address"),
        text("remote_address", "Socket remote address"),
        integer("local_port", "Socket local port"),
        integer("remote_port", "Socket remote port"),
        text("path", "For UNIX sockets (family=AF_UNIX), the domain path"),
        text("state", "TCP socket state"),
        text("net_namespace", "The inode number of the network namespace"),
    ],
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_open_sockets,
    example:
        "SELECT pid, remote_address, remote_port FROM process_open_sockets WHERE remote_port != 0",
};

fn gen_open_sockets(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(held(q, |h| {
        let mut row = vec![i(h.pid), u(h.fd), u(h.inode)];
        match h.kind {
            Kind::Ip(s) => {
                let raw = s.proto == Proto::Raw;
                row.extend([
                    i(family(&s)),
                    i(protocol(&s)),
                    t(s.local.to_string()),
                    t(s.remote.to_string()),
                    i(if raw { 0 } else { i64::from(s.local_port) }),
                    i(i64::from(s.remote_port)),
                    t(""),
                    t(if s.proto == Proto::Tcp {
                        net::tcp_state_name(s.state)
                    } else {
                        ""
                    }),
                ]);
            }
            Kind::Unix(s) => {
                row.extend([i(AF_UNIX), i(0), t(""), t(""), i(0), i(0), t(s.path), t("")])
            }
        }
        row.push(t(h.namespace));
        Some(row)
    }))
}

pub(crate) static LISTENING_PORTS: Table = Table {
    name: "listening_ports",
    about: "Processes with listening (bound) network sockets/ports.",
    columns: &[
        integer("pid", "Process (or thread) ID"),
        integer("port", "Transport layer port"),
        integer("protocol", "Transport protocol (TCP/UDP)"),
        integer("family", "Network protocol (IPv4, IPv6)"),
        text("address", "Specific address for bind"),
        bigint("fd", "Socket file descriptor number"),
        bigint("socket", "Socket handle or inode number"),
        text("path", "Path for UNIX domain sockets"),
        text("net_namespace", "The inode number of the network namespace"),
    ],
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_listening,
    example: "SELECT DISTINCT p.name, l.port, l.address FROM listening_ports l JOIN processes p USING (pid) WHERE l.port != 0",
};

fn gen_listening(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(held(q, |h| {
        let (port, proto, fam, address, path) = match h.kind {
            Kind::Ip(s) if s.is_listening() => (
                i64::from(s.local_port),
                protocol(&s),
                family(&s),
                s.local.to_string(),
                String::new(),
            ),
            Kind::Unix(s) if s.listening && !s.path.is_empty() => {
                (0, 0, AF_UNIX, String::new(), s.path)
            }
            _ => return None,
        };
        Some(vec![
            i(h.pid),
            i(port),
            i(proto),
            i(fam),
            t(address),
            u(h.fd),
            u(h.inode),
            t(path),
            t(h.namespace),
        ])
    }))
}
