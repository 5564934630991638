//! Linux security modules: apparmor_profiles (AppArmor's securityfs) and selinux_settings
//! (selinuxfs).

use super::super::paths::sorted_entries;
use super::super::row::table_row;
use super::super::schema::*;
use std::path::{Path, PathBuf};

table_row! {
    /// One loaded AppArmor profile.
    struct ApparmorRow {
        path: text = "Unique, aa-status compatible, policy identifier.",
        name: text = "Policy name.",
        attach: text = "Which executable(s) a profile will attach to.",
        mode: text = "How the policy is applied.",
        sha1: text = "A unique hash that identifies this policy.",
        sha256: text = "A unique hash that identifies this policy.",
    }
}

pub(crate) static APPARMOR_PROFILES: Table = Table {
    name: "apparmor_profiles",
    about: "Track active AppArmor profiles (/sys/kernel/security/apparmor/policy/profiles, subprofiles included); none where AppArmor is off.",
    columns: ApparmorRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_apparmor_profiles,
    reach: Reach::Host,
    example: "SELECT path, mode FROM apparmor_profiles WHERE mode = 'complain'",
};

const APPARMOR_PROFILES_DIR: &str = "/sys/kernel/security/apparmor/policy/profiles";

fn gen_apparmor_profiles(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(apparmor_profiles(Path::new(
        APPARMOR_PROFILES_DIR,
    ))))
}

/// Every profile below `root`, each subprofile's path its parent's and its own name joined
/// by `//`, as aa-status names them.
fn apparmor_profiles(root: &Path) -> Vec<ApparmorRow> {
    let dirs = |d: &Path| sorted_entries(d, Path::is_dir);
    let mut rows = Vec::new();
    let mut todo: Vec<(String, PathBuf)> =
        dirs(root).into_iter().map(|d| (String::new(), d)).collect();
    todo.reverse();
    while let Some((parent, dir)) = todo.pop() {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).map(|t| t.trim().to_string());
        let (Ok(attach), Ok(mode), Ok(name)) = (read("attach"), read("mode"), read("name")) else {
            continue;
        };
        // AppArmor hashes with SHA-256 since Linux 6.8, SHA-1 before.
        let (sha256, sha1) = match read("sha256") {
            Ok(h) => (h, String::new()),
            Err(_) => (String::new(), read("sha1").unwrap_or_default()),
        };
        let path = if parent.is_empty() {
            name.clone()
        } else {
            format!("{parent}//{name}")
        };
        let mut subs: Vec<(String, PathBuf)> = dirs(&dir.join("profiles"))
            .into_iter()
            .map(|d| (path.clone(), d))
            .collect();
        subs.reverse();
        rows.push(ApparmorRow {
            path,
            name,
            attach,
            mode,
            sha1,
            sha256,
        });
        todo.extend(subs);
    }
    rows
}

table_row! {
    /// One SELinux setting.
    struct SelinuxRow {
        scope: text = "Where the key is located inside the SELinuxFS mount point.",
        key: text = "Key or class name.",
        value: text = "Active value.",
    }
}

pub(crate) static SELINUX_SETTINGS: Table = Table {
    name: "selinux_settings",
    about: "Track active SELinux settings (selinuxfs: the root keys, booleans, policy capabilities, initial contexts and classes); none where SELinux is off.",
    columns: SelinuxRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_selinux_settings,
    reach: Reach::Host,
    example: "SELECT key, value FROM selinux_settings WHERE scope = '' AND key = 'enforce'",
};

fn gen_selinux_settings(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let root = mig_host::mounts::mounts()?
        .into_iter()
        .find(|m| m.fstype == "selinuxfs")
        .map(|m| m.path);
    Ok(VecRows::boxed(root.map_or_else(Vec::new, |r| {
        selinux_settings(Path::new(&r))
    })))
}

