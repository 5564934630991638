//! The event tables: process_events and file_events (osquery's), and mig_event_buffers (this
//! project's: the agent's event buffers, with what they lost). Their rows are what the agent
//! handed this query (crate::events).

use super::super::row::table_row;
use super::super::schema::*;
use crate::events::snapshot;

table_row! {
    /// One program started.
    struct ProcessEventRow {
        pid: bigint = "Process (or thread) ID",
        path: text = "Path of executed file",
        mode: text = "File mode permissions",
        cmdline: text = "Command line arguments (argv)",
        #[hidden]
        cmdline_size: bigint = "Actual size (bytes) of command line arguments",
        #[hidden]
        env: Option<text> = "Environment variables delimited by spaces",
        #[hidden]
        env_count: Option<bigint> = "Number of environment variables",
        #[hidden]
        env_size: Option<bigint> = "Actual size (bytes) of environment list",
        cwd: text = "The process current working directory",
        auid: bigint = "Audit User ID at process start",
        uid: bigint = "User ID at process start",
        euid: bigint = "Effective user ID at process start",
        gid: bigint = "Group ID at process start",
        egid: bigint = "Effective group ID at process start",
        owner_uid: bigint = "File owner user ID",
        owner_gid: bigint = "File owner group ID",
        atime: bigint = "File last access in UNIX time",
        mtime: bigint = "File modification in UNIX time",
        ctime: bigint = "File last metadata change in UNIX time",
        btime: bigint = "File creation in UNIX time",
        #[hidden]
        overflows: Option<text> = "List of structures that overflowed",
        parent: bigint = "Process parent's PID, or -1 if cannot be determined.",
        time: bigint = "Time of execution in UNIX time",
        uptime: bigint = "Time of execution in system uptime",
        #[hidden]
        eid: text = "Event ID",
        fsuid: bigint = "Filesystem user ID at process start",
        suid: bigint = "Saved user ID at process start",
        fsgid: bigint = "Filesystem group ID at process start",
        sgid: bigint = "Saved group ID at process start",
        syscall: text = "Syscall name: fork, vfork, clone, execve, execveat",
    }
    absent {
        status: bigint = "OpenBSM Attribute: Status of the process",
    }
}

pub(crate) static PROCESS_EVENTS: Table = Table {
    name: "process_events",
    about: "Programs started (execve), from the kernel's process connector, while a signed schedule asks for them: the events since the schedule's previous run (docs/monitoring.md). The environment is not collected.",
    columns: ProcessEventRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_process_events,
    reach: Reach::Host,
    example: "SELECT pid, parent, path, cmdline, uid, time FROM process_events",
};

