//! processes, process_open_files, process_memory_map: one /proc directory per process,
//! read lazily, one process at a time; `WHERE pid = N` reads only that one.

use super::super::row::{saturate, table_row};
use super::super::schema::*;
use mig_host::{net, process};
use std::io;

/// A per-process read as the tables take it: what was read; `None` when the process is gone,
/// or when the kernel will not show it to the agent (a process of an enclosing container or
/// user namespace, or one a security module guards: ps and ss show nothing of it either, and
/// one such process must not fail a scan of all the others). Any other failure ends the scan.
pub(crate) fn shown<T>(read: io::Result<Option<T>>) -> Result<Option<T>, String> {
    match read {
        Ok(v) => Ok(v),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// [`shown`] for a read of many things (descriptors, mappings): none when not shown.
pub(crate) fn all_shown<T>(read: io::Result<Vec<T>>) -> Result<Vec<T>, String> {
    Ok(shown(read.map(Some))?.unwrap_or_default())
}

/// The processes a scan visits: the `pid` values asked for, or every process (an error when
/// /proc cannot be listed, which must not read as "no processes").
pub(crate) fn pids(q: &Constraints) -> Result<Vec<u32>, String> {
    Ok(match q.ints("pid") {
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
        None => net::pids().map_err(|e| e.to_string())?,
    })
}

/// Rows made per process, one process at a time; an error from `rows_of` ends the scan.
pub(crate) fn per_process<F, R>(q: &Constraints, mut rows_of: F) -> Result<Box<dyn Rows>, String>
where
    F: FnMut(u32) -> Result<Vec<R>, String> + 'static,
    R: Into<Row> + 'static,
{
    let mut pids = pids(q)?.into_iter();
    let mut pending = Vec::new().into_iter();
    Ok(Box::new(FnRows(move || loop {
        if let Some(r) = pending.next() {
            return Ok(Some(r));
        }
        match pids.next() {
            Some(pid) => pending = rows_of(pid)?.into_iter(),
            None => return Ok(None),
        }
    })))
}

table_row! {
    /// One process.
    struct ProcessRow {
        pid: bigint = "Process (or thread) ID",
        name: text = "The process path or shorthand argv[0]",
        path: text = "Path to executed binary",
        cmdline: text = "Complete argv",
        state: text = "Process state",
        cwd: text = "Process current working directory",
        root: text = "Process virtual root directory",
        uid: bigint = "Unsigned user ID",
        gid: bigint = "Unsigned group ID",
        euid: bigint = "Unsigned effective user ID",
        egid: bigint = "Unsigned effective group ID",
        suid: bigint = "Unsigned saved user ID",
        sgid: bigint = "Unsigned saved group ID",
        on_disk: integer = "The process path exists yes=1, no=0, unknown=-1",
        wired_size: bigint = "Bytes of unpageable memory used by process",
        resident_size: bigint = "Bytes of private memory used by process",
        total_size: bigint = "Total virtual memory size",
        user_time: bigint = "CPU time in milliseconds spent in user space",
        system_time: bigint = "CPU time in milliseconds spent in kernel space",
        disk_bytes_read: bigint = "Bytes read from disk",
        disk_bytes_written: bigint = "Bytes written to disk",
        start_time: bigint = "Process start time in seconds since Epoch, in case of error -1",
        parent: bigint = "Process parent's PID",
        pgroup: bigint = "Process group",
        threads: integer = "Number of threads used by process",
        nice: integer = "Process nice level (-20 to 20, default 0)",
        cgroup_path: text = "The full hierarchical path of the process's control group",
    }
    absent {
        elevated_token: integer = "Process uses elevated token yes=1, no=0",
        secure_process: integer = "Process is secure (IUM) yes=1, no=0",
        protection_type: text = "The protection type of the process",
        virtual_process: integer = "Process is virtual (e.g. System, Registry, vmmem) yes=1, no=0",
        elapsed_time: bigint = "Elapsed time in seconds this process has been running.",
        handle_count: bigint = "Total number of handles that the process has open. This number is the sum of the handles currently opened by each thread in the process.",
        percent_processor_time: bigint = "Returns elapsed time that all of the threads of this process used the processor to execute instructions in 100 nanoseconds ticks.",
        upid: bigint = "A 64bit pid that is never reused. Returns -1 if we couldn't gather them from the system.",
        uppid: bigint = "The 64bit parent pid that is never reused. Returns -1 if we couldn't gather them from the system.",
        cpu_type: integer = "Indicates the specific processor designed for installation.",
        cpu_subtype: integer = "Indicates the specific processor on which an entry may be used.",
        translated: integer = "Indicates whether the process is running under the Rosetta Translation Environment, yes=1, no=0, error=-1.",
    }
}

pub(crate) static PROCESSES: Table = Table {
    name: "processes",
    about: "All running processes on the host system.",
    columns: ProcessRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_processes,
    reach: Reach::Host,
    example: "SELECT pid, name, path FROM processes WHERE pid = 1",
};

fn gen_processes(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ticks = process::clock_ticks();
    let boot = if q.uses("start_time") {
        Some(process::boot_time().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let want_cmdline = q.uses("cmdline");
    let want_path = q.uses("path") || q.uses("on_disk");
    let want_dirs = q.uses("cwd") || q.uses("root");
    let want_io = q.uses("disk_bytes_read") || q.uses("disk_bytes_written");
    let want_cgroup = q.uses("cgroup_path");
    per_process(q, move |pid| {
        let (Some(st), Some(ss)) = (shown(process::stat(pid))?, shown(process::status(pid))?)
        else {
            return Ok(Vec::new());
        };
        let opt = |want: bool, read: &dyn Fn() -> io::Result<Option<String>>| {
            Ok::<_, String>(if want {
                shown(read())?.unwrap_or_default()
            } else {
                String::new()
            })
        };
        let (path, on_disk) = if want_path {
            shown(process::exe(pid).map(Some))?.unwrap_or((String::new(), None))
        } else {
            (String::new(), None)
        };
        let cmdline = if want_cmdline {
            shown(process::cmdline(pid))?.unwrap_or_default().join(" ")
        } else {
            String::new()
        };
        let io = if want_io {
            shown(process::io(pid))?
        } else {
            None
        };
        let ms = |t: u64| saturate(t.saturating_mul(1000) / ticks);
        Ok(vec![ProcessRow {
            pid: pid.into(),
            name: ss.name.clone(),
            path,
            cmdline,
            state: st.state.clone(),
            cwd: opt(want_dirs, &|| process::link(pid, "cwd"))?,
            root: opt(want_dirs, &|| process::link(pid, "root"))?,
            uid: ss.uids[0].into(),
            gid: ss.gids[0].into(),
            euid: ss.uids[1].into(),
            egid: ss.gids[1].into(),
            suid: ss.uids[2].into(),
            sgid: ss.gids[2].into(),
            on_disk: on_disk.map_or(-1, i64::from),
            wired_size: saturate(ss.vm_lck_bytes),
            resident_size: saturate(ss.vm_rss_bytes),
            total_size: saturate(ss.vm_size_bytes),
            user_time: ms(st.utime),
            system_time: ms(st.stime),
            // -1: the process's I/O counters are not shown (or it exited meanwhile).
            disk_bytes_read: io.map_or(-1, |(r, _)| saturate(r)),
            disk_bytes_written: io.map_or(-1, |(_, w)| saturate(w)),
            start_time: boot.map_or(-1, |b| (b + st.starttime / ticks) as i64),
            parent: st.ppid,
            pgroup: st.pgrp,
            threads: st.threads,
            nice: st.nice,
            cgroup_path: opt(want_cgroup, &|| process::cgroup(pid))?,
        }])
    })
}

table_row! {
    /// One file a process has open.
    struct OpenFileRow {
        pid: bigint = "Process (or thread) ID",
        fd: bigint = "Process-specific file descriptor number",
        path: text = "Filesystem path of descriptor",
    }
}

pub(crate) static PROCESS_OPEN_FILES: Table = Table {
    name: "process_open_files",
    about: "File descriptors for each process.",
    columns: OpenFileRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_open_files,
    reach: Reach::Host,
    example: "SELECT * FROM process_open_files WHERE pid = 1",
};

fn gen_open_files(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    per_process(q, |pid| {
        Ok(all_shown(process::fds(pid))?
            .into_iter()
            // Sockets, pipes and anonymous inodes are not files (osquery leaves them out).
            .filter(|f| f.target.starts_with('/'))
            .map(|f| OpenFileRow {
                pid: pid.into(),
                fd: saturate(f.fd),
                path: f.target,
            })
            .collect())
    })
}

table_row! {
    /// One mapping of a process's address space.
    struct MemoryMapRow {
        pid: integer = "Process (or thread) ID",
        start: text = "Virtual start address (hex)",
        end: text = "Virtual end address (hex)",
        permissions: text = "r=read, w=write, x=execute, p=private (cow)",
        offset: bigint = "Offset into mapped path",
        device: text = "MA:MI Major/minor device ID",
        inode: integer = "Mapped path inode, 0 means uninitialized (BSS)",
        path: text = "Path to mapped file or mapped type",
        pseudo: integer = "1 If path is a pseudo path, else 0",
    }
}

pub(crate) static PROCESS_MEMORY_MAP: Table = Table {
    name: "process_memory_map",
    about: "Process memory mapped files and pseudo device/regions.",
    columns: MemoryMapRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_memory_map,
    reach: Reach::Host,
    example: "SELECT * FROM process_memory_map WHERE pid = 1",
};

fn gen_memory_map(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    per_process(q, |pid| {
        Ok(all_shown(process::maps(pid))?
            .into_iter()
            .map(|m| MemoryMapRow {
                pid: pid.into(),
                pseudo: i64::from(m.inode == 0),
                start: m.start,
                end: m.end,
                permissions: m.permissions,
                offset: saturate(m.offset),
                device: m.device,
                inode: saturate(m.inode),
                path: m.path,
            })
            .collect())
    })
}
