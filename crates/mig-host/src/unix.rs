//! UNIX domain sockets of a network namespace (/proc/PID/net/unix).

use super::net::Namespace;
use std::collections::HashMap;

/// `__SO_ACCEPTCON` in the Flags column: the socket listens.
const ACCEPTCON: u32 = 0x0001_0000;

/// One line of /proc/PID/net/unix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnixSocket {
    /// The socket's inode number, the `N` of `socket:[N]` in /proc/PID/fd.
    pub inode: u64,
    /// The bound path, `@name` for an abstract address; empty when unbound.
    pub path: String,
    /// The socket accepts connections (`__SO_ACCEPTCON`).
    pub listening: bool,
    /// SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5.
    pub kind: u32,
}

/// Parses the text of /proc/PID/net/unix, header line included; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<UnixSocket> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 7 {
                return None;
            }
            Some(UnixSocket {
                listening: u32::from_str_radix(f[3], 16).ok()? & ACCEPTCON != 0,
                kind: u32::from_str_radix(f[4], 16).ok()?,
                inode: f[6].parse().ok()?,
                path: f.get(7).map(|p| p.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// inode → socket, for one namespace.
pub fn sockets(ns: &Namespace) -> std::io::Result<HashMap<u64, UnixSocket>> {
    let text = crate::read_table(&ns.net_dir.join("unix"))?;
    Ok(parse(&text).into_iter().map(|s| (s.inode, s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_unix_lines() {
        let s = parse("Num       RefCount Protocol Flags    Type St Inode Path\n00000000ed0d8a2b: 00000002 00000000 00010000 0001 01  4923 /var/run/postgresql/.s.PGSQL.5432\n0000000000000000: 00000003 00000000 00000000 0001 03 5000\n");
        assert_eq!(s.len(), 2);
        assert!(s[0].listening);
        assert_eq!(s[0].path, "/var/run/postgresql/.s.PGSQL.5432");
        assert_eq!(
            (s[1].inode, s[1].listening, s[1].path.as_str()),
            (5000, false, "")
        );
    }
}
