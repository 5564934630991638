//! The machine's state of the moment: time, load_average, memory_info, system_controls
//! (sysctl), shadow, process_envs.

use super::super::row::{saturate, table_row};
use super::super::schema::*;
use super::processes::{per_process, shown};
use mig_host::system;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

table_row! {
    /// The current time.
    struct TimeRow {
        weekday: text = "Current weekday in UTC",
        year: integer = "Current year in UTC",
        month: integer = "Current month in UTC",
        day: integer = "Current day in UTC",
        hour: integer = "Current hour in UTC",
        minutes: integer = "Current minutes in UTC",
        seconds: integer = "Current seconds in UTC",
        timezone: text = "Timezone for reported time (hardcoded to UTC)",
        local_timezone: text = "Current local timezone in of the system",
        unix_time: integer = "Current UNIX time in UTC",
        timestamp: text = "Current timestamp (log format) in UTC",
        datetime: text = "Current date and time (ISO format) in UTC",
        iso_8601: text = "Current time (ISO format) in UTC",
    }
    absent {
        win_timestamp: bigint = "Timestamp value in 100 nanosecond units",
    }
}

pub(crate) static TIME: Table = Table {
    name: "time",
    about: "Track current date and time in UTC.",
    columns: TimeRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_time,
    reach: Reach::Host,
    example: "SELECT unix_time, iso_8601, local_timezone FROM time",
};

fn gen_time(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(vec![time_row(chrono::Utc::now())]))
}

/// osquery's row for `now`: UTC fields, asctime's log format, ISO 8601.
fn time_row(now: chrono::DateTime<chrono::Utc>) -> TimeRow {
    use chrono::{Datelike, Timelike};
    let iso = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    TimeRow {
        weekday: now.format("%A").to_string(),
        year: i64::from(now.year()),
        month: i64::from(now.month()),
        day: i64::from(now.day()),
        hour: i64::from(now.hour()),
        minutes: i64::from(now.minute()),
        seconds: i64::from(now.second()),
        timezone: "UTC".into(),
        local_timezone: system::local_timezone(now.timestamp()).unwrap_or_else(|| "UTC".into()),
        unix_time: now.timestamp(),
        // asctime(3), as osquery's log lines have it: "Mon Dec  7 15:20:00 2026 UTC".
        timestamp: now.format("%a %b %e %H:%M:%S %Y UTC").to_string(),
        datetime: iso.clone(),
        iso_8601: iso,
    }
}

table_row! {
    /// One of the three load averages.
    struct LoadAverageRow {
        period: text = "Period over which the average is calculated.",
        average: text = "Load average over the specified period.",
    }
}

pub(crate) static LOAD_AVERAGE: Table = Table {
    name: "load_average",
    about: "Displays information about the system wide load averages.",
    columns: LoadAverageRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_load_average,
    reach: Reach::Host,
    example: "SELECT period, average FROM load_average",
};

fn gen_load_average(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let path = Path::new("/proc/loadavg");
    let text =
        mig_host::required(path, |p| std::fs::read_to_string(p)).map_err(|e| e.to_string())?;
    Ok(VecRows::boxed(parse_loadavg(&text)))
}

/// `0.52 0.58 0.59 1/234 5678`: osquery writes each as C++'s `std::to_string` (6 decimals).
fn parse_loadavg(text: &str) -> Vec<LoadAverageRow> {
    ["1m", "5m", "15m"]
        .iter()
        .zip(text.split_whitespace())
        .filter_map(|(period, v)| {
            Some(LoadAverageRow {
                period: period.to_string(),
                average: format!("{:.6}", v.parse::<f64>().ok()?),
            })
        })
        .collect()
}

table_row! {
    /// Main memory.
    struct MemoryInfoRow {
        memory_total: bigint = "Total amount of physical RAM, in bytes",
        memory_free: bigint = "The amount of physical RAM, in bytes, left unused by the system",
        memory_available: bigint = "The amount of physical RAM, in bytes, available for starting new applications, without swapping",
        buffers: bigint = "The amount of physical RAM, in bytes, used for file buffers",
        cached: bigint = "The amount of physical RAM, in bytes, used as cache memory",
        swap_cached: bigint = "The amount of swap, in bytes, used as cache memory",
        active: bigint = "The total amount of buffer or page cache memory, in bytes, that is in active use",
        inactive: bigint = "The total amount of buffer or page cache memory, in bytes, that are free and available",
        swap_total: bigint = "The total amount of swap available, in bytes",
        swap_free: bigint = "The total amount of swap free, in bytes",
    }
}

