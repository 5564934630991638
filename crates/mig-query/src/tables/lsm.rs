//! Linux security modules: apparmor_profiles, from AppArmor's securityfs.

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
    let dirs = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|e| {
                e.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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
