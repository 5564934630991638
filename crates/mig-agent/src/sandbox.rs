//! Module sandboxing. The agent starts each module as `mig-agent -m <module> --sandbox`; the
//! child, still single-threaded, confines itself before the module runs:
//!
//! 1. joins the CPU-capping cgroup the agent prepared (so modules together use at most
//!    `module_cpu_percent` of the machine), lowers its priority (nice 19), and sets rlimits
//!    (address space, CPU time, no core dumps);
//! 2. keeps only the Linux capabilities the module needs;
//! 3. landlock: read-only filesystem for modules that change nothing and read no other
//!    process (a landlocked process may not inspect processes outside its domain: no
//!    /proc/PID/mem, exe, maps or fd); for those that do, seccomp refuses every way of writing
//!    to the filesystem instead;
//! 4. seccomp: no network sockets for modules that need no network, no ptrace for anyone.
//!
//! Each step is best effort where the kernel lacks the feature (and says so on stderr, which
//! the agent logs); none of them can be undone by the module.

use caps::{CapSet, Capability, CapsHashSet};
use mig_modules::SandboxNeeds;
use std::path::{Path, PathBuf};

/// Environment variables from the agent to the module child.
pub const ENV_MEMORY: &str = "MIG_MODULE_MEMORY_BYTES";
pub const ENV_CPU_SECONDS: &str = "MIG_MODULE_CPU_SECONDS";
pub const ENV_CGROUP: &str = "MIG_MODULE_CGROUP_PROCS";

/// Child side: confine this process. Returns warnings for steps the kernel did not support.
pub fn confine(needs: SandboxNeeds) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(procs) = std::env::var_os(ENV_CGROUP) {
        if let Err(e) = std::fs::write(&procs, std::process::id().to_string()) {
            warnings.push(format!(
                "cpu cap: cannot join {}: {e}",
                Path::new(&procs).display()
            ));
        }
    }
    // SAFETY: plain syscalls on this process.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
    let limit = |resource, value: u64| {
        let lim = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit with a valid struct.
        unsafe { libc::setrlimit(resource, &lim) }
    };
    if let Some(bytes) = env_u64(ENV_MEMORY) {
        if limit(libc::RLIMIT_AS, bytes) != 0 {
            warnings.push("memory cap: setrlimit(RLIMIT_AS) failed".into());
        }
    }
    if let Some(secs) = env_u64(ENV_CPU_SECONDS) {
        limit(libc::RLIMIT_CPU, secs);
    }
    limit(libc::RLIMIT_CORE, 0);
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes constant arguments.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    if let Err(e) = drop_capabilities(needs) {
        warnings.push(format!("capabilities: {e}"));
    }
    if !needs.modifies_system && !needs.ptrace {
        if let Err(e) = read_only_filesystem() {
            warnings.push(format!("landlock: {e}"));
        }
    }
    if let Err(e) = syscall_filter(needs) {
        warnings.push(format!("seccomp: {e}"));
    }
    warnings
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// The capabilities a module keeps (when the agent runs as root).
pub fn capabilities_for(needs: SandboxNeeds) -> CapsHashSet {
    // Reading any file and other processes' /proc entries is what investigation is.
    let mut set: CapsHashSet = [Capability::CAP_DAC_READ_SEARCH, Capability::CAP_SYS_PTRACE]
        .into_iter()
        .collect();
    if needs.network {
        set.insert(Capability::CAP_NET_RAW);
    }
    if needs.modifies_system {
        set.extend([
            Capability::CAP_KILL,
            Capability::CAP_DAC_OVERRIDE,
            Capability::CAP_FOWNER,
        ]);
    }
    set
}

fn drop_capabilities(needs: SandboxNeeds) -> Result<(), String> {
    let keep = capabilities_for(needs);
    let have = caps::read(None, CapSet::Permitted).map_err(|e| e.to_string())?;
    if have.is_empty() {
        return Ok(()); // Not privileged: nothing to drop.
    }
    let keep: CapsHashSet = keep.intersection(&have).copied().collect();
    for cap in caps::all() {
        if !keep.contains(&cap) {
            // Dropping from the bounding set needs CAP_SETPCAP, which we still have here.
            let _ = caps::drop(None, CapSet::Bounding, cap);
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| e.to_string())?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| e.to_string())?;
    caps::set(None, CapSet::Effective, &keep).map_err(|e| e.to_string())?;
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| e.to_string())?;
    Ok(())
}

fn read_only_filesystem() -> Result<(), String> {
    use landlock::{
        Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, ABI,
    };
    let abi = ABI::V3;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| e.to_string())?
        .create()
        .map_err(|e| e.to_string())?
        .add_rule(PathBeneath::new(
            PathFd::new("/").map_err(|e| e.to_string())?,
            AccessFs::from_read(abi),
        ))
        .map_err(|e| e.to_string())?
        .restrict_self()
        .map_err(|e| e.to_string())?;
    match status.ruleset {
        RulesetStatus::NotEnforced => Err("not supported by this kernel".into()),
        _ => Ok(()),
    }
}