pub(crate) static MEMORY_INFO: Table = Table {
    name: "memory_info",
    about: "Main memory information in bytes.",
    columns: MemoryInfoRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_memory_info,
    reach: Reach::Host,
    example: "SELECT memory_total, memory_available, swap_free FROM memory_info",
};

fn gen_memory_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let path = Path::new("/proc/meminfo");
    let text =
        mig_host::required(path, |p| std::fs::read_to_string(p)).map_err(|e| e.to_string())?;
    Ok(VecRows::boxed(vec![parse_meminfo(&text)]))
}

/// /proc/meminfo's fields (kB), in bytes.
fn parse_meminfo(text: &str) -> MemoryInfoRow {
    let fields: BTreeMap<&str, u64> = text
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some((name.trim(), kb))
        })
        .collect();
    let bytes = |name: &str| saturate(fields.get(name).copied().unwrap_or(0).saturating_mul(1024));
    MemoryInfoRow {
        memory_total: bytes("MemTotal"),
        memory_free: bytes("MemFree"),
        memory_available: bytes("MemAvailable"),
        buffers: bytes("Buffers"),
        cached: bytes("Cached"),
        swap_cached: bytes("SwapCached"),
        active: bytes("Active"),
        inactive: bytes("Inactive"),
        swap_total: bytes("SwapTotal"),
        swap_free: bytes("SwapFree"),
    }
}

table_row! {
    /// One kernel parameter.
    struct SysctlRow {
        name: text = "Full sysctl MIB name",
        oid: text = "Control MIB",
        subsystem: text = "Subsystem ID, control type",
        current_value: text = "Value of setting",
        config_value: text = "The MIB value set in /etc/sysctl.conf",
        r#type: text = "Data type",
    }
    absent {
        field_name: text = "Specific attribute of opaque type",
    }
}

pub(crate) static SYSTEM_CONTROLS: Table = Table {
    name: "system_controls",
    about: "sysctl names, values, and settings information.",
    columns: SysctlRow::COLUMNS,
    index: &["name", "subsystem"],
    required: &[],
    like: &[],
    generate: gen_system_controls,
    reach: Reach::Host,
    example: "SELECT name, current_value, config_value FROM system_controls WHERE name = 'net.ipv4.ip_forward'",
};

const SYSCTL_ROOT: &str = "/proc/sys";
/// Where sysctl(8) reads its settings from, in osquery's order (later files win).
const SYSCTL_CONFIGS: &[&str] = &[
    "/etc/sysctl.conf",
    "/run/sysctl.d",
    "/etc/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

fn gen_system_controls(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let config = sysctl_config(SYSCTL_CONFIGS).map_err(|e| e.to_string())?;
    let mut leaves: Vec<PathBuf> = Vec::new();
    if let Some(names) = q.texts("name") {
        leaves.extend(
            names
                .iter()
                .filter(|n| !n.contains("..") && !n.contains('/'))
                .map(|n| Path::new(SYSCTL_ROOT).join(n.replace('.', "/"))),
        );
    } else {
        let roots: Vec<PathBuf> = match q.texts("subsystem") {
            Some(subs) => subs
                .iter()
                .filter(|s| !s.contains('/') && !s.contains(".."))
                .map(|s| Path::new(SYSCTL_ROOT).join(s))
                .collect(),
            None => vec![PathBuf::from(SYSCTL_ROOT)],
        };
        for root in roots {
            walk_sysctl(&root, &mut leaves, q)?;
        }
    }
    let rows: Vec<SysctlRow> = leaves
        .into_iter()
        .filter_map(|leaf| sysctl_row(&leaf, &config))
        .collect();
    Ok(VecRows::boxed(rows))
}

/// Every parameter file below `dir`, sorted, without following links.
fn walk_sysctl(dir: &Path, out: &mut Vec<PathBuf>, q: &Constraints) -> Result<(), String> {
    q.check()?;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        match e.file_type() {
            Ok(t) if t.is_dir() => walk_sysctl(&e.path(), out, q)?,
            Ok(t) if t.is_file() => out.push(e.path()),
            _ => {}
        }
    }
    Ok(())
}

