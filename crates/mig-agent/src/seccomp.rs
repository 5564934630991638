//! The system calls a module process may make: an allow-list per module class, installed
//! after everything else in the sandbox. A call that is not on the list fails with EPERM (a
//! module never needs one, so the failure is an error in its result, never a crash); a new
//! kernel's new call is refused until someone adds it here on purpose.
//!
//! Every class may read files, map memory, run threads and write to the pipes it was given.
//! What no class may do: open a file for writing, create, rename, remove or link files,
//! change modes, owners, times or attributes, open files by handle, execute anything, create
//! processes, trace or write into other processes, create sockets outside its class, mount,
//! change namespaces, load BPF, or use io_uring (whose operations seccomp never sees).
//! Classes add, from [`SandboxNeeds`]:
//! - `network`: IPv4 and IPv6 sockets;
//! - `netlink`: route netlink sockets;
//! - `ptrace`: `process_vm_readv` (reading, never writing, other processes' memory);
//! - `modifies_system`: `kill` and unlinking files (agentdestroy).

use mig_modules::SandboxNeeds;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// Calls any module may make without conditions.
const BASE: &[i64] = &[
    // Reading and writing open descriptors (only the stdio pipes are open for writing).
    libc::SYS_read,
    libc::SYS_readv,
    libc::SYS_pread64,
    libc::SYS_preadv,
    libc::SYS_preadv2,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_close,
    libc::SYS_lseek,
    libc::SYS_fcntl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_fadvise64,
    libc::SYS_readahead,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    // Looking at the filesystem.
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_getdents64,
    libc::SYS_readlinkat,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getcwd,
    libc::SYS_getxattr,
    libc::SYS_lgetxattr,
    libc::SYS_fgetxattr,
    libc::SYS_listxattr,
    libc::SYS_llistxattr,
    libc::SYS_flistxattr,
    // Memory.
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_mincore,
    libc::SYS_membarrier,
    // Threads and signals within the process.
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_get_robust_list,
    libc::SYS_rseq,
    libc::SYS_set_tid_address,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_exit,
    libc::SYS_exit_group,
    // Time, identity and the machine.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getgroups,
    libc::SYS_getrandom,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    libc::SYS_getrusage,
    libc::SYS_times,
    libc::SYS_getpriority,
    libc::SYS_capget,
];

/// The x86_64 spellings of the same reads (aarch64 has only the `…at` forms).
#[cfg(target_arch = "x86_64")]
const BASE_LEGACY: &[i64] = &[
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_access,
    libc::SYS_readlink,
    libc::SYS_getdents,
    libc::SYS_dup2,
    libc::SYS_poll,
    libc::SYS_select,
    libc::SYS_time,
];
#[cfg(not(target_arch = "x86_64"))]
const BASE_LEGACY: &[i64] = &[];

/// Socket calls, for the classes that may have sockets of some family.
const SOCKET_CALLS: &[i64] = &[
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
    libc::SYS_shutdown,
];

/// The open flags that write, create or truncate: an open with any of them is refused.
const WRITE_FLAGS: u64 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u64;

/// `ioctl` requests a module may make: is it a terminal, how many bytes wait, window size,
/// close-on-exec, non-blocking (a TCP connect with a timeout).
/// (`c_ulong` is `u64` on the 64-bit platforms the filter is built for.)
const IOCTLS: &[u64] = &[
    libc::TCGETS,
    libc::FIONREAD,
    libc::TIOCGWINSZ,
    libc::FIOCLEX,
    libc::FIONBIO,
];

/// `prctl` options a module may use: naming its threads.
const PRCTLS: &[u64] = &[libc::PR_SET_NAME as u64, libc::PR_GET_NAME as u64];

fn cond(
    arg: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| e.to_string())
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| e.to_string())
}

/// One rule per allowed value of argument `arg`.
fn any_of(arg: u8, len: SeccompCmpArgLen, values: &[u64]) -> Result<Vec<SeccompRule>, String> {
    values
        .iter()
        .map(|v| rule(vec![cond(arg, len.clone(), SeccompCmpOp::Eq, *v)?]))
        .collect()
}

