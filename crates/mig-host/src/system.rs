//! The machine itself: kernel (uname, command line), distribution (/etc/os-release), CPU
//! (/proc/cpuinfo), memory, hardware (DMI in /sys) and uptime.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CStr;

/// What uname(2) says about the kernel and the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uname {
    /// The kernel's name: `Linux`.
    pub sysname: String,
    /// The host name, as the kernel knows it (not necessarily fully qualified).
    pub nodename: String,
    /// The kernel release (`6.1.0-13-amd64`).
    pub release: String,
    /// The kernel's build version (`#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1`).
    pub version: String,
    /// The hardware architecture (`x86_64`, `aarch64`).
    pub machine: String,
}

/// uname(2); every field empty if the call fails.
pub fn uname() -> Uname {
    // SAFETY: utsname is plain old data: all zeroes is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we pass; each field is NUL-terminated by the kernel.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Uname::default();
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates every utsname field within its array.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Uname {
        sysname: field(&u.sysname),
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
    }
}

/// `KEY=value` lines of os-release(5), quotes removed.
pub fn parse_os_release(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

/// The distribution's os-release(5): /etc/os-release, else /usr/lib/os-release.
pub fn os_release() -> Result<HashMap<String, String>, String> {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Ok(t) = std::fs::read_to_string(p) {
            return Ok(parse_os_release(&t));
        }
    }
    Err("neither /etc/os-release nor /usr/lib/os-release can be read".into())
}

/// A file's first line, trimmed; empty when unreadable.
pub fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// What /proc/cpuinfo says about the processors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpu {
    /// The first processor's `model name` (`Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz`).
    pub brand: String,
    /// The first processor's `model` number, as written.
    pub model: String,
    /// The first processor's microcode revision (`0xb000040`); empty when not listed.
    pub microcode: String,
    /// Logical processors (hardware threads): one per `processor` entry.
    pub logical: usize,
    /// Physical cores, distinct (`physical id`, `core id`) pairs; `logical` when not listed.
    pub physical: usize,
    /// Processor packages, distinct `physical id`s; at least 1.
    pub sockets: usize,
}

/// Parses /proc/cpuinfo.
pub fn parse_cpuinfo(text: &str) -> Cpu {
    let mut cpu = Cpu::default();
    let mut cores: BTreeSet<(String, String)> = BTreeSet::new();
    let mut sockets: BTreeSet<String> = BTreeSet::new();
    let mut physical_id = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => cpu.logical += 1,
            "model name" | "Model Name" if cpu.brand.is_empty() => cpu.brand = v.to_string(),
            "model" if cpu.model.is_empty() => cpu.model = v.to_string(),
            "microcode" if cpu.microcode.is_empty() => cpu.microcode = v.to_string(),
            "physical id" => {
                physical_id = v.to_string();
                sockets.insert(v.to_string());
            }
            "core id" => {
                cores.insert((physical_id.clone(), v.to_string()));
            }
            _ => {}
        }
    }
    cpu.sockets = sockets.len().max(1);
    cpu.physical = if cores.is_empty() {
        cpu.logical
    } else {
        cores.len()
    };
    cpu
}

/// The processors, from /proc/cpuinfo; zero counts if it cannot be read.
pub fn cpu() -> Cpu {
    parse_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
}

/// MemTotal of /proc/meminfo, in bytes.
pub fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        .saturating_mul(1024)
}

/// A DMI field from /sys/class/dmi/id (some are readable by root only).
pub fn dmi(field: &str) -> String {
    read_trimmed(&format!("/sys/class/dmi/id/{field}"))
}

/// Seconds since boot (/proc/uptime).
pub fn uptime_seconds() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/uptime").map_err(|e| format!("/proc/uptime: {e}"))?;
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .map(|s| s as u64)
        .ok_or_else(|| format!("/proc/uptime: unexpected content {text:?}"))
}

/// The host name with its domain when the resolver configuration gives one.
pub fn hostname() -> String {
    let name = uname().nodename;
    if name.contains('.') {
        return name;
    }
    let domain = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("domain ")
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
        });
    match domain {
        Some(d) => format!("{name}.{d}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_lines() {
        let m = parse_os_release(
            "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n# x\nPRETTY_NAME='Deb 12'\n",
        );
        assert_eq!(m["NAME"], "Debian GNU/Linux");
        assert_eq!(m["VERSION_ID"], "12");
        assert_eq!(m["ID"], "debian");
        assert_eq!(m["PRETTY_NAME"], "Deb 12");
    }

    #[test]
    fn cpuinfo_counts() {
        let c = parse_cpuinfo("processor\t: 0\nmodel name\t: Xeon\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 1\nmodel name\t: Xeon\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 2\nphysical id\t: 1\ncore id\t: 0\n");
        assert_eq!((c.logical, c.physical, c.sockets), (3, 2, 2));
        assert_eq!(c.brand, "Xeon");
    }

    #[test]
    fn this_machine() {
        assert!(!uname().release.is_empty());
        assert!(physical_memory() > 0);
        assert!(cpu().logical >= 1);
        assert!(uptime_seconds().is_ok());
    }
}