/// One parameter's row; `None` for a path that is no parameter. A parameter that cannot be
/// read (write-only, or refused) has an empty value, as osquery gives it.
fn sysctl_row(leaf: &Path, config: &BTreeMap<String, String>) -> Option<SysctlRow> {
    let relative = leaf.strip_prefix(SYSCTL_ROOT).ok()?;
    if !leaf.is_file() {
        return None;
    }
    let name = relative.to_string_lossy().replace('/', ".");
    let current = std::fs::read(leaf)
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    Some(SysctlRow {
        subsystem: name.split('.').next().unwrap_or_default().to_string(),
        oid: String::new(),
        current_value: current,
        config_value: config.get(&name).cloned().unwrap_or_default(),
        r#type: "string".into(),
        name,
    })
}

/// `name = value` settings of sysctl.conf and the sysctl.d directories' `*.conf` files.
fn sysctl_config(sources: &[&str]) -> io::Result<BTreeMap<String, String>> {
    let mut config = BTreeMap::new();
    for source in sources {
        let path = Path::new(source);
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut f: Vec<PathBuf> = std::fs::read_dir(path)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            f.sort();
            f
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            let Some(text) = mig_host::optional(&file, |p| std::fs::read_to_string(p))? else {
                continue;
            };
            for line in text.lines().map(str::trim) {
                if line.starts_with(['#', ';']) {
                    continue;
                }
                if let Some((k, v)) = line.split_once('=') {
                    config.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
        }
    }
    Ok(config)
}

table_row! {
    /// One account's shadow entry.
    struct ShadowRow {
        password_status: text = "Password status",
        hash_alg: text = "Password hashing algorithm",
        last_change: bigint = "Date of last password change (starting from UNIX epoch date)",
        min: bigint = "Minimal number of days between password changes",
        max: bigint = "Maximum number of days between password changes",
        warning: bigint = "Number of days before password expires to warn user about it",
        inactive: bigint = "Number of days after password expires until account is blocked",
        expire: bigint = "Number of days since UNIX epoch date until account is disabled",
        flag: bigint = "Reserved",
        username: text = "Username",
    }
}

pub(crate) static SHADOW: Table = Table {
    name: "shadow",
    about: "Local system users encrypted passwords and related information (/etc/shadow; the hashes themselves are never shown).",
    columns: ShadowRow::COLUMNS,
    index: &["username"],
    required: &[],
    like: &[],
    generate: gen_shadow,
    reach: Reach::Host,
    example: "SELECT username, password_status, hash_alg FROM shadow WHERE password_status = 'active'",
};

fn gen_shadow(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let path = Path::new("/etc/shadow");
    let text = mig_host::optional(path, |p| std::fs::read_to_string(p))
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let wanted = q.texts("username");
    let rows: Vec<ShadowRow> = parse_shadow(&text)
        .into_iter()
        .filter(|r| wanted.as_ref().is_none_or(|w| w.contains(&r.username)))
        .collect();
    Ok(VecRows::boxed(rows))
}

/// shadow(5) lines. An empty number is -1, as getspent(3) gives it to osquery.
fn parse_shadow(text: &str) -> Vec<ShadowRow> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 9 {
                return None;
            }
            let n = |s: &str| s.trim().parse::<i64>().unwrap_or(-1);
            let password = f[1];
            let password_status = if password == "!!" {
                "not_set"
            } else if password.starts_with(['!', '*', 'x']) {
                "locked"
            } else if password.is_empty() {
                "empty"
            } else {
                "active"
            };
            // `$6$salt$hash` names its algorithm between the first two dollars.
            let hash_alg = password
                .strip_prefix('$')
                .and_then(|rest| rest.split_once('$'))
                .map(|(alg, _)| alg)
                .filter(|alg| {
                    !alg.is_empty() && alg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .unwrap_or_default();
            Some(ShadowRow {
                password_status: password_status.into(),
                hash_alg: hash_alg.into(),
                last_change: n(f[2]),
                min: n(f[3]),
                max: n(f[4]),
                warning: n(f[5]),
                inactive: n(f[6]),
                expire: n(f[7]),
                flag: n(f[8]),
                username: f[0].to_string(),
            })
        })
        .collect()
}

table_row! {
    /// One environment variable of one process.
    struct ProcessEnvRow {
        pid: integer = "Process (or thread) ID",
        key: text = "Environment variable name",
        value: text = "Environment variable value",
    }
}

