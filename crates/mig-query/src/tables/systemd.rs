//! systemd_units, from the unit files systemd loads, in its order of precedence.
//!
//! osquery asks the running systemd over D-Bus. The sandboxed query module reads files
//! instead: every unit file (not templates) with its description, user, fragment path and
//! enablement; `active_state`/`sub_state` are `active`/`running` when the unit's cgroup holds
//! processes, and empty when that cannot be told from files (see docs/compat.md).

use super::super::paths::sorted_entries;
use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::user_homes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Unit directories, highest precedence first.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
/// Where `systemctl enable` puts its links.
const ENABLE_DIRS: &[&str] = &["/etc/systemd/system", "/run/systemd/system"];
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "timer",
    "mount",
    "automount",
    "path",
    "slice",
    "scope",
    "swap",
    "device",
];

table_row! {
    /// One systemd unit.
    struct UnitRow {
        id: text = "Unique unit identifier",
        description: text = "Unit description",
        load_state: text = "Reflects whether the unit definition was properly loaded",
        active_state: text = "The high-level unit activation state, i.e. generalization of SUB",
        sub_state: text = "The low-level unit activation state, values depend on unit type",
        unit_file_state: text = "Whether the unit file is enabled, e.g. `enabled`, `masked`, `disabled`, etc",
        following: text = "The name of another unit that this unit follows in state",
        object_path: text = "The object path for this unit",
        job_id: bigint = "Next queued job id",
        job_type: text = "Job type",
        job_path: text = "The object path for the job",
        fragment_path: text = "The unit file path this unit was read from, if there is any",
        user: text = "The configured user, if any",
        source_path: text = "Path to the (possibly generated) unit configuration file",
    }
}

pub(crate) static SYSTEMD_UNITS: Table = Table {
    name: "systemd_units",
    about: "systemd units, from their unit files.",
    columns: UnitRow::COLUMNS,
    index: &["id"],
    required: &[],
    like: &[],
    generate: gen_units,
    reach: Reach::Host,
    example:
        "SELECT id, description, unit_file_state, user FROM systemd_units WHERE id LIKE '%.service'",
};

/// systemd's D-Bus object path escaping: letters and digits kept, the rest `_xx`.
pub(crate) fn object_path(unit: &str) -> String {
    let mut p = String::from("/org/freedesktop/systemd1/unit/");
    for b in unit.bytes() {
        if b.is_ascii_alphanumeric() {
            p.push(b as char);
        } else {
            p.push_str(&format!("_{b:02x}"));
        }
    }
    p
}

/// `Key=` values of a unit file, by section (`Unit.Description`), first occurrence wins.
pub(crate) fn parse_unit(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(format!("{section}.{}", k.trim()))
                .or_insert_with(|| v.trim().to_string());
        }
    }
    out
}

fn is_unit_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        UNIT_TYPES.contains(&ext) && !stem.ends_with('@') && !stem.is_empty()
    })
}

/// unit name → the file that defines it (the first in precedence order).
fn unit_files(only: Option<&[String]>) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_unit_name(&name) || only.is_some_and(|o| !o.contains(&name)) {
                continue;
            }
            found.entry(name).or_insert_with(|| e.path());
        }
    }
    found
}

fn enabled(unit: &str) -> bool {
    ENABLE_DIRS.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (n.ends_with(".wants") || n.ends_with(".requires")) && e.path().join(unit).exists()
            })
        })
    })
}

/// Whether the unit's cgroup holds processes (cgroup v2, or v1's systemd hierarchy).
fn running(unit: &str) -> bool {
    let slice = if unit.ends_with(".service") || unit.ends_with(".scope") {
        "system.slice"
    } else {
        return false;
    };
    ["/sys/fs/cgroup", "/sys/fs/cgroup/systemd"]
        .iter()
        .any(|root| {
            std::fs::read_to_string(Path::new(root).join(slice).join(unit).join("cgroup.procs"))
                .is_ok_and(|p| !p.trim().is_empty())
        })
}

fn gen_units(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut units = units(q.texts("id"));
    Ok(Box::new(FnRows(move || Ok(units.next()))))
}

/// A unit, as startup_items lists it: (id, active or inactive, unit file, configured user).
pub(crate) fn startup_units() -> Vec<(String, String, String, String)> {
    units(None)
        .map(|u| {
            let state = if u.active_state.is_empty() {
                "inactive".to_string()
            } else {
                u.active_state
            };
            (u.id, state, u.fragment_path, u.user)
        })
        .collect()
}

