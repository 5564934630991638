//! Kernel state from /proc and /etc: cpu_time, kernel_keys, interface_ipv6, ulimit_info,
//! process_namespaces, process_open_pipes, shared_memory, memory_map, etc_protocols,
//! etc_services.

use super::super::row::table_row;
use super::super::schema::*;
use super::processes::{per_process, shown};
use std::path::Path;

/// A file every Linux has (/proc/stat): its text, or an error naming it.
fn required_text(path: &str) -> Result<String, String> {
    mig_host::required(path, |p| std::fs::read_to_string(p)).map_err(|e| e.to_string())
}

/// A file that may be missing (/etc/services on a minimal system): its text, or empty.
fn optional_text(path: &str) -> Result<String, String> {
    Ok(mig_host::optional(path, |p| std::fs::read_to_string(p))
        .map_err(|e| e.to_string())?
        .unwrap_or_default())
}

table_row! {
    /// One core's time, in clock ticks.
    struct CpuTimeRow {
        core: integer = "Name of the cpu (core)",
        user: bigint = "Time spent in user mode",
        nice: bigint = "Time spent in user mode with low priority (nice)",
        system: bigint = "Time spent in system mode",
        idle: bigint = "Time spent in the idle task",
        iowait: bigint = "Time spent waiting for I/O to complete",
        irq: bigint = "Time spent servicing interrupts",
        softirq: bigint = "Time spent servicing softirqs",
        steal: bigint = "Time spent in other operating systems when running in a virtualized environment",
        guest: bigint = "Time spent running a virtual CPU for a guest OS under the control of the Linux kernel",
        guest_nice: bigint = "Time spent running a niced guest ",
    }
}

pub(crate) static CPU_TIME: Table = Table {
    name: "cpu_time",
    about: "Displays information from /proc/stat file about the time the cpu cores spent in different parts of the system.",
    columns: CpuTimeRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_cpu_time,
    reach: Reach::Host,
    example: "SELECT core, user, system, idle FROM cpu_time",
};

fn gen_cpu_time(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_cpu_time(&required_text(
        "/proc/stat",
    )?)))
}

/// The `cpuN …` lines of /proc/stat (the `cpu` total is left out, as osquery does).
fn parse_cpu_time(text: &str) -> Vec<CpuTimeRow> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let core: i64 = f.next()?.strip_prefix("cpu")?.parse().ok()?;
            let v: Vec<i64> = f.map(|n| n.parse().unwrap_or(0)).collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            Some(CpuTimeRow {
                core,
                user: at(0),
                nice: at(1),
                system: at(2),
                idle: at(3),
                iowait: at(4),
                irq: at(5),
                softirq: at(6),
                steal: at(7),
                guest: at(8),
                guest_nice: at(9),
            })
        })
        .collect()
}

table_row! {
    /// One key the kernel keeps.
    struct KernelKeyRow {
        serial_number: text = "The serial key of the key.",
        flags: text = "A set of flags describing the state of the key.",
        usage: bigint = "the number of threads and open file references that",
        timeout: text = "The amount of time until the key will expire,",
        permissions: text = "The key permissions, expressed as four hexadecimal",
        uid: bigint = "The user ID of the key owner.",
        gid: bigint = "The group ID of the key.",
        r#type: text = "The key type.",
        description: text = "The key description.",
    }
}

pub(crate) static KERNEL_KEYS: Table = Table {
    name: "kernel_keys",
    about: "List of security data, authentication keys and encryption keys (/proc/keys: the keys the reading process may view).",
    columns: KernelKeyRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_kernel_keys,
    reach: Reach::Host,
    example: "SELECT serial_number, type, description FROM kernel_keys",
};

fn gen_kernel_keys(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_keys(&optional_text("/proc/keys")?)))
}