/// The settings below a selinuxfs mount, in osquery's order and form.
fn selinux_settings(root: &Path) -> Vec<SelinuxRow> {
    const ROOT_KEYS: &[&str] = &[
        "checkreqprot",
        "deny_unknown",
        "enforce",
        "mls",
        "policyvers",
        "reject_unknown",
    ];
    const SCOPES: &[&str] = &["booleans", "policy_capabilities", "initial_contexts"];
    let row = |scope: &str, key: &str, value: String| SelinuxRow {
        scope: scope.into(),
        key: key.into(),
        value,
    };
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let mut rows: Vec<SelinuxRow> = ROOT_KEYS
        .iter()
        .map(|k| row("", k, read(&root.join(k))))
        .collect();
    for scope in SCOPES {
        for file in files_below(&root.join(scope)) {
            let key = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let raw = read(&file);
            let value = if *scope == "booleans" {
                // `current pending`: osquery shows the settled ones.
                match raw.as_str() {
                    "0 0" => "off".to_string(),
                    "1 1" => "on".to_string(),
                    _ => continue,
                }
            } else {
                raw
            };
            rows.push(row(scope, &key, value));
        }
    }
    // class/<class>/perms/<perm> is key `<class>/perms`, value `<perm>` (the index files aside).
    let classes = root.join("class");
    for file in files_below(&classes) {
        let (Some(parent), Some(name)) = (file.parent(), file.file_name()) else {
            continue;
        };
        let name = name.to_string_lossy();
        if name == "index" {
            continue;
        }
        let key = parent
            .strip_prefix(&classes)
            .map(|k| k.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.push(row("class", &key, name.into_owned()));
    }
    rows
}

/// Every file below `dir`, sorted, without following links.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => out.push(e.path()),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selinuxfs_as_osquery_reads_it() {
        let d = tempfile::tempdir().unwrap();
        let put = |p: &str, v: &str| {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        };
        put("enforce", "1");
        put("policyvers", "33");
        put("booleans/httpd_can_network_connect", "0 0");
        put("booleans/ssh_sysadm_login", "1 1");
        put("booleans/pending", "0 1");
        put("policy_capabilities/network_peer_controls", "1");
        put("class/file/index", "7");
        put("class/file/perms/read", "1");
        let rows = selinux_settings(d.path());
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.scope.as_str(), r.key.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(
            &got[..6],
            [
                ("", "checkreqprot", ""),
                ("", "deny_unknown", ""),
                ("", "enforce", "1"),
                ("", "mls", ""),
                ("", "policyvers", "33"),
                ("", "reject_unknown", ""),
            ]
        );
        assert_eq!(
            &got[6..],
            [
                ("booleans", "httpd_can_network_connect", "off"),
                ("booleans", "ssh_sysadm_login", "on"),
                ("policy_capabilities", "network_peer_controls", "1"),
                ("class", "file/perms", "read"),
            ]
        );
    }

    #[test]
    fn profiles_and_subprofiles() {
        let d = tempfile::tempdir().unwrap();
        let profile = |dir: &Path, name: &str, mode: &str, hash: (&str, &str)| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("name"), format!("{name}\n")).unwrap();
            std::fs::write(dir.join("mode"), format!("{mode}\n")).unwrap();
            std::fs::write(dir.join("attach"), format!("{name}\n")).unwrap();
            std::fs::write(dir.join(hash.0), format!("{}\n", hash.1)).unwrap();
        };
        profile(
            &d.path().join("usr.sbin.cupsd.1"),
            "/usr/sbin/cupsd",
            "enforce",
            ("sha256", "aa"),
        );
        profile(
            &d.path().join("usr.sbin.cupsd.1/profiles/third_party.2"),
            "third_party",
            "complain",
            ("sha1", "bb"),
        );
        profile(
            &d.path().join("nvidia_modprobe.3"),
            "nvidia_modprobe",
            "enforce",
            ("sha256", "cc"),
        );
        std::fs::create_dir_all(d.path().join("broken.4")).unwrap();
        let rows = apparmor_profiles(d.path());
        let got: Vec<(&str, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.path.as_str(),
                    r.mode.as_str(),
                    r.sha256.as_str(),
                    r.sha1.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("nvidia_modprobe", "enforce", "cc", ""),
                ("/usr/sbin/cupsd", "enforce", "aa", ""),
                ("/usr/sbin/cupsd//third_party", "complain", "", "bb"),
            ]
        );
        assert!(apparmor_profiles(&d.path().join("none")).is_empty());
    }
}