/// The units defined on this machine (or those named), one at a time.
fn units(only: Option<Vec<String>>) -> impl Iterator<Item = UnitRow> {
    let booted = Path::new("/run/systemd/system").is_dir();
    let mut units = unit_files(only.as_deref()).into_iter();
    std::iter::from_fn(move || {
        let (name, path) = units.next()?;
        let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let masked = target == Path::new("/dev/null");
        let fields = if masked {
            BTreeMap::new()
        } else {
            parse_unit(&std::fs::read_to_string(&target).unwrap_or_default())
        };
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let installable = fields.keys().any(|k| k.starts_with("Install."));
        let file_state = if masked {
            "masked"
        } else if enabled(&name) {
            "enabled"
        } else if !installable {
            "static"
        } else {
            "disabled"
        };
        let (active, sub) = if booted && !masked && running(&name) {
            ("active", "running")
        } else {
            ("", "")
        };
        Some(UnitRow {
            id: name.clone(),
            description: get("Unit.Description"),
            load_state: if masked { "masked" } else { "loaded" }.to_string(),
            active_state: active.to_string(),
            sub_state: sub.to_string(),
            unit_file_state: file_state.to_string(),
            following: String::new(),
            object_path: object_path(&name),
            job_id: 0,
            job_type: String::new(),
            job_path: "/".to_string(),
            fragment_path: if masked {
                String::new()
            } else {
                target.to_string_lossy().into_owned()
            },
            user: get("Service.User"),
            source_path: String::new(),
        })
    })
}

table_row! {
    /// One thing started at boot or login.
    struct StartupRow {
        name: text = "Name of startup item",
        path: text = "Path of startup item",
        args: text = "Arguments provided to startup executable",
        r#type: text = "Type of startup item. On macOS this can be app, agent (LaunchAgent), daemon (LaunchDaemon), login item, or user item.",
        source: text = "Directory containing startup item (on macOS, the subsystem providing it)",
        status: text = "Startup status. On Linux: enabled or disabled. On macOS: Combination of enabled, allowed, notified, and hidden. Apple does not seem to document these status values, but allowed seems to indicate whether it is enabled in System Settings.",
        username: text = "The user associated with the startup item",
    }
}

pub(crate) static STARTUP_ITEMS: Table = Table {
    name: "startup_items",
    about: "Applications and binaries set as user/login startup items: systemd units, /etc/init.d scripts, XDG autostart entries (/etc/xdg/autostart, ~/.config/autostart) and ~/.config/autostart-scripts.",
    columns: StartupRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_startup_items,
    reach: Reach::Host,
    example: "SELECT name, path, type, status FROM startup_items WHERE type = 'Startup Item'",
};

fn gen_startup_items(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    let mut dirs: Vec<(String, String)> = vec![("/etc/init.d/".into(), String::new())];
    let mut xdg: Vec<(String, String)> = vec![("/etc/xdg/autostart/".into(), String::new())];
    for u in user_homes(q)? {
        let home = u.home.trim_end_matches('/');
        xdg.push((format!("{home}/.config/autostart/"), u.name.clone()));
        dirs.push((format!("{home}/.config/autostart-scripts/"), u.name.clone()));
    }
    for (dir, user) in &xdg {
        for file in sorted_entries(Path::new(dir), Path::is_file) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let (name, exec) = desktop_entry(&text);
            rows.push(startup_row(name, exec, dir, user));
        }
    }
    for (dir, user) in &dirs {
        for file in sorted_entries(Path::new(dir), Path::is_file) {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            rows.push(startup_row(
                name,
                file.to_string_lossy().into_owned(),
                dir,
                user,
            ));
        }
    }
    for (id, state, fragment, user) in startup_units() {
        rows.push(StartupRow {
            name: id,
            path: fragment,
            args: String::new(),
            r#type: "systemd unit".into(),
            source: String::new(),
            status: state,
            username: user,
        });
    }
    Ok(VecRows::boxed(rows))
}

fn startup_row(name: String, path: String, dir: &str, user: &str) -> StartupRow {
    StartupRow {
        name,
        path,
        args: String::new(),
        r#type: "Startup Item".into(),
        source: dir.to_string(),
        status: "enabled".into(),
        username: user.to_string(),
    }
}

/// A .desktop file's `Name=` and `Exec=` (the first of each, as osquery reads them).
fn desktop_entry(text: &str) -> (String, String) {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_default()
            .to_string()
    };
    (field("Name="), field("Exec="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_entries() {
        assert_eq!(
            desktop_entry("[Desktop Entry]\nType=Application\nName=Tracker\nName[fr]=Pisteur\nExec=/usr/bin/tracker --daemon\n"),
            ("Tracker".to_string(), "/usr/bin/tracker --daemon".to_string())
        );
    }

    #[test]
    fn unit_files_and_names() {
        let f = parse_unit("[Unit]\nDescription=The web server\n# x\n[Service]\nUser=www-data\nExecStart=/usr/sbin/nginx\n[Install]\nWantedBy=multi-user.target\n");
        assert_eq!(f["Unit.Description"], "The web server");
        assert_eq!(f["Service.User"], "www-data");
        assert!(f.contains_key("Install.WantedBy"));
        assert_eq!(
            object_path("ssh.service"),
            "/org/freedesktop/systemd1/unit/ssh_2eservice"
        );
        assert!(is_unit_name("ssh.service"));
        assert!(!is_unit_name("getty@.service"));
        assert!(!is_unit_name("README"));
    }
}
