//! The machine itself: kernel (uname, command line), distribution (/etc/os-release), CPU
//! (/proc/cpuinfo), memory, hardware (DMI in /sys) and uptime.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CStr;
use std::io;
use std::path::Path;

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

/// Where os-release(5) may be, in the order it is looked for.
const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The distribution's os-release(5): /etc/os-release, else /usr/lib/os-release. An error when
/// neither exists, or when the first that exists cannot be read.
pub fn os_release() -> io::Result<HashMap<String, String>> {
    os_release_from(&OS_RELEASE_PATHS.map(Path::new))
}

/// The first of `paths` that exists, parsed; only a missing file lets the next one be read
/// (os-release(5) says the first one wins).
fn os_release_from(paths: &[&Path]) -> io::Result<HashMap<String, String>> {
    for p in paths {
        if let Some(text) = crate::optional(p, |p| std::fs::read_to_string(p))? {
            return Ok(parse_os_release(&text));
        }
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no os-release file: none of {}", names.join(", ")),
    ))
}

/// A file's text, trimmed; an error naming it when it cannot be read.
pub fn read_trimmed(path: &str) -> io::Result<String> {
    Ok(crate::required(path, |p| std::fs::read_to_string(p))?
        .trim()
        .to_string())
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

/// The processors, from /proc/cpuinfo; an error naming it when it cannot be read.
pub fn cpu() -> io::Result<Cpu> {
    Ok(parse_cpuinfo(&crate::required("/proc/cpuinfo", |p| {
        std::fs::read_to_string(p)
    })?))
}

/// MemTotal of /proc/meminfo, in bytes; an error naming the file when it cannot be read or
/// does not say.
pub fn physical_memory() -> io::Result<u64> {
    const MEMINFO: &str = "/proc/meminfo";
    crate::required(MEMINFO, |p| std::fs::read_to_string(p))?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib.saturating_mul(1024))
        .ok_or_else(|| crate::unexpected(MEMINFO, "no MemTotal line"))
}

/// A DMI field from /sys/class/dmi/id; `None` when the machine has no such field (no DMI at
/// all on many ARM boards and some virtual machines). Serial numbers and the UUID are readable
/// by root only: reading them as another user is an error naming the file.
pub fn dmi(field: &str) -> io::Result<Option<String>> {
    let text = crate::optional(format!("/sys/class/dmi/id/{field}"), |p| {
        std::fs::read_to_string(p)
    })?;
    Ok(text.map(|t| t.trim().to_string()))
}

/// Seconds since boot (/proc/uptime).
pub fn uptime_seconds() -> io::Result<u64> {
    const UPTIME: &str = "/proc/uptime";
    let text = crate::required(UPTIME, |p| std::fs::read_to_string(p))?;
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .map(|s| s as u64)
        .ok_or_else(|| crate::unexpected(UPTIME, &format!("unexpected content {text:?}")))
}

/// The resolver configuration, where the host's domain may be given.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The host name with its domain when the resolver configuration gives one. A machine without
/// /etc/resolv.conf has no domain there; one that cannot be read is an error naming it.
pub fn hostname() -> io::Result<String> {
    let name = uname().nodename;
    if name.contains('.') {
        return Ok(name);
    }
    Ok(match domain(Path::new(RESOLV_CONF))? {
        Some(d) => format!("{name}.{d}"),
        None => name,
    })
}

/// The `domain` of a resolv.conf(5); `None` when the file does not exist or gives none.
fn domain(resolv_conf: &Path) -> io::Result<Option<String>> {
    let text = crate::optional(resolv_conf, |p| std::fs::read_to_string(p))?;
    Ok(text.and_then(|t| {
        t.lines().find_map(|l| {
            l.strip_prefix("domain ")
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
        })
    }))
}

/// The local time zone's abbreviation at Unix time `t` (`UTC`, `CET`, `EDT`), as
/// `strftime("%Z")` gives it; `None` when the C library cannot tell.
pub fn local_timezone(t: i64) -> Option<String> {
    let t: libc::time_t = t;
    // SAFETY: tm is plain old data: all zeroes is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `t` and fills `tm`, which we own; it is reentrant.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() || tm.tm_zone.is_null() {
        return None;
    }
    // SAFETY: tm_zone points to a NUL-terminated string owned by the C library, valid at
    // least until the next tzset; it is copied at once.
    let zone = unsafe { CStr::from_ptr(tm.tm_zone) };
    Some(zone.to_string_lossy().into_owned()).filter(|z| !z.is_empty())
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
        assert!(physical_memory().unwrap() > 0);
        assert!(cpu().unwrap().logical >= 1);
        assert!(uptime_seconds().is_ok());
        assert!(!hostname().unwrap().is_empty());
        assert!(!read_trimmed("/proc/cmdline").unwrap().contains('\n'));
        let err = read_trimmed("/proc/no-such-file").unwrap_err();
        assert!(err.to_string().starts_with("/proc/no-such-file: "), "{err}");
    }

    /// An optional file that is missing reads as "not there"; one that cannot be read (a
    /// directory here, so that the test also fails as root, who may read any file) is an
    /// error naming it, not a silent absence.
    #[test]
    fn optional_files_missing_or_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let conf = dir.path().join("resolv.conf");
        std::fs::write(&conf, "search x\ndomain example.org\nnameserver ::1\n").unwrap();
        assert_eq!(domain(&missing).unwrap(), None);
        assert_eq!(domain(&conf).unwrap().as_deref(), Some("example.org"));
        let err = domain(dir.path()).unwrap_err();
        assert!(err
            .to_string()
            .starts_with(&format!("{}: ", dir.path().display())));

        let release = dir.path().join("os-release");
        std::fs::write(&release, "ID=test\n").unwrap();
        assert_eq!(
            os_release_from(&[&missing, &release]).unwrap()["ID"],
            "test"
        );
        // The first file exists but cannot be read: an error, not the second file's word.
        let err = os_release_from(&[dir.path(), &release]).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = os_release_from(&[&missing]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
