//! Network facts read from the kernel's own tables (`/proc/<pid>/net/*`, `/sys/class/net`),
//! without shelling out: sockets and their owning processes, interface addresses, neighbours.
//! Reading `/proc/<pid>/net/…` shows the network namespace of that process, which is how every
//! namespace is visited.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::Gathered;

/// Where a namespace's tables are read: `/proc/self/net` or `/proc/<pid>/net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `net:[4026531840]`, or empty for the agent's own namespace.
    pub id: String,
    /// The directory its tables are read from.
    pub net_dir: PathBuf,
}

impl Namespace {
    /// The agent's own namespace, read through /proc/self/net, with an empty ID.
    pub fn own() -> Namespace {
        Namespace {
            id: String::new(),
            net_dir: PathBuf::from("/proc/self/net"),
        }
    }
}

/// Every network namespace with a process in it (one process each), own namespace first,
/// and the processes whose namespace could not be read. An error when /proc cannot be listed
/// or the agent's own namespace cannot be read; a kernel without network namespaces has one,
/// the agent's, with an empty ID.
pub fn namespaces() -> std::io::Result<Gathered<Vec<Namespace>>> {
    let link = |path: &str| {
        crate::optional(path, |p| std::fs::read_link(p))
            .map(|l| l.map(|l| l.to_string_lossy().into_owned()))
    };
    let own = link("/proc/self/ns/net")?.unwrap_or_default();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut errors = Vec::new();
    for pid in pids()? {
        match link(&format!("/proc/{pid}/ns/net")) {
            Ok(Some(id)) => {
                seen.entry(id).or_insert(pid);
            }
            // Exited meanwhile, or no namespaces in this kernel.
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    let mut out = vec![Namespace {
        id: own.clone(),
        net_dir: PathBuf::from("/proc/self/net"),
    }];
    let mut others: Vec<(String, u32)> = seen.into_iter().filter(|(id, _)| *id != own).collect();
    others.sort();
    for (id, pid) in others {
        out.push(Namespace {
            id,
            net_dir: PathBuf::from(format!("/proc/{pid}/net")),
        });
    }
    Ok(Gathered { value: out, errors })
}

/// Process IDs, from /proc, in order; an error naming /proc when it cannot be listed (which
/// must not read as "no processes").
pub fn pids() -> std::io::Result<Vec<u32>> {
    crate::required("/proc", |p| {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(p)? {
            if let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        Ok(pids)
    })
}

/// The protocol of a socket, from the /proc/net table it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP, from `tcp` and `tcp6`.
    Tcp,
    /// UDP, from `udp` and `udp6`.
    Udp,
    /// A raw IP socket, from `raw` and `raw6`.
    Raw,
}

impl Proto {
    /// The protocol's lower-case name: `tcp`, `udp` or `raw`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Raw => "raw",
        }
    }
}

/// The TCP state ESTABLISHED, as /proc writes it (`01`).
pub const TCP_ESTABLISHED: u8 = 0x01;
/// The TCP state LISTEN, as /proc writes it (`0A`).
pub const TCP_LISTEN: u8 = 0x0A;

/// The kernel's name for a TCP state number of /proc (`ESTABLISHED`, `TIME_WAIT`), or
/// `UNKNOWN`.
pub fn tcp_state_name(s: u8) -> &'static str {
    match s {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// One line of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}.
#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    /// The protocol, from the table the line was read from.
    pub proto: Proto,
    /// The IP version: 4 or 6.
    pub family: u8,
    /// The local address.
    pub local: IpAddr,
    /// The local port; 0 when the socket is not bound.
    pub local_port: u16,
    /// The remote address; unspecified (`0.0.0.0`, `::`) when there is no peer.
    pub remote: IpAddr,
    /// The remote port; 0 when there is no peer.
    pub remote_port: u16,
    /// The TCP state number (`st` column; see [`tcp_state_name`]); for UDP and raw sockets,
    /// 7 (unconnected) or 1 (connected).
    pub state: u8,
    /// The UID of the socket's owner.
    pub uid: u32,
    /// The socket's inode number, the `N` of `socket:[N]` in /proc/PID/fd.
    pub inode: u64,
}

