//! The one netlink question we ask: the kernel's IPv6 neighbour table (RTM_GETNEIGH), which
//! /proc does not show.

use super::net::Neighbor;
use std::io;
use std::net::{IpAddr, Ipv6Addr};

const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NUD_INCOMPLETE: u16 = 0x01;
const NUD_FAILED: u16 = 0x20;
const NUD_PERMANENT: u16 = 0x80;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// A failure of the exchange with the kernel, saying what was asked.
fn failed(e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("IPv6 neighbours (route netlink): {}", crate::error_text(e)),
    )
}

/// IPv6 neighbours with a link-layer address. An error when the kernel cannot be asked (a
/// socket refused, a dump that fails or stops answering): an unanswered question is not an
/// empty table.
pub fn ipv6_neighbors() -> io::Result<Vec<Neighbor>> {
    // SAFETY: a plain socket; closed by the guard below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(failed(&io::Error::last_os_error()));
    }
    struct Close(i32);
    impl Drop for Close {
        fn drop(&mut self) {
            // SAFETY: closing the descriptor we own.
            unsafe { libc::close(self.0) };
        }
    }
    let _guard = Close(fd);
    let timeout = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    // SAFETY: setting a receive timeout with a valid struct.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &timeout as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }
    let mut req = Vec::with_capacity(28);
    req.extend_from_slice(&28u32.to_ne_bytes());
    req.extend_from_slice(&RTM_GETNEIGH.to_ne_bytes());
    req.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.push(libc::AF_INET6 as u8);
    req.extend_from_slice(&[0u8; 11]);
    // SAFETY: zeroed sockaddr_nl is a valid "kernel" destination once the family is set.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: sending our buffer to the kernel.
    let sent = unsafe {
        libc::sendto(
            fd,
            req.as_ptr() as *const libc::c_void,
            req.len(),
            0,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(failed(&io::Error::last_os_error()));
    }
    let names: std::collections::HashMap<u32, String> = super::net::interfaces()?
        .into_iter()
        .map(|i| (i.index, i.name))
        .collect();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        // SAFETY: receiving into our buffer.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // EAGAIN: the receive timeout passed before the dump was done.
            return Err(failed(&e));
        }
        if n == 0 {
            return Err(failed(&io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the kernel ended the dump without its end message",
            )));
        }
        let data = &buf[..n as usize];
        let mut off = 0;
        while off + 16 <= data.len() {
            let (Some(len), Some(kind)) = (u32_at(data, off), u16_at(data, off + 4)) else {
                return Err(malformed());
            };
            let len = len as usize;
            if len < 16 || off + len > data.len() {
                return Err(malformed());
            }
            match kind {
                NLMSG_DONE => return Ok(out),
                // struct nlmsgerr: a negative errno, 0 for an acknowledgement.
                NLMSG_ERROR => {
                    return match u32_at(data, off + 16).map(|c| c as i32) {
                        Some(0) => Ok(out),
                        Some(code) => Err(failed(&io::Error::from_raw_os_error(-code))),
                        None => Err(malformed()),
                    };
                }
                RTM_NEWNEIGH => {
                    if let Some(n) = parse_neighbor(&data[off + 16..off + len], &names) {
                        out.push(n);
                    }
                }
                _ => {}
            }
            off += align4(len);
        }
    }
}

/// A message the kernel would not write.
fn malformed() -> io::Error {
    failed(&io::Error::new(
        io::ErrorKind::InvalidData,
        "a malformed netlink message",
    ))
}

fn parse_neighbor(msg: &[u8], names: &std::collections::HashMap<u32, String>) -> Option<Neighbor> {
    if msg.len() < 12 {
        return None;
    }
    let ifindex = u32_at(msg, 4)?;
    let state = u16_at(msg, 8)?;
    if state & (NUD_INCOMPLETE | NUD_FAILED) != 0 {
        return None;
    }
    let (mut dst, mut mac) = (None, None);
    let mut off = 12;
    while off + 4 <= msg.len() {
        let len = u16_at(msg, off)? as usize;
        let kind = u16_at(msg, off + 2)?;
        if len < 4 || off + len > msg.len() {
            break;
        }
        let payload = &msg[off + 4..off + len];
        match kind {
            NDA_DST if payload.len() == 16 => {
                let b: [u8; 16] = payload.try_into().ok()?;
                dst = Some(IpAddr::V6(Ipv6Addr::from(b)));
            }
            NDA_LLADDR if payload.len() == 6 => {
                mac = Some(
                    payload
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                );
            }
            _ => {}
        }
        off += align4(len);
    }
    Some(Neighbor {
        addr: dst?,
        mac: mac?,
        interface: names.get(&ifindex).cloned().unwrap_or_default(),
        permanent: state & NUD_PERMANENT != 0,
    })
}