pub(crate) static PROCESS_ENVS: Table = Table {
    name: "process_envs",
    about: "A key/value table of environment variables for each process.",
    columns: ProcessEnvRow::COLUMNS,
    index: &["pid"],
    required: &[],
    like: &[],
    generate: gen_process_envs,
    reach: Reach::Host,
    example: "SELECT pid, key, value FROM process_envs WHERE key = 'LD_PRELOAD'",
};

fn gen_process_envs(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    per_process(q, |pid| {
        let environ = shown(mig_host::optional(format!("/proc/{pid}/environ"), |p| {
            std::fs::read(p)
        }))?
        .unwrap_or_default();
        Ok(parse_environ(i64::from(pid), &environ))
    })
}

/// `KEY=value\0…`; an entry without `=` is a key with an empty value.
fn parse_environ(pid: i64, raw: &[u8]) -> Vec<ProcessEnvRow> {
    raw.split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let e = String::from_utf8_lossy(e);
            let (key, value) = e.split_once('=').unwrap_or((&e, ""));
            ProcessEnvRow {
                pid,
                key: key.to_string(),
                value: value.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_osquerys() {
        let t = chrono::DateTime::from_timestamp(1_796_659_200, 0).unwrap();
        let r = time_row(t);
        assert_eq!(r.weekday, "Monday");
        assert_eq!((r.year, r.month, r.day, r.hour), (2026, 12, 7, 16));
        assert_eq!(r.timestamp, "Mon Dec  7 16:00:00 2026 UTC");
        assert_eq!(r.iso_8601, "2026-12-07T16:00:00Z");
        assert_eq!(r.datetime, r.iso_8601);
        assert_eq!(r.unix_time, 1_796_659_200);
    }

    #[test]
    fn load_and_memory() {
        let l = parse_loadavg("0.52 0.58 1.25 1/234 5678\n");
        assert_eq!(l.len(), 3);
        assert_eq!(
            (l[2].period.as_str(), l[2].average.as_str()),
            ("15m", "1.250000")
        );
        let m =
            parse_meminfo("MemTotal:       16000 kB\nMemAvailable:     800 kB\nSwapTotal: 0 kB\n");
        assert_eq!(m.memory_total, 16000 * 1024);
        assert_eq!(m.memory_available, 800 * 1024);
        assert_eq!(m.buffers, 0);
    }

    #[test]
    fn shadow_statuses_and_algorithms_without_hashes() {
        let rows = parse_shadow(
            "root:$6$salt$hash:19000:0:99999:7:::\n\
             daemon:*:19000:0:99999:7:::\n\
             nopw::19000::::::\n\
             never:!!:19000:0:99999:7:::\n\
             locked:!$y$j9T$x$y:19000:0:99999:7:30:20000:\n",
        );
        let status: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.username.as_str(),
                    r.password_status.as_str(),
                    r.hash_alg.as_str(),
                )
            })
            .collect();
        assert_eq!(
            status,
            [
                ("root", "active", "6"),
                ("daemon", "locked", ""),
                ("nopw", "empty", ""),
                ("never", "not_set", ""),
                ("locked", "locked", ""),
            ]
        );
        assert_eq!((rows[0].max, rows[0].inactive), (99999, -1));
        assert_eq!((rows[4].inactive, rows[4].expire), (30, 20000));
    }

    #[test]
    fn environ_and_sysctl_config() {
        let e = parse_environ(7, b"PATH=/bin:/usr/bin\0EMPTY=\0ODD\0A=b=c\0");
        let kv: Vec<(&str, &str)> = e
            .iter()
            .map(|r| (r.key.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(
            kv,
            [
                ("PATH", "/bin:/usr/bin"),
                ("EMPTY", ""),
                ("ODD", ""),
                ("A", "b=c")
            ]
        );

        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("main.conf"),
            "net.ipv4.ip_forward = 0\n# c = 1\n",
        )
        .unwrap();
        std::fs::create_dir(d.path().join("d")).unwrap();
        std::fs::write(
            d.path().join("d/99-x.conf"),
            "net.ipv4.ip_forward=1\n; kernel.x=2\n",
        )
        .unwrap();
        std::fs::write(d.path().join("d/skip.txt"), "vm.swappiness=1\n").unwrap();
        let (main, dir) = (d.path().join("main.conf"), d.path().join("d"));
        let c = sysctl_config(&[main.to_str().unwrap(), dir.to_str().unwrap()]).unwrap();
        assert_eq!(c.get("net.ipv4.ip_forward").map(String::as_str), Some("1"));
        assert_eq!(c.len(), 1);
    }
}