fn syscall_filter(needs: SandboxNeeds) -> Result<(), String> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    use std::collections::BTreeMap;
    let arch = match std::env::consts::ARCH {
        "x86_64" => TargetArch::x86_64,
        "aarch64" => TargetArch::aarch64,
        other => return Err(format!("no filter for {other}")),
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // Nobody may write into another process.
    rules.insert(libc::SYS_ptrace, vec![]);
    rules.insert(libc::SYS_process_vm_writev, vec![]);
    if !needs.network {
        let mut socket_rules = Vec::new();
        for domain in [libc::AF_INET, libc::AF_INET6, libc::AF_PACKET] {
            let cond =
                SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, domain as u64)
                    .map_err(|e| e.to_string())?;
            socket_rules.push(SeccompRule::new(vec![cond]).map_err(|e| e.to_string())?);
        }
        rules.insert(libc::SYS_socket, socket_rules);
    }
    if !needs.modifies_system && needs.ptrace {
        deny_filesystem_writes(&mut rules)?;
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: seccompiler::BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}

/// The filesystem stays read-only without landlock: no open for writing, creating or
/// truncating, and none of the calls that change names, modes, owners or links.
fn deny_filesystem_writes(
    rules: &mut std::collections::BTreeMap<i64, Vec<seccompiler::SeccompRule>>,
) -> Result<(), String> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let write_flags = [
        libc::O_WRONLY,
        libc::O_RDWR,
        libc::O_CREAT,
        libc::O_TRUNC,
        libc::O_APPEND,
    ];
    // One rule per flag: the call is refused when any of them is set in argument `arg`.
    let flag_rules = |arg: u8| -> Result<Vec<SeccompRule>, String> {
        write_flags
            .iter()
            .map(|flag| {
                let bit = *flag as u64;
                let cond = SeccompCondition::new(
                    arg,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::MaskedEq(bit),
                    bit,
                )
                .map_err(|e| e.to_string())?;
                SeccompRule::new(vec![cond]).map_err(|e| e.to_string())
            })
            .collect()
    };
    rules.insert(libc::SYS_openat, flag_rules(2)?);
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_open, flag_rules(1)?);
    // openat2 passes its flags in a struct seccomp cannot read: refused outright.
    let always: &[i64] = &[
        libc::SYS_openat2,
        libc::SYS_unlinkat,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_mkdirat,
        libc::SYS_linkat,
        libc::SYS_symlinkat,
        libc::SYS_mknodat,
        libc::SYS_truncate,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        libc::SYS_utimensat,
        libc::SYS_mount,
        libc::SYS_umount2,
    ];
    #[cfg(target_arch = "x86_64")]
    let legacy: &[i64] = &[
        libc::SYS_creat,
        libc::SYS_unlink,
        libc::SYS_rename,
        libc::SYS_mkdir,
        libc::SYS_rmdir,
        libc::SYS_link,
        libc::SYS_symlink,
        libc::SYS_mknod,
        libc::SYS_chmod,
        libc::SYS_chown,
        libc::SYS_lchown,
        libc::SYS_utime,
        libc::SYS_utimes,
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let legacy: &[i64] = &[];
    for call in always.iter().chain(legacy) {
        rules.insert(*call, vec![]);
    }
    Ok(())
}

/// Agent side: a cgroup that caps the CPU of every module at `percent` of the machine, with
/// cgroup v2 or v1's cpu controller. `None` where neither can be set up (then modules run at
/// nice 19 with an RLIMIT_CPU, and the agent logs it once).
pub fn cpu_cgroup(percent: u32) -> Option<PathBuf> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let period: u64 = 100_000;
    let quota = period * cpus * percent as u64 / 100;
    let v2 = Path::new("/sys/fs/cgroup");
    if std::fs::read_to_string(v2.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "cpu"))
    {
        let dir = v2.join("mig-agent-modules");
        let _ = std::fs::write(v2.join("cgroup.subtree_control"), "+cpu");
        if std::fs::create_dir_all(&dir).is_ok()
            && std::fs::write(dir.join("cpu.max"), format!("{quota} {period}")).is_ok()
        {
            return Some(dir.join("cgroup.procs"));
        }
    }
    let v1 = Path::new("/sys/fs/cgroup/cpu/mig-agent-modules");
    if std::fs::create_dir_all(v1).is_ok()
        && std::fs::write(v1.join("cpu.cfs_period_us"), period.to_string()).is_ok()
        && std::fs::write(v1.join("cpu.cfs_quota_us"), quota.to_string()).is_ok()
    {
        return Some(v1.join("cgroup.procs"));
    }
    None
}