/// `serial flags usage timeout perm uid gid type description…` per line.
fn parse_keys(text: &str) -> Vec<KernelKeyRow> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 9 {
                return None;
            }
            Some(KernelKeyRow {
                serial_number: f[0].into(),
                flags: f[1].into(),
                usage: f[2].parse().unwrap_or(0),
                timeout: f[3].into(),
                permissions: f[4].into(),
                uid: f[5].parse().unwrap_or(-1),
                gid: f[6].parse().unwrap_or(-1),
                r#type: f[7].into(),
                description: f[8..].join(" "),
            })
        })
        .collect()
}

table_row! {
    /// One interface's IPv6 settings.
    struct InterfaceIpv6Row {
        interface: text = "Interface name",
        hop_limit: integer = "Current Hop Limit",
        forwarding_enabled: integer = "Enable IP forwarding",
        redirect_accept: integer = "Accept ICMP redirect messages",
        rtadv_accept: integer = "Accept ICMP Router Advertisement",
    }
}

pub(crate) static INTERFACE_IPV6: Table = Table {
    name: "interface_ipv6",
    about: "IPv6 configuration and stats of network interfaces (/proc/sys/net/ipv6/conf).",
    columns: InterfaceIpv6Row::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_interface_ipv6,
    reach: Reach::Host,
    example: "SELECT interface, forwarding_enabled, rtadv_accept FROM interface_ipv6",
};

const IPV6_CONF: &str = "/proc/sys/net/ipv6/conf";

fn gen_interface_ipv6(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut names: Vec<String> = std::fs::read_dir(IPV6_CONF)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // `all` and `default` are templates, not interfaces.
    names.retain(|n| n != "all" && n != "default");
    names.sort();
    let value = |iface: &str, name: &str| -> i64 {
        std::fs::read_to_string(Path::new(IPV6_CONF).join(iface).join(name))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    };
    let rows: Vec<InterfaceIpv6Row> = names
        .iter()
        .map(|n| InterfaceIpv6Row {
            interface: n.clone(),
            hop_limit: value(n, "hop_limit"),
            forwarding_enabled: value(n, "forwarding"),
            redirect_accept: value(n, "accept_redirects"),
            rtadv_accept: value(n, "accept_ra"),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One resource limit of the process answering.
    struct UlimitRow {
        r#type: text = "System resource to be limited",
        soft_limit: text = "Current limit value",
        hard_limit: text = "Maximum limit value",
    }
}

pub(crate) static ULIMIT_INFO: Table = Table {
    name: "ulimit_info",
    about: "System resource usage limits: those of the process answering the query (/proc/self/limits), as osquery gives its own.",
    columns: UlimitRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_ulimit_info,
    reach: Reach::Host,
    example: "SELECT type, soft_limit, hard_limit FROM ulimit_info WHERE type = 'nofile'",
};

/// /proc/self/limits' names, as osquery names the limits (getrlimit's RLIMIT_*).
const LIMIT_NAMES: &[(&str, &str)] = &[
    ("Max address space", "as"),
    ("Max core file size", "core"),
    ("Max cpu time", "cpu"),
    ("Max data size", "data"),
    ("Max file size", "fsize"),
    ("Max file locks", "locks"),
    ("Max locked memory", "memlock"),
    ("Max msgqueue size", "msgqueue"),
    ("Max nice priority", "nice"),
    ("Max open files", "nofile"),
    ("Max processes", "nproc"),
    ("Max resident set", "rss"),
    ("Max realtime priority", "rtprio"),
    ("Max pending signals", "sigpending"),
    ("Max stack size", "stack"),
];

fn gen_ulimit_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_limits(&required_text(
        "/proc/self/limits",
    )?)))
}

