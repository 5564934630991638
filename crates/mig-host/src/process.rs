//! Processes, read from /proc: identity, state, memory, CPU time, open descriptors and
//! memory maps. Every reader returns `None` (or nothing) when the process is gone, since
//! processes come and go while they are read, and an error naming the file for any other
//! failure (a refusal is not an exit).

use std::io;
use std::path::Path;

/// The text of /proc/PID/<file>; `None` when the process is gone.
fn read(pid: u32, file: &str) -> io::Result<Option<String>> {
    crate::optional(format!("/proc/{pid}/{file}"), |p| {
        std::fs::read_to_string(p)
    })
}

/// The fields of /proc/PID/stat that matter here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    /// The command name, as the kernel keeps it (at most 15 bytes).
    pub comm: String,
    /// The state letter: `R` running, `S` sleeping, `D` in uninterruptible wait, `Z` zombie…
    pub state: String,
    /// The parent's process ID.
    pub ppid: i64,
    /// The process group ID.
    pub pgrp: i64,
    /// CPU time spent in user mode, in clock ticks.
    pub utime: u64,
    /// CPU time spent in kernel mode, in clock ticks.
    pub stime: u64,
    /// The nice value, from -20 (favoured) to 19.
    pub nice: i64,
    /// The number of threads.
    pub threads: i64,
    /// Start, in clock ticks after boot.
    pub starttime: u64,
    /// The size of the virtual address space, in bytes.
    pub vsize: u64,
}

/// Parses /proc/PID/stat. The command name is in parentheses and may itself contain spaces
/// and parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state) of proc(5).
    let num = |i: usize| -> Option<i64> { f.get(i)?.parse().ok() };
    let unum = |i: usize| -> Option<u64> { f.get(i)?.parse().ok() };
    Some(Stat {
        comm,
        state: f.first()?.to_string(),
        ppid: num(1)?,
        pgrp: num(2)?,
        utime: unum(11)?,
        stime: unum(12)?,
        nice: num(16)?,
        threads: num(17)?,
        starttime: unum(19)?,
        vsize: unum(20)?,
    })
}

/// The process's /proc/PID/stat; `None` when it is gone.
pub fn stat(pid: u32) -> io::Result<Option<Stat>> {
    let Some(text) = read(pid, "stat")? else {
        return Ok(None);
    };
    parse_stat(&text)
        .map(Some)
        .ok_or_else(|| crate::unexpected(format!("/proc/{pid}/stat"), "unexpected content"))
}

/// The fields of /proc/PID/status that matter here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// The command name (`Name`), as in /proc/PID/stat.
    pub name: String,
    /// User IDs: real, effective, saved and filesystem.
    pub uids: [u32; 4],
    /// Group IDs: real, effective, saved and filesystem.
    pub gids: [u32; 4],
    /// Resident memory (`VmRSS`), in bytes.
    pub vm_rss_bytes: u64,
    /// Virtual memory size (`VmSize`), in bytes.
    pub vm_size_bytes: u64,
    /// Locked memory (`VmLck`), in bytes.
    pub vm_lck_bytes: u64,
}

/// Parses /proc/PID/status; fields that are missing (as for kernel threads) stay zero.
pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    let ids = |v: &str| -> [u32; 4] {
        let mut out = [0u32; 4];
        for (slot, n) in out.iter_mut().zip(v.split_whitespace()) {
            *slot = n.parse().unwrap_or(0);
        }
        out
    };
    let kb = |v: &str| -> u64 {
        v.split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
            .saturating_mul(1024)
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => s.name = value.to_string(),
            "Uid" => s.uids = ids(value),
            "Gid" => s.gids = ids(value),
            "VmRSS" => s.vm_rss_bytes = kb(value),
            "VmSize" => s.vm_size_bytes = kb(value),
            "VmLck" => s.vm_lck_bytes = kb(value),
            _ => {}
        }
    }
    s
}

/// The process's /proc/PID/status; `None` when it is gone.
pub fn status(pid: u32) -> io::Result<Option<Status>> {
    Ok(read(pid, "status")?.map(|t| parse_status(&t)))
}

/// The arguments, from /proc/PID/cmdline (empty for kernel threads); `None` when the process
/// is gone.
pub fn cmdline(pid: u32) -> io::Result<Option<Vec<String>>> {
    let raw = crate::optional(format!("/proc/{pid}/cmdline"), |p| std::fs::read(p))?;
    Ok(raw.map(|raw| {
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }))
}

