//! processes, process_open_files, process_memory_map: one /proc directory per process,
//! read lazily, one process at a time; `WHERE pid = N` reads only that one.

use super::super::schema::*;
use mig_host::{net, process};

/// The processes a scan visits: the `pid` values asked for, or every process.
pub(crate) fn pids(q: &Constraints) -> Vec<u32> {
    match q.ints("pid") {
        Some(wanted) => {
            let mut p: Vec<u32> = wanted
                .into_iter()
                .filter_map(|p| u32::try_from(p).ok())
                .filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
                .collect();
            p.sort_unstable();
            p.dedup();
            p
        }
        None => net::pids(),
    }
}

/// Rows made per process, one process at a time.
pub(crate) fn per_process<F>(q: &Constraints, mut rows_of: F) -> Box<dyn Rows>
where
    F: FnMut(u32) -> Vec<Row> + 'static,
{
    let mut pids = pids(q).into_iter();
    let mut pending = Vec::new().into_iter();
    Box::new(FnRows(move || loop {
        if let Some(r) = pending.next() {
            return Ok(Some(r));
        }
        match pids.next() {
            Some(pid) => pending = rows_of(pid).into_iter(),
            None => return Ok(None),
        }
    }))
}

pub(crate) static PROCESSES: Table = Table {
    name: "processes",
    about: "All running processes on the host system.",
    columns: &[
        bigint("pid", "Process (or thread) ID"),
        text("name", "The process path or shorthand argv[0]"),
        text("path", "Path to executed binary"),
        text("cmdline", "Complete argv"),
        text("state", "Process state"),
        text("cwd", "Process current working directory"),
        text("root", "Process virtual root directory"),
        bigint("uid", "Unsigned user ID"),
        bigint("gid", "Unsigned group ID"),
        bigint("euid", "Unsigned effective user ID"),
        bigint("egid", "Unsigned effective group ID"),
        bigint("suid", "Unsigned saved user ID"),
        bigint("sgid", "Unsigned saved group ID"),
        integer("on_disk", "The process path exists yes=1, no=0, unknown=-1"),
        bigint("wired_size", "Bytes of unpageable memory used by process"),
        bigint("resident_size", "Bytes of private memory used by process"),
        bigint("total_size", "Total virtual memory size"),
        bigint("user_time", "CPU time in milliseconds spent in user space"),
        bigint(
            "system_time",
            "CPU time in milliseconds spent in kernel space",
        ),
        bigint("disk_bytes_read", "Bytes read from disk"),
        bigint("disk_bytes_written", "Bytes written to disk"),
        bigint(
            "start_time",
            "Process start time in seconds since Epoch, in case of error -1",
        ),
        bigint("parent", "Process parent's PID"),
        bigint("pgroup", "Process group"),
        integer("threads", "Number of threads used by process"),
        integer("nice", "Process nice level (-20 to 20, default 0)"),
        text(
            "cgroup_path",
            "The full hierarchical path of the process's control group",
        ),
    ],
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_processes,
    example: "SELECT pid, name, path FROM processes WHERE pid = 1",
};

fn gen_processes(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ticks = process::clock_ticks();
    let boot = process::boot_time();
    let want_cmdline = q.uses("cmdline");
    let want_path = q.uses("path") || q.uses("on_disk");
    let want_dirs = q.uses("cwd") || q.uses("root");
    let want_io = q.uses("disk_bytes_read") || q.uses("disk_bytes_written");
    let want_cgroup = q.uses("cgroup_path");
    Ok(per_process(q, move |pid| {
        let (Some(st), Some(ss)) = (process::stat(pid), process::status(pid)) else {
            return Vec::new();
        };
        let opt = |want: bool, f: &dyn Fn() -> Option<String>| {
            if want {
                f().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let (path, on_disk) = if want_path {
            process::exe(pid)
        } else {
            (String::new(), None)
        };
        let cmdline = if want_cmdline {
            process::cmdline(pid).unwrap_or_default().join(" ")
        } else {
            String::new()
        };
        let io = if want_io { process::io(pid) } else { None };
        let ms = |t: u64| u(t.saturating_mul(1000) / ticks);
        let start = boot.map_or(-1, |b| (b + st.starttime / ticks) as i64);
        vec![vec![
            i(pid),
            t(ss.name.clone()),
            t(path),
            t(cmdline),
            t(st.state.clone()),
            t(opt(want_dirs, &|| process::link(pid, "cwd"))),
            t(opt(want_dirs, &|| process::link(pid, "root"))),
            i(ss.uids[0]),
            i(ss.gids[0]),
            i(ss.uids[1]),
            i(ss.gids[1]),
            i(ss.uids[2]),
            i(ss.gids[2]),
            i(on_disk.map_or(-1, i64::from)),
            u(ss.vm_lck_bytes),
            u(ss.vm_rss_bytes),
            u(ss.vm_size_bytes),
            ms(st.utime),
            ms(st.stime),
            io.map_or(i(-1), |(r, _)| u(r)),
            io.map_or(i(-1), |(_, w)| u(w)),
            i(start),
            i(st.ppid),
            i(st.pgrp),
            i(st.threads),
            i(st.nice),
            t(opt(want_cgroup, &|| process::cgroup(pid))),
        ]]
    }))
}

pub(crate) static PROCESS_OPEN_FILES: Table = Table {
    name: "process_open_files",
    about: "File descriptors for each process.",
    columns: &[
        bigint("pid", "Process (or thread) ID"),
        bigint("fd", "Process-specific file descriptor number"),
        text("path", "Filesystem path of descriptor"),
    ],
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_open_files,
    example: "SELECT * FROM process_open_files WHERE pid = 1",
};

fn gen_open_files(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(per_process(q, |pid| {
        process::fds(pid)
            .into_iter()
            // Sockets, pipes and anonymous inodes are not files (osquery leaves them out).
            .filter(|f| f.target.starts_with('/'))
            .map(|f| vec![i(pid), u(f.fd), t(f.target)])
            .collect()
    }))
}

pub(crate) static PROCESS_MEMORY_MAP: Table = Table {
    name: "process_memory_map",
    about: "Process memory mapped files and pseudo device/regions.",
    columns: &[
        integer("pid", "Process (or thread) ID"),
        text("start", "Virtual start address (hex)"),
        text("end", "Virtual end address (hex)"),
        text("permissions", "r=read, w=write, x=execute, p=private (cow)"),
        bigint("offset", "Offset into mapped path"),
        text("device", "MA:MI Major/minor device ID"),
        integer("inode", "Mapped path inode, 0 means uninitialized (BSS)"),
        text("path", "Path to mapped file or mapped type"),
        integer("pseudo", "1 If path is a pseudo path, else 0"),
    ],
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_memory_map,
    example: "SELECT * FROM process_memory_map WHERE pid = 1",
};

fn gen_memory_map(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(per_process(q, |pid| {
        process::maps(pid)
            .into_iter()
            .map(|m| {
                let pseudo = m.inode == 0;
                vec![
                    i(pid),
                    t(m.start),
                    t(m.end),
                    t(m.permissions),
                    u(m.offset),
                    t(m.device),
                    u(m.inode),
                    t(m.path),
                    i(pseudo as i64),
                ]
            })
            .collect()
    }))
}