/// `Limit  Soft Limit  Hard Limit  Units`, columns aligned under the header; sorted by
/// osquery's names, as its map iterates.
fn parse_limits(text: &str) -> Vec<UlimitRow> {
    let mut rows: Vec<UlimitRow> = text
        .lines()
        .filter_map(|l| {
            let (label, name) = LIMIT_NAMES.iter().find(|(label, _)| l.starts_with(label))?;
            let mut values = l[label.len()..].split_whitespace();
            let (soft, hard) = (values.next()?, values.next()?);
            Some(UlimitRow {
                r#type: name.to_string(),
                soft_limit: soft.to_string(),
                hard_limit: hard.to_string(),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.r#type.cmp(&b.r#type));
    rows
}

table_row! {
    /// The namespaces of one process.
    struct NamespaceRow {
        pid: integer = "Process (or thread) ID",
        cgroup_namespace: text = "cgroup namespace inode",
        ipc_namespace: text = "ipc namespace inode",
        mnt_namespace: text = "mnt namespace inode",
        net_namespace: text = "net namespace inode",
        pid_namespace: text = "pid namespace inode",
        user_namespace: text = "user namespace inode",
        uts_namespace: text = "uts namespace inode",
    }
}

pub(crate) static PROCESS_NAMESPACES: Table = Table {
    name: "process_namespaces",
    about: "Linux namespaces for processes running on the host system (/proc/PID/ns).",
    columns: NamespaceRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_process_namespaces,
    reach: Reach::Host,
    example: "SELECT pid, net_namespace, mnt_namespace FROM process_namespaces WHERE pid = 1",
};

fn gen_process_namespaces(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    per_process(q, |pid| {
        let ns = |kind: &str| -> Result<String, String> {
            let link = shown(mig_host::process::link(pid, &format!("ns/{kind}")))?;
            // `net:[4026531840]`: the inode.
            Ok(link
                .as_deref()
                .and_then(|l| l.split_once('[')?.1.strip_suffix(']'))
                .unwrap_or_default()
                .to_string())
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Ok(Vec::new());
        }
        Ok(vec![NamespaceRow {
            pid: i64::from(pid),
            cgroup_namespace: ns("cgroup")?,
            ipc_namespace: ns("ipc")?,
            mnt_namespace: ns("mnt")?,
            net_namespace: ns("net")?,
            pid_namespace: ns("pid")?,
            user_namespace: ns("user")?,
            uts_namespace: ns("uts")?,
        }])
    })
}

table_row! {
    /// One end of a pipe a process holds, with an end of the same pipe another holds.
    struct PipeRow {
        pid: bigint = "Process ID",
        fd: bigint = "File descriptor",
        mode: text = "Pipe open mode (r/w)",
        inode: bigint = "Pipe inode number",
        r#type: text = "Pipe Type: named vs unnamed/anonymous",
        partner_pid: Option<bigint> = "Process ID of partner process sharing a particular pipe",
        partner_fd: Option<bigint> = "File descriptor of shared pipe at partner's end",
        partner_mode: Option<text> = "Mode of shared pipe at partner's end",
    }
}

pub(crate) static PROCESS_OPEN_PIPES: Table = Table {
    name: "process_open_pipes",
    about: "Pipes and partner processes for each process: one row per reader/writer pair (an end nobody else holds has no partner).",
    columns: PipeRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_process_open_pipes,
    reach: Reach::Host,
    example: "SELECT pid, fd, mode, partner_pid, partner_mode FROM process_open_pipes WHERE type = 'named'",
};

/// One pipe end.
#[derive(Clone)]
struct PipeEnd {
    pid: i64,
    fd: i64,
    mode: String,
    inode: u64,
    kind: &'static str,
}

fn gen_process_open_pipes(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    // Partners are known only once every process was looked at.
    let mut ends: Vec<PipeEnd> = Vec::new();
    for pid in mig_host::net::pids().map_err(|e| e.to_string())? {
        q.check()?;
        for f in super::processes::all_shown(mig_host::process::fds(pid))? {
            if let Some(end) = pipe_end(pid, &f) {
                ends.push(end);
            }
        }
    }
    Ok(VecRows::boxed(pair_pipe_ends(&ends)))
}

/// A descriptor that is a pipe: `pipe:[N]`, or a path to a FIFO.
fn pipe_end(pid: u32, f: &mig_host::process::Fd) -> Option<PipeEnd> {
    let (inode, kind) = if let Some(n) = f.target.strip_prefix("pipe:[") {
        (n.strip_suffix(']')?.parse().ok()?, "anonymous")
    } else if f.target.starts_with('/') {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let m = std::fs::metadata(&f.target).ok()?;
        if !m.file_type().is_fifo() {
            return None;
        }
        (m.ino(), "named")
    } else {
        return None;
    };
    Some(PipeEnd {
        pid: i64::from(pid),
        fd: i64::try_from(f.fd).ok()?,
        mode: fd_mode(pid, f.fd),
        inode,
        kind,
    })
}

/// How a descriptor was opened, from its /proc link's permission bits (`r`, `w`, `rw`).
fn fd_mode(pid: u32, fd: u64) -> String {
    use std::os::unix::fs::PermissionsExt;
    let Ok(m) = std::fs::symlink_metadata(format!("/proc/{pid}/fd/{fd}")) else {
        return "-".into();
    };
    let mode = m.permissions().mode();
    let mut s = String::new();
    if mode & 0o444 != 0 {
        s.push('r');
    }
    if mode & 0o222 != 0 {
        s.push('w');
    }
    s
}

/// osquery's rows: each end with each other end of its pipe that reads where it writes (or
/// either is `rw`); an end alone on its pipe is one row without a partner.
fn pair_pipe_ends(ends: &[PipeEnd]) -> Vec<PipeRow> {
    let mut by_inode: std::collections::HashMap<u64, Vec<&PipeEnd>> = Default::default();
    for e in ends {
        by_inode.entry(e.inode).or_default().push(e);
    }
    let row = |e: &PipeEnd, partner: Option<&PipeEnd>| PipeRow {
        pid: e.pid,
        fd: e.fd,
        mode: e.mode.clone(),
        inode: e.inode as i64,
        r#type: e.kind.into(),
        partner_pid: partner.map(|p| p.pid),
        partner_fd: partner.map(|p| p.fd),
        partner_mode: partner.map(|p| p.mode.clone()),
    };
    let mut rows = Vec::new();
    for e in ends {
        let same_pipe = &by_inode[&e.inode];
        if same_pipe.len() == 1 {
            rows.push(row(e, None));
            continue;
        }
        for p in same_pipe {
            let itself = p.pid == e.pid && p.fd == e.fd;
            if !itself && (p.mode != e.mode || e.mode == "rw") {
                rows.push(row(e, Some(p)));
            }
        }
    }
    rows
}

table_row! {
    /// One region of physical memory.
    struct MemoryMapRow {
        name: text = "Region name",
        start: text = "Start address of memory region",
        end: text = "End address of memory region",
    }
}

pub(crate) static MEMORY_MAP: Table = Table {
    name: "memory_map",
    about: "OS memory region map (/proc/iomem; its addresses read as zero unless root reads them).",
    columns: MemoryMapRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_memory_map,
    reach: Reach::Host,
    example: "SELECT name, start, end FROM memory_map WHERE name = 'System RAM'",
};

fn gen_memory_map(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_iomem(&optional_text("/proc/iomem")?)))
}

/// `  00001000-0009fbff : System RAM`, nested regions indented.
fn parse_iomem(text: &str) -> Vec<MemoryMapRow> {
    text.lines()
        .filter_map(|l| {
            let (range, name) = l.trim().split_once(" : ")?;
            let (start, end) = range.split_once('-')?;
            Some(MemoryMapRow {
                name: name.to_string(),
                start: format!("0x{start}"),
                end: format!("0x{end}"),
            })
        })
        .collect()
}

table_row! {
    /// One line of /etc/protocols.
    struct ProtocolRow {
        name: text = "Protocol name",
        number: integer = "Protocol number",
        alias: text = "Protocol alias",
        comment: text = "Comment with protocol description",
    }
}

pub(crate) static ETC_PROTOCOLS: Table = Table {
    name: "etc_protocols",
    about: "Line-parsed /etc/protocols.",
    columns: ProtocolRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_etc_protocols,
    reach: Reach::Host,
    example: "SELECT name, number FROM etc_protocols WHERE name = 'tcp'",
};

fn gen_etc_protocols(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_protocols(&optional_text(
        "/etc/protocols",
    )?)))
}

