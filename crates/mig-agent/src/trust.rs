//! The keyring and the ACL the agent verifies against: loaded at start, and again when their
//! files change (checked every few seconds) or on SIGHUP, without a restart. A change that
//! does not load (a broken ACL, an empty keyring) is logged and the previous ones stay.

use crate::config::Config;
use anyhow::Context;
use mig_core::Acl;
use mig_pgp::Keyring;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_secs(3);

/// Loads the keyring and the ACL the configuration names.
pub fn load(config: &Config) -> anyhow::Result<(Keyring, Acl)> {
    let keyring = Keyring::load(&config.keyring)
        .with_context(|| format!("keyring {}", config.keyring.display()))?;
    if keyring.is_empty() {
        anyhow::bail!(
            "keyring {} holds no key: the agent would refuse everything",
            config.keyring.display()
        );
    }
    let acl_bytes = std::fs::read(&config.acl)
        .with_context(|| format!("cannot read the ACL {}", config.acl.display()))?;
    let acl =
        Acl::from_json(&acl_bytes).with_context(|| format!("ACL {}", config.acl.display()))?;
    Ok((keyring, acl))
}

/// What the files look like now: names, sizes and modification times of the ACL and of the
/// keyring (a file, or every file of a directory). Equal stamps: nothing to reload.
#[derive(Debug, PartialEq, Eq)]
pub struct Stamp(Vec<(PathBuf, u64, Option<SystemTime>)>);

impl Stamp {
    pub fn of(config: &Config) -> Stamp {
        let mut files = vec![stat(&config.acl)];
        if config.keyring.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&config.keyring)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            entries.sort();
            files.extend(entries.iter().map(|p| stat(p)));
        } else {
            files.push(stat(&config.keyring));
        }
        Stamp(files)
    }
}

fn stat(path: &Path) -> (PathBuf, u64, Option<SystemTime>) {
    let meta = std::fs::metadata(path).ok();
    (
        path.to_path_buf(),
        meta.as_ref().map_or(0, |m| m.len()),
        meta.and_then(|m| m.modified().ok()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_or_added_key_file_changes_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = dir.path().join("keyring");
        std::fs::create_dir_all(&keyring).unwrap();
        std::fs::write(keyring.join("a.asc"), "a").unwrap();
        std::fs::write(dir.path().join("acl.json"), "{}").unwrap();
        let config = Config {
            keyring: keyring.clone(),
            acl: dir.path().join("acl.json"),
            ..Default::default()
        };
        let first = Stamp::of(&config);
        assert_eq!(first, Stamp::of(&config));
        std::fs::write(keyring.join("b.asc"), "b").unwrap();
        let second = Stamp::of(&config);
        assert_ne!(first, second);
        std::fs::write(dir.path().join("acl.json"), "{\"default\": {}}").unwrap();
        assert_ne!(second, Stamp::of(&config));
    }
}
