//! Module sandboxing. The agent starts each module as `mig-agent -m <module> --sandbox`; the
//! child, still single-threaded, confines itself before the module runs:
//!
//! 1. joins the CPU-capping cgroup the agent prepared (so modules together use at most
//!    `module_cpu_percent` of the machine), lowers its priority (nice 19), and sets rlimits
//!    (address space, CPU time, no core dumps);
//! 2. keeps only the Linux capabilities the module needs (reading any file; other processes'
//!    /proc entries for those that inspect processes; raw sockets for ping; signalling and
//!    removing files for agentdestroy), in every set, the bounding set included;
//! 3. landlock: read-only filesystem, no signals to and no abstract sockets of processes
//!    outside, for modules that read no other process (a landlocked process may not inspect
//!    processes outside its domain: no /proc/PID/mem, exe, maps or fd);
//! 4. seccomp: an allow-list of system calls per module class ([`crate::seccomp`]), which
//!    also keeps the filesystem read-only for the modules landlock cannot confine.
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
    if let Err(e) = crate::seccomp::install(needs) {
        warnings.push(format!("seccomp: {e}"));
    }
    warnings
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// The capabilities a module keeps (when the agent runs as root).
pub fn capabilities_for(needs: SandboxNeeds) -> CapsHashSet {
    // Reading any file is what investigation is.
    let mut set: CapsHashSet = [Capability::CAP_DAC_READ_SEARCH].into_iter().collect();
    if needs.ptrace {
        set.insert(Capability::CAP_SYS_PTRACE);
    }
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
        RulesetStatus, Scope, ABI,
    };
    // The newest rights this code knows; an older kernel enforces what it has (best effort).
    let abi = ABI::V6;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| e.to_string())?
        .scope(Scope::from_all(abi))
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