/// A line's fields and its comment: the parts after `#`, each trimmed, joined by ` # `, as
/// osquery's split and join give them.
fn fields_and_comment(line: &str) -> (Vec<&str>, String) {
    let mut parts = line.split('#');
    let fields = parts
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let comment: Vec<&str> = parts.map(str::trim).filter(|p| !p.is_empty()).collect();
    (fields, comment.join(" # "))
}

fn parse_protocols(text: &str) -> Vec<ProtocolRow> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (f, comment) = fields_and_comment(l);
            Some(ProtocolRow {
                name: f.first()?.to_string(),
                number: f.get(1)?.parse().ok()?,
                alias: f.get(2).copied().unwrap_or_default().to_string(),
                comment,
            })
        })
        .collect()
}

table_row! {
    /// One line of /etc/services.
    struct ServiceRow {
        name: text = "Service name",
        port: integer = "Service port number",
        protocol: text = "Transport protocol (TCP/UDP)",
        aliases: text = "Optional space separated list of other names for a service",
        comment: text = "Optional comment for a service.",
    }
}

pub(crate) static ETC_SERVICES: Table = Table {
    name: "etc_services",
    about: "Line-parsed /etc/services.",
    columns: ServiceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_etc_services,
    reach: Reach::Host,
    example: "SELECT name, port, protocol FROM etc_services WHERE port = 22",
};