/// Where a /proc/PID/{exe,cwd,root} link points; `None` when the process is gone or the link
/// leads nowhere (a kernel thread has no executable, a zombie no directories).
pub fn link(pid: u32, which: &str) -> io::Result<Option<String>> {
    Ok(
        crate::optional(format!("/proc/{pid}/{which}"), |p| std::fs::read_link(p))?
            .map(|p| p.to_string_lossy().into_owned()),
    )
}

/// The executable's path, without the kernel's " (deleted)" mark (empty when the process has
/// none or is gone), and whether it is still on disk (`None` when unknown: no executable, or
/// its path cannot be looked up from here).
pub fn exe(pid: u32) -> io::Result<(String, Option<bool>)> {
    Ok(match link(pid, "exe")? {
        Some(p) => match p.strip_suffix(" (deleted)") {
            Some(gone) => (gone.to_string(), Some(false)),
            None => {
                // The path is the process's, looked up in the agent's mount namespace: a
                // failure to look it up is "unknown", which the caller shows as such.
                let on_disk = Path::new(&p).try_exists().ok();
                (p, on_disk)
            }
        },
        None => (String::new(), None),
    })
}

/// Bytes read from and written to storage (/proc/PID/io); `None` when the process is gone.
pub fn io(pid: u32) -> io::Result<Option<(u64, u64)>> {
    let Some(text) = read(pid, "io")? else {
        return Ok(None);
    };
    let field = |name: &str| -> io::Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| crate::unexpected(format!("/proc/{pid}/io"), &format!("no {name}")))
    };
    Ok(Some((field("read_bytes:")?, field("write_bytes:")?)))
}

/// The process's cgroup path: the unified (v2) hierarchy's, else the first listed; `None`
/// when the process is gone or lists none.
pub fn cgroup(pid: u32) -> io::Result<Option<String>> {
    let Some(text) = read(pid, "cgroup")? else {
        return Ok(None);
    };
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| text.lines().next().and_then(|l| l.splitn(3, ':').nth(2)))
        .map(str::to_string))
}

/// The inode of a namespace of the process (`net`, `mnt`…), as osquery shows it; `None` when
/// the process is gone or the kernel has no such namespace.
pub fn namespace(pid: u32, kind: &str) -> io::Result<Option<String>> {
    let Some(l) = link(pid, &format!("ns/{kind}"))? else {
        return Ok(None);
    };
    Ok(l.split_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .map(str::to_string))
}

/// An open descriptor and what it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fd {
    /// The descriptor's number.
    pub fd: u64,
    /// Where its /proc/PID/fd link points: a path, `socket:[N]`, `pipe:[N]`, `anon_inode:…`.
    pub target: String,
}

/// The open descriptors of a process, by number; none when it is gone.
pub fn fds(pid: u32) -> io::Result<Vec<Fd>> {
    let dir = format!("/proc/{pid}/fd");
    let Some(entries) = crate::optional(&dir, |p| std::fs::read_dir(p))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries {
        // The listing ends early when the process exits meanwhile.
        let Some(entry) = crate::optional(&dir, |_| entry)? else {
            break;
        };
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // A descriptor closed since the listing is not there any more.
        if let Some(target) = crate::optional(entry.path(), |p| std::fs::read_link(p))? {
            out.push(Fd {
                fd,
                target: target.to_string_lossy().into_owned(),
            });
        }
    }
    out.sort_by_key(|f| f.fd);
    Ok(out)
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// One line of /proc/PID/maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The first address of the region, in hex with `0x`.
    pub start: String,
    /// The address just past the region, in hex with `0x`.
    pub end: String,
    /// `r`, `w`, `x` and `p` (private) or `s` (shared), `-` for each one missing.
    pub permissions: String,
    /// The offset in the mapped file, in bytes.
    pub offset: u64,
    /// The mapped file's device, `major:minor` in hex.
    pub device: String,
    /// The mapped file's inode; 0 for anonymous memory.
    pub inode: u64,
    /// The mapped file's path, or a pseudo-path such as `[heap]`; empty for anonymous memory.
    pub path: String,
}

