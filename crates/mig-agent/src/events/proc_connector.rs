//! process_events' source: the kernel's process connector (a netlink socket, CN_IDX_PROC),
//! which reports every exec with the process's pid. It needs no audit rules (auditd keeps the
//! audit subsystem to itself, and an agent must not change the host's audit configuration) and
//! no BPF; the kernel has had it since 2.6.15. What it does not carry (path, arguments, user,
//! parent) is read from /proc at once: a program that exits within microseconds of its exec may
//! leave those columns empty. Needs CAP_NET_ADMIN (the agent runs as root).

use super::ring::Ring;
use mig_core::events::ProcessEvent;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
const NLMSG_DONE: u16 = 3;

/// The subscription message: netlink header, connector header, and the op.
fn listen_message() -> Vec<u8> {
    let len = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&std::process::id().to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&4u16.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The exec events in one datagram: (tgid, nanoseconds since boot).
pub fn execs(datagram: &[u8]) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(len) = u32_at(datagram, at).map(|l| l as usize) {
        if len < NLMSG_HDRLEN || at + len > datagram.len() {
            break;
        }
        let msg = &datagram[at..at + len];
        // proc_event: what, cpu, timestamp_ns, then the exec's pid and tgid.
        let ev = NLMSG_HDRLEN + CN_MSG_LEN;
        if u32_at(msg, NLMSG_HDRLEN) == Some(CN_IDX_PROC)
            && u32_at(msg, ev) == Some(PROC_EVENT_EXEC)
        {
            if let (Some(ns), Some(tgid)) = (u64_at(msg, ev + 8), u32_at(msg, ev + 20)) {
                out.push((tgid, ns));
            }
        }
        at += (len + 3) & !3;
    }
    out
}

/// Opens the connector and subscribes to process events.
fn open() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket calls on a descriptor this function owns; the address and message
    // are local buffers of the sizes given.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_CONNECTOR,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = CN_IDX_PROC;
        let bound = libc::bind(
            fd.as_raw_fd(),
            &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        );
        if bound != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // A bigger receive buffer rides out bursts (thousands of execs at once).
        let size: libc::c_int = 4 << 20;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        );
        // Wake up twice a second to see whether the collector should stop.
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 500_000,
        };
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
        let msg = listen_message();
        if libc::send(
            fd.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// A program just started, read from /proc (what is gone by now stays empty, -1 for ids).
fn describe(tgid: u32, since_boot_ns: u64) -> ProcessEvent {
    use mig_host::process;
    use std::os::unix::fs::MetadataExt;
    let status = process::status(tgid).ok().flatten();
    let id = |ids: Option<[u32; 4]>, i: usize| ids.map_or(-1, |v| i64::from(v[i]));
    let uids = status.as_ref().map(|s| s.uids);
    let gids = status.as_ref().map(|s| s.gids);
    let (path, _) = process::exe(tgid).unwrap_or_default();
    let cmdline = process::cmdline(tgid)
        .ok()
        .flatten()
        .unwrap_or_default()
        .join(" ");
    let meta = std::fs::metadata(&path).ok();
    let auid = std::fs::read_to_string(format!("/proc/{tgid}/loginuid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(-1, i64::from);
    ProcessEvent {
        pid: i64::from(tgid),
        mode: meta
            .as_ref()
            .map_or(String::new(), |m| format!("{:04o}", m.mode() & 0o7777)),
        cmdline_size: cmdline.len() as i64,
        cmdline,
        cwd: process::link(tgid, "cwd")
            .ok()
            .flatten()
            .unwrap_or_default(),
        auid,
        uid: id(uids, 0),
        euid: id(uids, 1),
        suid: id(uids, 2),
        fsuid: id(uids, 3),
        gid: id(gids, 0),
        egid: id(gids, 1),
        sgid: id(gids, 2),
        fsgid: id(gids, 3),
        owner_uid: meta.as_ref().map_or(-1, |m| i64::from(m.uid())),
        owner_gid: meta.as_ref().map_or(-1, |m| i64::from(m.gid())),
        atime: meta.as_ref().map_or(0, |m| m.atime()),
        mtime: meta.as_ref().map_or(0, |m| m.mtime()),
        ctime: meta.as_ref().map_or(0, |m| m.ctime()),
        btime: 0,
        parent: process::stat(tgid).ok().flatten().map_or(-1, |s| s.ppid),
        time: chrono::Utc::now().timestamp(),
        uptime: (since_boot_ns / 1_000_000_000) as i64,
        eid: String::new(),
        syscall: "execve".into(),
        path,
    }
}

/// Collects exec events into `ring` until `stop` is set. Returns an error if the connector
/// cannot be opened (not root, or a kernel without it).
pub fn collect(
    ring: Arc<Ring<ProcessEvent>>,
    stop: Arc<AtomicBool>,
    notify: impl Fn(),
) -> std::io::Result<()> {
    let fd = open()?;
    let mut buf = vec![0u8; 64 << 10];
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: recv into a buffer of the length given, on a descriptor owned here.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                // The socket overran: the kernel dropped events (how many, it does not say).
                Some(libc::ENOBUFS) => {
                    ring.lost(1);
                    continue;
                }
                _ => return Err(e),
            }
        }
        let execs = execs(&buf[..n as usize]);
        if execs.is_empty() {
            continue;
        }
        for (tgid, ns) in execs {
            ring.push(describe(tgid, ns));
        }
        notify();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_events_are_read_from_a_datagram() {
        // nlmsghdr + cn_msg + proc_event(exec: pid 41, tgid 42), twice.
        let one = |tgid: u32| {
            let mut m = Vec::new();
            let len = (NLMSG_HDRLEN + CN_MSG_LEN + 24) as u32;
            m.extend_from_slice(&len.to_ne_bytes());
            m.extend_from_slice(&[0u8; 12]);
            m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
            m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
            m.extend_from_slice(&[0u8; 12]);
            m.extend_from_slice(&PROC_EVENT_EXEC.to_ne_bytes());
            m.extend_from_slice(&0u32.to_ne_bytes());
            m.extend_from_slice(&7_000_000_000u64.to_ne_bytes());
            m.extend_from_slice(&(tgid - 1).to_ne_bytes());
            m.extend_from_slice(&tgid.to_ne_bytes());
            m
        };
        let mut d = one(42);
        d.extend(one(43));
        assert_eq!(execs(&d), vec![(42, 7_000_000_000), (43, 7_000_000_000)]);
        assert!(
            execs(&d[..10]).is_empty(),
            "a short datagram reads as nothing"
        );
        assert_eq!(listen_message().len(), 40);
    }
}