fn gen_etc_services(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_services(&optional_text(
        "/etc/services",
    )?)))
}

fn parse_services(text: &str) -> Vec<ServiceRow> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (f, comment) = fields_and_comment(l);
            let (port, protocol) = f.get(1)?.split_once('/')?;
            Some(ServiceRow {
                name: f.first()?.to_string(),
                port: port.parse().ok()?,
                protocol: protocol.to_string(),
                aliases: f[2..].join(" "),
                comment,
            })
        })
        .collect()
}

table_row! {
    /// One System V shared memory segment.
    struct SharedMemoryRow {
        shmid: integer = "Shared memory segment ID",
        owner_uid: bigint = "User ID of owning process",
        creator_uid: bigint = "User ID of creator process",
        pid: bigint = "Process ID to last use the segment",
        creator_pid: bigint = "Process ID that created the segment",
        atime: bigint = "Attached time",
        dtime: bigint = "Detached time",
        ctime: bigint = "Changed time",
        permissions: text = "Memory segment permissions",
        size: bigint = "Size in bytes",
        attached: integer = "Number of attached processes",
        status: text = "Destination/attach status",
        locked: integer = "1 if segment is locked else 0",
    }
}

pub(crate) static SHARED_MEMORY: Table = Table {
    name: "shared_memory",
    about: "OS shared memory regions (System V segments, /proc/sysvipc/shm).",
    columns: SharedMemoryRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_shared_memory,
    reach: Reach::Host,
    example: "SELECT shmid, owner_uid, size, attached FROM shared_memory",
};

fn gen_shared_memory(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(parse_shm(&optional_text(
        "/proc/sysvipc/shm",
    )?)))
}

/// The kernel's flags in a segment's mode: marked for destruction, locked in memory.
const SHM_DEST: u32 = 0o1000;
const SHM_LOCKED: u32 = 0o2000;

