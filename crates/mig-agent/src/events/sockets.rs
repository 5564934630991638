//! socket_events' source: the kernel's TCP and UDP socket tables, sampled four times a second.
//! A socket that appears is a `bind` (listening), an `accept` (connected on a port this host
//! listens on) or a `connect`; one that goes is a `close`. osquery reads these from the audit
//! subsystem, which the agent leaves to auditd (see proc_connector): sampling sees every
//! socket that lives longer than a sample, and misses those opened and closed between two.

use super::ring::Ring;
use mig_core::events::SocketEvent;
use mig_host::net::{self, Namespace, Proto, Socket};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the socket tables are read.
const SAMPLE: Duration = Duration::from_millis(250);

/// What a socket that appeared is.
fn action(s: &Socket, listening_ports: &HashSet<(Proto, u16)>) -> &'static str {
    if s.is_listening() {
        "bind"
    } else if listening_ports.contains(&(s.proto, s.local_port)) {
        "accept"
    } else {
        "connect"
    }
}

fn uptime() -> i64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split('.').next()?.parse().ok())
        .unwrap_or(0)
}

/// The event for a socket, its owner looked up in `owners` (inode → pid).
fn event(s: &Socket, action: &str, owners: &HashMap<u64, net::Owner>) -> SocketEvent {
    let pid = owners.get(&s.inode).map(|o| o.pid);
    let path = pid
        .and_then(|p| mig_host::process::exe(p).ok())
        .map(|(p, _)| p)
        .unwrap_or_default();
    let auid = pid
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/loginuid")).ok())
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(-1, i64::from);
    SocketEvent {
        action: action.to_string(),
        pid: pid.map_or(-1, i64::from),
        path,
        fd: String::new(),
        auid,
        // SYN_SENT: the connection is still being made.
        status: if s.proto == Proto::Tcp && s.state == 2 {
            "in_progress".into()
        } else {
            "succeeded".into()
        },
        family: if s.family == 6 { 10 } else { 2 },
        protocol: if s.proto == Proto::Tcp { 6 } else { 17 },
        local_address: s.local.to_string(),
        remote_address: if s.is_connected() {
            s.remote.to_string()
        } else {
            String::new()
        },
        local_port: i64::from(s.local_port),
        remote_port: i64::from(s.remote_port),
        time: chrono::Utc::now().timestamp(),
        uptime: uptime(),
        eid: String::new(),
    }
}

/// Samples the socket tables into `ring` until `stop` is set.
pub fn collect(
    ring: Arc<Ring<SocketEvent>>,
    stop: Arc<AtomicBool>,
    notify: impl Fn(),
) -> std::io::Result<()> {
    let ns = Namespace::own();
    let read = || -> std::io::Result<HashMap<u64, Socket>> {
        Ok(net::sockets(&ns)?
            .into_iter()
            // Raw sockets are not connections; TIME_WAIT sockets belong to no one (inode 0).
            .filter(|s| s.proto != Proto::Raw && s.inode != 0)
            .map(|s| (s.inode, s))
            .collect())
    };
    // What is open when collection starts is not an event.
    let mut known = read()?;
    let mut owners: HashMap<u64, net::Owner> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(SAMPLE);
        let now = read()?;
        let appeared: Vec<&Socket> = now
            .values()
            .filter(|s| !known.contains_key(&s.inode))
            .collect();
        let gone: Vec<&Socket> = known
            .values()
            .filter(|s| !now.contains_key(&s.inode))
            .collect();
        if appeared.is_empty() && gone.is_empty() {
            continue;
        }
        if !appeared.is_empty() {
            // One walk of /proc for the new sockets' processes (kept for their close).
            if let Ok(found) = net::socket_owners() {
                owners.extend(found.value);
            }
        }
        let listening: HashSet<(Proto, u16)> = now
            .values()
            .filter(|s| s.is_listening())
            .map(|s| (s.proto, s.local_port))
            .collect();
        for s in appeared {
            ring.push(event(s, action(s, &listening), &owners));
        }
        for s in gone {
            ring.push(event(s, "close", &owners));
            owners.remove(&s.inode);
        }
        notify();
        known = now;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_to_a_listener_here_is_seen_from_both_ends() {
        let ring = Arc::new(Ring::new("socket_events", 1000));
        let stop = Arc::new(AtomicBool::new(false));
        let collector = {
            let (ring, stop) = (ring.clone(), stop.clone());
            std::thread::spawn(move || collect(ring, stop, || {}))
        };
        std::thread::sleep(Duration::from_millis(400));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = i64::from(listener.local_addr().unwrap().port());
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(600));
        drop(client);
        drop(server);
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::SeqCst);
        collector.join().unwrap().unwrap();
        let seen = ring.since(0).0;
        let me = i64::from(std::process::id());
        let find = |action: &str, local: i64, remote: i64| {
            seen.iter().any(|e| {
                e.action == action
                    && e.pid == me
                    && e.local_port == local
                    && e.remote_port == remote
            })
        };
        assert!(find("bind", port, 0), "{seen:?}");
        assert!(
            seen.iter()
                .any(|e| e.action == "connect" && e.remote_port == port && e.pid == me),
            "{seen:?}"
        );
        assert!(
            find(
                "accept",
                port,
                seen.iter()
                    .find(|e| e.action == "connect" && e.remote_port == port)
                    .unwrap()
                    .local_port
            ),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|e| e.action == "close" && e.remote_port == port),
            "{seen:?}"
        );
        let connect = seen
            .iter()
            .find(|e| e.action == "connect" && e.remote_port == port)
            .unwrap();
        assert_eq!(
            (
                connect.family,
                connect.protocol,
                connect.remote_address.as_str()
            ),
            (2, 6, "127.0.0.1")
        );
        assert!(
            connect.path.ends_with("mig_agent") || !connect.path.is_empty(),
            "{connect:?}"
        );
    }
}