impl Socket {
    /// Listening: a TCP socket in LISTEN, or a bound UDP socket with no peer.
    pub fn is_listening(&self) -> bool {
        match self.proto {
            Proto::Tcp => self.state == TCP_LISTEN,
            Proto::Udp => self.remote_port == 0 && self.local_port != 0,
            Proto::Raw => false,
        }
    }

    /// Connected to a peer.
    pub fn is_connected(&self) -> bool {
        self.remote_port != 0 && !self.remote.is_unspecified()
    }
}

/// Every socket of a namespace.
pub fn sockets(ns: &Namespace) -> std::io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    for (file, proto, family) in [
        ("tcp", Proto::Tcp, 4),
        ("tcp6", Proto::Tcp, 6),
        ("udp", Proto::Udp, 4),
        ("udp6", Proto::Udp, 6),
        ("raw", Proto::Raw, 4),
        ("raw6", Proto::Raw, 6),
    ] {
        let text = crate::read_table(&ns.net_dir.join(file))?;
        out.extend(
            text.lines()
                .skip(1)
                .filter_map(|l| parse_socket_line(l, proto, family)),
        );
    }
    Ok(out)
}

fn parse_socket_line(line: &str, proto: Proto, family: u8) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (local, local_port) = parse_endpoint(f[1], family)?;
    let (remote, remote_port) = parse_endpoint(f[2], family)?;
    Some(Socket {
        proto,
        family,
        local,
        local_port,
        remote,
        remote_port,
        state: u8::from_str_radix(f[3], 16).ok()?,
        uid: f[7].parse().ok()?,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:0016` (little-endian words) → 127.0.0.1:22.
fn parse_endpoint(s: &str, family: u8) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if family == 4 {
        IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(addr, 16).ok()?.swap_bytes(),
        ))
    } else {
        if addr.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for word in 0..4 {
            let w = u32::from_str_radix(&addr[word * 8..word * 8 + 8], 16)
                .ok()?
                .swap_bytes();
            bytes[word * 4..word * 4 + 4].copy_from_slice(&w.to_be_bytes());
        }
        IpAddr::V6(Ipv6Addr::from(bytes))
    };
    Some((ip, port))
}

/// A process owning sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Its process ID.
    pub pid: u32,
    /// Its command name, from /proc/PID/comm.
    pub name: String,
}

/// Socket inode → the process holding it (the first found, by PID), from /proc/*/fd, and
/// the processes whose descriptors could not be read. An error when /proc cannot be listed.
pub fn socket_owners() -> std::io::Result<Gathered<HashMap<u64, Owner>>> {
    let mut found = Gathered::<HashMap<u64, Owner>>::default();
    for pid in pids()? {
        if let Err(e) = owned_sockets(pid, &mut found.value) {
            found.errors.push(e);
        }
    }
    Ok(found)
}

/// Adds the sockets `pid` holds to `map`; nothing when it has exited.
fn owned_sockets(pid: u32, map: &mut HashMap<u64, Owner>) -> std::io::Result<()> {
    let fd_dir = format!("/proc/{pid}/fd");
    let Some(fds) = crate::optional(&fd_dir, |p| std::fs::read_dir(p))? else {
        return Ok(());
    };
    let mut name: Option<String> = None;
    for fd in fds {
        // The listing ends early when the process exits meanwhile.
        let Some(fd) = crate::optional(&fd_dir, |_| fd)? else {
            break;
        };
        // A descriptor closed since the listing is not there any more.
        let Some(link) = crate::optional(fd.path(), |p| std::fs::read_link(p))? else {
            continue;
        };
        let Some(inode) = link
            .to_str()
            .and_then(|l| l.strip_prefix("socket:["))
            .and_then(|l| l.strip_suffix(']'))
            .and_then(|l| l.parse::<u64>().ok())
        else {
            continue;
        };
        let name = match &name {
            Some(n) => n.clone(),
            // Exited after its descriptors were read: its sockets are still named, without
            // the process's name.
            None => name.insert(process_name(pid)?.unwrap_or_default()).clone(),
        };
        map.entry(inode).or_insert(Owner { pid, name });
    }
    Ok(())
}

/// A process's command name, from /proc/PID/comm; `None` when the process is gone, an error
/// naming the file when it cannot be read.
pub fn process_name(pid: u32) -> std::io::Result<Option<String>> {
    Ok(
        crate::optional(format!("/proc/{pid}/comm"), |p| std::fs::read_to_string(p))?
            .map(|s| s.trim_end().to_string()),
    )
}

/// An address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    /// The interface's name (`eth0`); empty when no IPv4 route says which interface it is on.
    pub interface: String,
    /// The address.
    pub addr: IpAddr,
    /// The network prefix length in bits.
    pub prefix: u8,
}

/// Local addresses of a namespace: IPv4 from `fib_trie` ("/32 host LOCAL" entries, with the
/// interface from `route`), IPv6 from `if_inet6`.
pub fn local_addresses(ns: &Namespace) -> std::io::Result<Vec<LocalAddr>> {
    let mut out = Vec::new();
    let fib = crate::read_table(&ns.net_dir.join("fib_trie"))?;
    let routes = ipv4_routes(&ns.net_dir)?;
    // Networks of the local table ("/8 host LOCAL" under 127.0.0.0): the loopback network is
    // there and not in the main table that /proc/net/route shows.
    let mut local_nets: Vec<(u32, u32)> = Vec::new();
    let mut last_ip: Option<Ipv4Addr> = None;
    for line in fib.lines() {
        let t = line.trim_start_matches([' ', '|', '-', '+']).trim();
        if let (Some(ip), Some(len)) = (last_ip, t.strip_suffix(" host LOCAL")) {
            let bits = len.trim_start_matches('/').parse::<u32>().unwrap_or(32);
            if bits < 32 {
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                local_nets.push((u32::from(ip) & mask, mask));
            }
        }
        if let Ok(ip) = t.parse::<Ipv4Addr>() {
            last_ip = Some(ip);
        }
    }
    last_ip = None;
    for line in fib.lines() {
        let t = line.trim_start_matches([' ', '|', '-', '+']).trim();
        if let Ok(ip) = t.parse::<Ipv4Addr>() {
            last_ip = Some(ip);
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(ip) = last_ip {
                let iface = routes
                    .iter()
                    .filter(|(net, mask, _)| u32::from(ip) & mask == *net)
                    .max_by_key(|(_, mask, _)| mask.count_ones())
                    .map(|(_, mask, name)| (mask.count_ones() as u8, name.clone()));
                let local_prefix = || {
                    local_nets
                        .iter()
                        .filter(|(net, mask)| u32::from(ip) & mask == *net)
                        .map(|(_, mask)| mask.count_ones() as u8)
                        .max()
                        .unwrap_or(32)
                };
                let (prefix, interface) = iface.unwrap_or_else(|| {
                    (
                        local_prefix(),
                        if ip.is_loopback() {
                            "lo".into()
                        } else {
                            String::new()
                        },
                    )
                });
                let a = LocalAddr {
                    interface,
                    addr: IpAddr::V4(ip),
                    prefix,
                };
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    let v6 = crate::read_table(&ns.net_dir.join("if_inet6"))?;
    for line in v6.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[0].len() != 32 {
            continue;
        }
        let mut bytes = [0u8; 16];
        let ok = (0..16).all(|i| match u8::from_str_radix(&f[0][2 * i..2 * i + 2], 16) {
            Ok(b) => {
                bytes[i] = b;
                true
            }
            Err(_) => false,
        });
        if ok {
            out.push(LocalAddr {
                interface: f[5].to_string(),
                addr: IpAddr::V6(Ipv6Addr::from(bytes)),
                prefix: u8::from_str_radix(f[2], 16).unwrap_or(128),
            });
        }
    }
    Ok(out)
}

/// (network, mask, interface) of the IPv4 routing table.
fn ipv4_routes(net_dir: &Path) -> std::io::Result<Vec<(u32, u32, String)>> {
    let text = crate::read_table(&net_dir.join("route"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let net = u32::from_str_radix(f[1], 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f[7], 16).ok()?.swap_bytes();
            (mask != 0).then(|| (net, mask, f[0].to_string()))
        })
        .collect())
}

/// An interface of the agent's own namespace, with its MAC address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The interface's name (`eth0`).
    pub name: String,
    /// The hardware address, colon-separated hex as /sys writes it; empty when there is none.
    pub mac: String,
    /// The MTU in bytes.
    pub mtu: u32,
    /// The interface flags (`IFF_UP`, `IFF_LOOPBACK`, …), from `/sys/class/net/<name>/flags`.
    pub flags: u32,
    /// The interface index (`ifindex`).
    pub index: u32,
}

/// Where the agent's own namespace lists its interfaces.
const SYS_CLASS_NET: &str = "/sys/class/net";

/// Interfaces from /sys/class/net (the agent's own namespace), by index. An error naming the
/// file when the directory or an interface's attributes cannot be read; an interface removed
/// while it is being read is left out.
pub fn interfaces() -> std::io::Result<Vec<Interface>> {
    let mut out = Vec::new();
    for entry in crate::required(SYS_CLASS_NET, |p| std::fs::read_dir(p))? {
        let entry = entry.map_err(|e| crate::path_error(Path::new(SYS_CLASS_NET), &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(iface) = interface(&entry.path(), name)? {
            out.push(iface);
        }
    }
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// One interface's attributes from its /sys/class/net directory; `None` when it is gone.
fn interface(dir: &Path, name: String) -> std::io::Result<Option<Interface>> {
    // Every network device has these four attributes: one missing means the device went away.
    // So does EINVAL, the kernel's answer for a device being unregistered (before its
    // directory goes).
    let read = |attr: &str| {
        let path = dir.join(attr);
        let text = crate::optional(&path, |p| match std::fs::read_to_string(p) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
            Err(e) => Err(e),
        });
        text.map(|t| t.flatten().map(|t| (path, t.trim().to_string())))
    };
    let (Some(mac), Some(mtu), Some(flags), Some(index)) = (
        read("address")?,
        read("mtu")?,
        read("flags")?,
        read("ifindex")?,
    ) else {
        return Ok(None);
    };
    let number = |(path, text): (PathBuf, String), radix: u32| {
        u32::from_str_radix(text.trim_start_matches("0x"), radix)
            .map_err(|_| crate::unexpected(&path, &format!("not a number: {text:?}")))
    };
    Ok(Some(Interface {
        name,
        mac: mac.1,
        mtu: number(mtu, 10)?,
        flags: number(flags, 16)?,
        index: number(index, 10)?,
    }))
}

/// A neighbour (ARP or NDP entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    /// The neighbour's IP address.
    pub addr: IpAddr,
    /// Its hardware address, colon-separated hex.
    pub mac: String,
    /// The interface it was seen on.
    pub interface: String,
    /// A static entry (ATF_PERM, NUD_PERMANENT).
    pub permanent: bool,
}

/// IPv4 neighbours from `arp`; IPv6 from the kernel over netlink (own namespace only).
pub fn neighbors(ns: &Namespace) -> std::io::Result<Vec<Neighbor>> {
    let mut out = Vec::new();
    let arp = crate::read_table(&ns.net_dir.join("arp"))?;
    for line in arp.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let Ok(ip) = f[0].parse::<Ipv4Addr>() else {
            continue;
        };
        // Flags 0x0: incomplete entry, no MAC.
        if f[2] == "0x0" || f[3] == "00:00:00:00:00:00" {
            continue;
        }
        let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap_or(0);
        out.push(Neighbor {
            addr: IpAddr::V4(ip),
            mac: f[3].to_string(),
            interface: f[5].to_string(),
            permanent: flags & 0x4 != 0,
        });
    }
    if ns.id.is_empty() || ns.net_dir == Path::new("/proc/self/net") {
        out.extend(super::netlink::ipv6_neighbors()?);
    }
    Ok(out)
}

/// An IP address or a CIDR network, as investigators write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMatch {
    /// The address, or the network's address.
    pub addr: IpAddr,
    /// The prefix length in bits: 32 or 128 for a single address.
    pub prefix: u8,
}

impl IpMatch {
    /// Parses `10.1.2.3`, `10.0.0.0/8` or `fe80::/10`.
    pub fn parse(s: &str) -> Result<IpMatch, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: bad prefix length"))?,
            None => max,
        };
        Ok(IpMatch { addr, prefix })
    }

    /// True when the address is in the network; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            // IPv4-mapped IPv6 sockets (::ffff:1.2.3.4) are IPv4 addresses.
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => *ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_socket_lines() {
        let l = "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
        let s = parse_socket_line(l, Proto::Tcp, 4).unwrap();
        assert_eq!(s.local, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(s.local_port, 22);
        assert!(s.is_listening());
        assert_eq!(s.inode, 12345);
        let l6 = "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 999 1";
        let s = parse_socket_line(l6, Proto::Tcp, 6).unwrap();
        assert_eq!(s.local, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(s.local_port, 8080);
        assert_eq!(s.uid, 1000);
    }

    #[test]
    fn cidr_matching() {
        let m = IpMatch::parse("10.0.0.0/8").unwrap();
        assert!(m.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!m.contains(&"11.1.2.3".parse().unwrap()));
        assert!(
            m.contains(&"::ffff:10.9.9.9".parse().unwrap()),
            "IPv4-mapped"
        );
        let m = IpMatch::parse("fe80::/10").unwrap();
        assert!(m.contains(&"fe80::1".parse().unwrap()));
        assert!(IpMatch::parse("1.2.3.4")
            .unwrap()
            .contains(&"1.2.3.4".parse().unwrap()));
        assert!(IpMatch::parse("1.2.3.4/33").is_err());
        assert!(IpMatch::parse("example.com").is_err());
        assert!(IpMatch::parse("0.0.0.0/0")
            .unwrap()
            .contains(&"8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn this_machine_has_loopback() {
        let addrs = local_addresses(&Namespace::own()).unwrap();
        // 127.0.0.1/8 on lo, as `ip addr` shows it: the /8 is in the local routing table.
        assert!(
            addrs
                .iter()
                .any(|a| a.addr == IpAddr::V4(Ipv4Addr::LOCALHOST)
                    && a.prefix == 8
                    && a.interface == "lo"),
            "{addrs:?}"
        );
        assert!(interfaces().unwrap().iter().any(|i| i.name == "lo"));
        // IPv6 neighbours come over netlink: asking must work, even when there are none.
        neighbors(&Namespace::own()).unwrap();
        let namespaces = namespaces().unwrap();
        assert_eq!(namespaces.value[0].net_dir, Path::new("/proc/self/net"));
        assert!(pids().unwrap().contains(&std::process::id()));
        assert_eq!(
            process_name(std::process::id()).unwrap().as_deref(),
            std::fs::read_to_string("/proc/self/comm")
                .ok()
                .as_deref()
                .map(str::trim_end)
        );
        assert!(!sockets(&Namespace::own()).unwrap().is_empty());
    }

    #[test]
    fn a_socket_is_owned_by_its_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inode = sockets(&Namespace::own())
            .unwrap()
            .into_iter()
            .find(|s| s.proto == Proto::Tcp && s.local_port == port && s.is_listening())
            .unwrap()
            .inode;
        let owners = socket_owners().unwrap();
        assert_eq!(owners.value[&inode].pid, std::process::id());
        // A process that exited has no name and no sockets; it is not a failure.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert_eq!(process_name(gone).unwrap(), None);
        let mut map = HashMap::new();
        owned_sockets(gone, &mut map).unwrap();
        assert!(map.is_empty());
    }

    #[test]
    fn an_unreadable_table_is_an_error_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace {
            id: "test".into(),
            net_dir: dir.path().to_path_buf(),
        };
        // No table at all (a kernel without these protocols): nothing, no error.
        assert!(sockets(&ns).unwrap().is_empty());
        // A table that cannot be read: the error names it.
        std::fs::create_dir(dir.path().join("tcp")).unwrap();
        let err = sockets(&ns).unwrap_err().to_string();
        assert!(err.contains("/tcp: is a directory"), "{err}");
    }
}