/// `key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime …`, perms in
/// octal; the permissions column is osquery's four octal digits of the mode.
fn parse_shm(text: &str) -> Vec<SharedMemoryRow> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 14 {
                return None;
            }
            let n = |i: usize| f[i].parse::<i64>().unwrap_or(-1);
            let mode = u32::from_str_radix(f[2], 8).ok()?;
            Some(SharedMemoryRow {
                shmid: n(1),
                owner_uid: n(7),
                creator_uid: n(9),
                pid: n(5),
                creator_pid: n(4),
                atime: n(11),
                dtime: n(12),
                ctime: n(13),
                permissions: format!("{:04o}", mode & 0o7777),
                size: n(3),
                attached: n(6),
                status: if mode & SHM_DEST != 0 { "dest" } else { "" }.into(),
                locked: i64::from(mode & SHM_LOCKED != 0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_keys_and_limits() {
        let cpus = parse_cpu_time("cpu  10 0 5 100 1 0 0 0 0 0\ncpu0 4 0 2 50 1 0 0 0 0 0\ncpu1 6 0 3 50 0 0 0 0 0 0\nintr 1 2\n");
        assert_eq!(cpus.len(), 2);
        assert_eq!((cpus[1].core, cpus[1].user, cpus[1].idle), (1, 6, 50));
        let keys =
            parse_keys("0a5b8d1c I--Q---     1 perm 3f030000     0     0 keyring   _ses: 1\n");
        assert_eq!(keys[0].r#type, "keyring");
        assert_eq!(keys[0].description, "_ses: 1");
        let limits = parse_limits(
            "Limit                     Soft Limit           Hard Limit           Units     \n\
             Max cpu time              unlimited            unlimited            seconds   \n\
             Max open files            1024                 524288               files     \n\
             Max realtime timeout      unlimited            unlimited            us        \n",
        );
        let got: Vec<(&str, &str, &str)> = limits
            .iter()
            .map(|l| {
                (
                    l.r#type.as_str(),
                    l.soft_limit.as_str(),
                    l.hard_limit.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("cpu", "unlimited", "unlimited"),
                ("nofile", "1024", "524288")
            ]
        );
    }

    #[test]
    fn pipe_ends_pair_readers_with_writers() {
        let end = |pid, fd, mode: &str, inode| PipeEnd {
            pid,
            fd,
            mode: mode.into(),
            inode,
            kind: "anonymous",
        };
        let ends = [
            end(10, 1, "w", 5),
            end(11, 0, "r", 5),
            end(12, 0, "r", 5),
            end(13, 3, "r", 9),
        ];
        let rows = pair_pipe_ends(&ends);
        let got: Vec<(i64, Option<i64>)> = rows.iter().map(|r| (r.pid, r.partner_pid)).collect();
        // The writer with each reader, each reader with the writer; the lone end alone.
        assert_eq!(
            got,
            [
                (10, Some(11)),
                (10, Some(12)),
                (11, Some(10)),
                (12, Some(10)),
                (13, None)
            ]
        );
    }

    #[test]
    fn iomem_regions() {
        let m =
            parse_iomem("00000000-00000fff : Reserved\n  000f0000-000fffff : System ROM\nbroken\n");
        let got: Vec<(&str, &str, &str)> = m
            .iter()
            .map(|r| (r.name.as_str(), r.start.as_str(), r.end.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Reserved", "0x00000000", "0x00000fff"),
                ("System ROM", "0x000f0000", "0x000fffff")
            ]
        );
    }

    #[test]
    fn shm_segments() {
        let rows = parse_shm("       key      shmid perms   size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime   rss  swap\n    729204          4   1600     56  2277 30233      5   101   104   102   104 1796657516 1796657517 1796653057  4096  0\n");
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.shmid, r.owner_uid, r.creator_uid, r.size, r.attached),
            (4, 101, 102, 56, 5)
        );
        assert_eq!(
            (r.permissions.as_str(), r.status.as_str(), r.locked),
            ("1600", "dest", 0)
        );
    }

    #[test]
    fn protocols_and_services_as_osquery_splits_them() {
        let p = parse_protocols(
            "# header\nip\t0\tIP\t\t# internet protocol, pseudo protocol number\nhopopt 0 HOPOPT\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].number, p[0].alias.as_str()),
            ("ip", 0, "IP")
        );
        assert_eq!(p[0].comment, "internet protocol, pseudo protocol number");
        let s = parse_services("ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\nhttp 80/tcp www # WorldWideWeb HTTP\nbad line\n");
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].name.as_str(), s[0].port, s[0].protocol.as_str()),
            ("ssh", 22, "tcp")
        );
        assert_eq!(s[1].aliases, "www");
        assert_eq!(s[1].comment, "WorldWideWeb HTTP");
    }
}