/// Parses /proc/PID/maps; malformed lines are skipped.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(6, char::is_whitespace);
            let range = f.next()?;
            let (start, end) = range.split_once('-')?;
            let permissions = f.next()?.to_string();
            let offset = u64::from_str_radix(f.next()?, 16).ok()?;
            let device = f.next()?.to_string();
            let inode = f.next()?.parse().ok()?;
            let path = f.next().unwrap_or("").trim_start().to_string();
            Some(Mapping {
                start: format!("0x{start}"),
                end: format!("0x{end}"),
                permissions,
                offset,
                device,
                inode,
                path,
            })
        })
        .collect()
}

/// The process's memory regions, from /proc/PID/maps; none when it is gone (or is a kernel
/// thread, which has no memory of its own).
pub fn maps(pid: u32) -> io::Result<Vec<Mapping>> {
    Ok(read(pid, "maps")?
        .map(|t| parse_maps(&t))
        .unwrap_or_default())
}

/// Clock ticks per second (USER_HZ), for /proc's CPU times.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// The boot time, in seconds since the epoch (`btime` of /proc/stat).
pub fn boot_time() -> io::Result<u64> {
    const PROC_STAT: &str = "/proc/stat";
    crate::required(PROC_STAT, |p| std::fs::read_to_string(p))?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| crate::unexpected(PROC_STAT, "no btime line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_strange_name() {
        let s = parse_stat("42 (a (b) c) S 1 42 42 0 -1 4194560 1 2 3 4 150 25 0 0 20 -5 3 0 1234 9999 10 18446744073709551615").unwrap();
        assert_eq!(s.comm, "a (b) c");
        assert_eq!(s.state, "S");
        assert_eq!((s.ppid, s.pgrp), (1, 42));
        assert_eq!((s.utime, s.stime), (150, 25));
        assert_eq!((s.nice, s.threads), (-5, 3));
        assert_eq!((s.starttime, s.vsize), (1234, 9999));
        assert!(parse_stat("garbage").is_none());
        assert!(parse_stat("1 (x) S").is_none());
    }

    #[test]
    fn status_and_maps() {
        let s = parse_status("Name:\tbash\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t6\t7\t8\nVmRSS:\t  100 kB\nVmSize:\t2 kB\n");
        assert_eq!(s.name, "bash");
        assert_eq!(s.uids, [1000, 1001, 1002, 1003]);
        assert_eq!(s.gids[1], 6);
        assert_eq!(s.vm_rss_bytes, 102_400);
        let m = parse_maps("55d0c5a00000-55d0c5a2e000 r--p 00000000 fd:01 1573 /usr/bin/bash\n7ffd1c5e0000-7ffd1c601000 rw-p 00000000 00:00 0                          [stack]\n7f00-7f10 rw-p 00001000 00:00 0 \n");
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].start, "0x55d0c5a00000");
        assert_eq!(m[0].path, "/usr/bin/bash");
        assert_eq!(m[1].path, "[stack]");
        assert_eq!(m[2].offset, 0x1000);
        assert_eq!(m[2].path, "");
    }

    #[test]
    fn this_process() {
        let me = std::process::id();
        let s = stat(me).unwrap().unwrap();
        assert!(s.threads >= 1);
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        assert_eq!(status(me).unwrap().unwrap().uids[0], uid);
        assert!(fds(me).unwrap().iter().any(|f| f.fd <= 2));
        assert!(exe(me).unwrap().1 == Some(true));
        assert!(!maps(me).unwrap().is_empty());
        // Kernels without I/O accounting or cgroups have no such file: absent, not failed.
        io(me).unwrap();
        cgroup(me).unwrap();
        assert!(!cmdline(me).unwrap().unwrap().is_empty());
        assert!(boot_time().is_ok());
        assert_eq!(socket_inode("socket:[77]"), Some(77));
        assert!(namespace(me, "net")
            .unwrap()
            .is_some_and(|n| n.parse::<u64>().is_ok()));
    }

    /// A process that has exited is gone, not an error: every reader says "nothing".
    #[test]
    fn a_process_that_exited_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(stat(pid).unwrap(), None);
        assert_eq!(status(pid).unwrap(), None);
        assert_eq!(cmdline(pid).unwrap(), None);
        assert_eq!(link(pid, "cwd").unwrap(), None);
        assert_eq!(exe(pid).unwrap(), (String::new(), None));
        assert_eq!(io(pid).unwrap(), None);
        assert_eq!(cgroup(pid).unwrap(), None);
        assert_eq!(namespace(pid, "net").unwrap(), None);
        assert!(fds(pid).unwrap().is_empty());
        assert!(maps(pid).unwrap().is_empty());
    }
}