/// The allow-list of a module class. `own_pid` is the module process: the only process its
/// threads may signal (unless the class may kill).
pub fn rules(needs: SandboxNeeds, own_pid: u32) -> Result<Rules, String> {
    use SeccompCmpArgLen::{Dword, Qword};
    let mut rules: Rules = BTreeMap::new();
    for call in BASE.iter().chain(BASE_LEGACY) {
        rules.insert(*call, Vec::new());
    }
    // Opening for reading only: flags (openat's third argument, open's second) without any
    // write bit.
    let read_only = |flags_arg: u8| -> Result<Vec<SeccompRule>, String> {
        Ok(vec![rule(vec![cond(
            flags_arg,
            Dword,
            SeccompCmpOp::MaskedEq(WRITE_FLAGS),
            0,
        )?])?])
    };
    rules.insert(libc::SYS_openat, read_only(2)?);
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_open, read_only(1)?);
    // Threads, never processes: clone must share the thread group. clone3 passes its flags
    // in memory seccomp cannot read: allowed here, it gets ENOSYS from the filter installed
    // before this one (see `install`), and the C library falls back to clone.
    let thread = libc::CLONE_THREAD as u64;
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(
            0,
            Qword,
            SeccompCmpOp::MaskedEq(thread),
            thread,
        )?])?],
    );
    rules.insert(libc::SYS_clone3, Vec::new());
    // Resource limits may be read, never set.
    rules.insert(
        libc::SYS_prlimit64,
        vec![rule(vec![cond(2, Qword, SeccompCmpOp::Eq, 0)?])?],
    );
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_getrlimit, Vec::new());
    rules.insert(libc::SYS_ioctl, any_of(1, Dword, IOCTLS)?);
    rules.insert(libc::SYS_prctl, any_of(0, Dword, PRCTLS)?);
    // A thread may signal its own process (abort, raise), nobody else.
    rules.insert(libc::SYS_tgkill, any_of(0, Dword, &[own_pid as u64])?);

    let mut families: Vec<u64> = Vec::new();
    if needs.network {
        families.extend([libc::AF_INET as u64, libc::AF_INET6 as u64]);
    }
    if needs.netlink {
        families.push(libc::AF_NETLINK as u64);
    }
    if needs.unix_sockets {
        families.push(libc::AF_UNIX as u64);
    }
    if !families.is_empty() {
        rules.insert(libc::SYS_socket, any_of(0, Dword, &families)?);
        for call in SOCKET_CALLS {
            rules.insert(*call, Vec::new());
        }
    }
    if needs.ptrace {
        rules.insert(libc::SYS_process_vm_readv, Vec::new());
    }
    if needs.modifies_system {
        rules.insert(libc::SYS_kill, Vec::new());
        rules.insert(libc::SYS_unlinkat, Vec::new());
        #[cfg(target_arch = "x86_64")]
        rules.insert(libc::SYS_unlink, Vec::new());
    }
    Ok(rules)
}

fn arch() -> Result<TargetArch, String> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        other => Err(format!("no filter for {other}")),
    }
}

fn compile(filter: SeccompFilter) -> Result<BpfProgram, String> {
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// Installs the class's allow-list on this process (every thread started afterwards too).
pub fn install(needs: SandboxNeeds) -> Result<(), String> {
    let arch = arch()?;
    let allow = SeccompFilter::new(
        rules(needs, std::process::id())?,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    // Installed first: the allow-list does not let a filter be installed after it. For clone3
    // the kernel takes this filter's ENOSYS ("use clone") over the allow-list's Allow.
    let mut clone3 = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, Vec::new());
    let clone3 = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    seccompiler::apply_filter(&compile(clone3)?).map_err(|e| e.to_string())?;
    seccompiler::apply_filter(&compile(allow)?).map_err(|e| e.to_string())
}