fn gen_process_events(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows: Vec<ProcessEventRow> = snapshot()
        .process_events
        .iter()
        .map(|e| ProcessEventRow {
            pid: e.pid,
            path: e.path.clone(),
            mode: e.mode.clone(),
            cmdline: e.cmdline.clone(),
            cmdline_size: e.cmdline_size,
            // The environment is not collected: it holds secrets, and osquery leaves it out
            // unless asked too.
            env: None,
            env_count: None,
            env_size: None,
            cwd: e.cwd.clone(),
            auid: e.auid,
            uid: e.uid,
            euid: e.euid,
            gid: e.gid,
            egid: e.egid,
            owner_uid: e.owner_uid,
            owner_gid: e.owner_gid,
            atime: e.atime,
            mtime: e.mtime,
            ctime: e.ctime,
            btime: e.btime,
            overflows: None,
            parent: e.parent,
            time: e.time,
            uptime: e.uptime,
            eid: e.eid.clone(),
            fsuid: e.fsuid,
            suid: e.suid,
            fsgid: e.fsgid,
            sgid: e.sgid,
            syscall: e.syscall.clone(),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One change under a watched path.
    struct FileEventRow {
        target_path: text = "The path associated with the event",
        category: text = "The category of the file defined in the config",
        action: text = "Change action (UPDATE, REMOVE, etc)",
        transaction_id: bigint = "ID used during bulk update",
        inode: bigint = "Filesystem inode number",
        uid: bigint = "Owning user ID",
        gid: bigint = "Owning group ID",
        mode: text = "Permission bits",
        size: bigint = "Size of file in bytes",
        atime: bigint = "Last access time",
        mtime: bigint = "Last modification time",
        ctime: bigint = "Last status change time",
        md5: text = "The MD5 of the file after change",
        sha1: text = "The SHA1 of the file after change",
        sha256: text = "The SHA256 of the file after change",
        hashed: integer = "1 if the file was hashed, 0 if not, -1 if hashing failed",
        time: bigint = "Time of file event",
        #[hidden]
        eid: text = "Event ID",
    }
}

pub(crate) static FILE_EVENTS: Table = Table {
    name: "file_events",
    about: "Changes under the paths a signed schedule watches (its file_paths), from inotify: the events since the schedule's previous run; category is the watched path (docs/monitoring.md).",
    columns: FileEventRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_file_events,
    reach: Reach::Host,
    example: "SELECT target_path, action, sha256, time FROM file_events",
};

fn gen_file_events(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows: Vec<FileEventRow> = snapshot()
        .file_events
        .iter()
        .map(|e| FileEventRow {
            target_path: e.target_path.clone(),
            category: e.category.clone(),
            action: e.action.clone(),
            transaction_id: e.transaction_id,
            inode: e.inode,
            uid: e.uid,
            gid: e.gid,
            mode: e.mode.clone(),
            size: e.size,
            atime: e.atime,
            mtime: e.mtime,
            ctime: e.ctime,
            md5: e.md5.clone(),
            sha1: e.sha1.clone(),
            sha256: e.sha256.clone(),
            hashed: e.hashed,
            time: e.time,
            eid: e.eid.clone(),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// A socket that appeared or went.
    struct SocketEventRow {
        action: text = "The socket action (bind, listen, close)",
        pid: bigint = "Process (or thread) ID",
        path: text = "Path of executed file",
        fd: text = "The file description for the process socket",
        auid: bigint = "Audit User ID",
        family: integer = "The Internet protocol family ID",
        #[hidden]
        protocol: integer = "The network protocol ID",
        local_address: text = "Local address associated with socket",
        remote_address: text = "Remote address associated with socket",
        local_port: integer = "Local network protocol port number",
        remote_port: integer = "Remote network protocol port number",
        #[hidden]
        socket: Option<text> = "The local path (UNIX domain socket only)",
        time: bigint = "Time of execution in UNIX time",
        uptime: bigint = "Time of execution in system uptime",
        #[hidden]
        eid: text = "Event ID",
        #[hidden]
        success: integer = "Deprecated. Use the 'status' column instead",
        status: text = "Either 'succeeded', 'failed', 'in_progress' (connect() on non-blocking socket) or 'no_client' (null accept() on non-blocking socket)",
    }
}

pub(crate) static SOCKET_EVENTS: Table = Table {
    name: "socket_events",
    about: "TCP and UDP sockets that appeared (bind for a listening one, connect, accept) and went (close), sampled four times a second from the kernel's socket tables while a signed schedule asks for them: a connection opened and closed between two samples is not seen (docs/monitoring.md).",
    columns: SocketEventRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_socket_events,
    reach: Reach::Host,
    example: "SELECT action, pid, path, remote_address, remote_port, time FROM socket_events",
};

fn gen_socket_events(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows: Vec<SocketEventRow> = snapshot()
        .socket_events
        .iter()
        .map(|e| SocketEventRow {
            action: e.action.clone(),
            pid: e.pid,
            path: e.path.clone(),
            fd: e.fd.clone(),
            auid: e.auid,
            status: e.status.clone(),
            family: e.family,
            protocol: e.protocol,
            local_address: e.local_address.clone(),
            remote_address: e.remote_address.clone(),
            local_port: e.local_port,
            remote_port: e.remote_port,
            socket: None,
            time: e.time,
            uptime: e.uptime,
            eid: e.eid.clone(),
            success: i64::from(e.status == "succeeded"),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One of the agent's event buffers.
    struct BufferRow {
        name: text = "The event table the buffer feeds",
        capacity: bigint = "Events the buffer holds at most (the oldest go first)",
        buffered: bigint = "Events it holds now",
        events: bigint = "Events collected since the collector started",
        dropped: bigint = "Events lost: pushed out before a run read them, or dropped by the kernel",
        active: integer = "1 while a signed schedule asks for these events, else 0",
    }
}

pub(crate) static MIG_EVENT_BUFFERS: Table = Table {
    name: "mig_event_buffers",
    about: "This project's own table: the agent's event buffers, how full they are and how many events they lost (the overflow counter), as the agent handed them to this query.",
    columns: BufferRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_buffers,
    reach: Reach::Host,
    example: "SELECT name, events, dropped, active FROM mig_event_buffers",
};

fn gen_buffers(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows: Vec<BufferRow> = snapshot()
        .buffers
        .iter()
        .map(|b| BufferRow {
            name: b.name.clone(),
            capacity: b.capacity as i64,
            buffered: b.buffered as i64,
            events: b.events as i64,
            dropped: b.dropped as i64,
            active: i64::from(b.active),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}
