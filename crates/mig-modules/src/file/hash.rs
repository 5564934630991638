//! The file module's hash checks: which algorithm a check means, by its kind and length. The
//! hashing itself is mig-host's.

use super::params::CheckKind;
pub(crate) use mig_host::hash::{hex, HashAlgo, HashSet, MultiHasher};
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

/// The variant a check means, from its kind and its length in hex digits.
pub(crate) fn algo_for_check(kind: CheckKind, hex_len: usize) -> Option<HashAlgo> {
    Some(match (kind, hex_len) {
        (CheckKind::Md5, 32) => HashAlgo::Md5,
        (CheckKind::Sha1, 40) => HashAlgo::Sha1,
        (CheckKind::Sha2, 64) => HashAlgo::Sha256,
        (CheckKind::Sha2, 96) => HashAlgo::Sha384,
        (CheckKind::Sha2, 128) => HashAlgo::Sha512,
        (CheckKind::Sha3, 56) => HashAlgo::Sha3_224,
        (CheckKind::Sha3, 64) => HashAlgo::Sha3_256,
        (CheckKind::Sha3, 96) => HashAlgo::Sha3_384,
        (CheckKind::Sha3, 128) => HashAlgo::Sha3_512,
        _ => return None,
    })
}

/// The lengths a kind accepts, for error messages.
pub(crate) fn lengths(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::Md5 => "32",
        CheckKind::Sha1 => "40",
        CheckKind::Sha2 => "64, 96 or 128",
        CheckKind::Sha3 => "56, 64, 96 or 128",
        _ => "no",
    }
}

/// The digests of the files hashed so far in one run, by file identity. A file reached under
/// several paths (a symbolic link to it, a hard link) is evaluated under each path, as MIG
/// does, but read and hashed once: /usr/bin alone has hundreds of links to its own files.
#[derive(Default)]
pub(crate) struct DigestCache {
    digests: Mutex<HashMap<FileKey, Vec<(HashAlgo, String)>>>,
}

/// A file's identity and version: its inode, with its size and modification time so that a
/// file rewritten in place during the walk is hashed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
}

impl FileKey {
    pub(crate) fn of(meta: &Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
        }
    }
}

impl DigestCache {
    /// The digests of `key` for every algorithm in `wanted`, if all were computed already.
    pub(crate) fn get(&self, key: &FileKey, wanted: HashSet) -> Option<Vec<(HashAlgo, String)>> {
        let digests = self.lock();
        let known = digests.get(key)?;
        let found: Vec<(HashAlgo, String)> = known
            .iter()
            .filter(|(a, _)| wanted.contains(*a))
            .cloned()
            .collect();
        (found.len() == wanted.len()).then_some(found)
    }

    /// Remembers the digests computed for `key`, beside any computed before.
    pub(crate) fn put(&self, key: FileKey, computed: &[(HashAlgo, String)]) {
        let mut digests = self.lock();
        let known = digests.entry(key).or_default();
        for d in computed {
            if !known.iter().any(|(a, _)| *a == d.0) {
                known.push(d.clone());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileKey, Vec<(HashAlgo, String)>>> {
        // A walker thread that panicked left whole entries behind: the map is still sound.
        self.digests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_under_two_names_has_one_entry_and_a_rewritten_file_another() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"one").unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("link")).unwrap();
        std::fs::hard_link(&file, dir.path().join("hard")).unwrap();
        let key = |name: &str| FileKey::of(&std::fs::metadata(dir.path().join(name)).unwrap());
        assert_eq!(key("f"), key("link"));
        assert_eq!(key("f"), key("hard"));

        let cache = DigestCache::default();
        let mut md5 = HashSet::default();
        md5.insert(HashAlgo::Md5);
        let mut both = md5;
        both.insert(HashAlgo::Sha256);
        assert_eq!(cache.get(&key("f"), md5), None);
        cache.put(key("f"), &[(HashAlgo::Md5, "aa".into())]);
        assert_eq!(
            cache.get(&key("link"), md5),
            Some(vec![(HashAlgo::Md5, "aa".into())])
        );
        // Only some of the wanted digests known: computed again.
        assert_eq!(cache.get(&key("link"), both), None);
        cache.put(
            key("link"),
            &[
                (HashAlgo::Md5, "aa".into()),
                (HashAlgo::Sha256, "bb".into()),
            ],
        );
        assert_eq!(cache.get(&key("hard"), both).map(|d| d.len()), Some(2));

        // Rewritten (another size): another version of the file.
        std::fs::write(&file, b"longer").unwrap();
        assert_eq!(cache.get(&key("f"), md5), None);
    }
}
