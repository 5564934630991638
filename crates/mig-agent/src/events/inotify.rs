//! file_events' source: inotify on the paths signed schedules watch (`file_paths`), and on
//! the directories under them (new ones too), up to a cap. Hashes (MD5, SHA-1, SHA-256) of
//! created and written regular files when a schedule asks for them (`file_hashes`).

use super::ring::Ring;
use mig_core::events::FileEvent;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Directories watched at most (each is a kernel watch).
const MAX_WATCHES: usize = 4096;
/// Files larger than this are not hashed (hashed = 0).
const MAX_HASHED: u64 = 64 << 20;

const MASK: u32 = libc::IN_CREATE
    | libc::IN_CLOSE_WRITE
    | libc::IN_DELETE
    | libc::IN_ATTRIB
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF;

/// osquery's action names for an inotify mask.
fn action(mask: u32) -> Option<&'static str> {
    Some(if mask & libc::IN_CREATE != 0 {
        "CREATED"
    } else if mask & libc::IN_CLOSE_WRITE != 0 {
        "UPDATED"
    } else if mask & (libc::IN_DELETE | libc::IN_DELETE_SELF) != 0 {
        "DELETED"
    } else if mask & libc::IN_ATTRIB != 0 {
        "ATTRIBUTES_MODIFIED"
    } else if mask & libc::IN_MOVED_FROM != 0 {
        "MOVED_FROM"
    } else if mask & libc::IN_MOVED_TO != 0 {
        "MOVED_TO"
    } else {
        return None;
    })
}

struct Watcher {
    fd: OwnedFd,
    /// Watch descriptor → (watched path, the root it is under).
    watches: HashMap<i32, (PathBuf, String)>,
}

impl Watcher {
    fn add(&mut self, path: &Path, root: &str) {
        if self.watches.len() >= MAX_WATCHES {
            return;
        }
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return;
        };
        // SAFETY: a NUL-terminated path and a descriptor owned here.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), MASK) };
        if wd < 0 {
            return;
        }
        self.watches
            .insert(wd, (path.to_path_buf(), root.to_string()));
        if path.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                let p = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    self.add(&p, root);
                }
            }
        }
    }
}

/// A changed file's metadata and, when asked, hashes.
fn describe(path: &Path, root: &str, action: &str, cookie: u32, hash: bool) -> FileEvent {
    use std::os::unix::fs::MetadataExt;
    let meta = if action == "DELETED" || action == "MOVED_FROM" {
        None
    } else {
        std::fs::symlink_metadata(path).ok()
    };
    let mut e = FileEvent {
        target_path: path.display().to_string(),
        category: root.to_string(),
        action: action.to_string(),
        transaction_id: i64::from(cookie),
        time: chrono::Utc::now().timestamp(),
        ..Default::default()
    };
    if let Some(m) = &meta {
        e.inode = m.ino() as i64;
        e.uid = i64::from(m.uid());
        e.gid = i64::from(m.gid());
        e.mode = format!("{:04o}", m.mode() & 0o7777);
        e.size = m.size() as i64;
        e.atime = m.atime();
        e.mtime = m.mtime();
        e.ctime = m.ctime();
        let written = matches!(action, "CREATED" | "UPDATED" | "MOVED_TO");
        if hash && written && m.is_file() && m.size() <= MAX_HASHED {
            match hashes(path) {
                Some((md5, sha1, sha256)) => {
                    (e.md5, e.sha1, e.sha256, e.hashed) = (md5, sha1, sha256, 1);
                }
                None => e.hashed = -1,
            }
        }
    }
    e
}

fn hashes(path: &Path) -> Option<(String, String, String)> {
    use mig_host::hash::{HashAlgo, HashSet, MultiHasher};
    use std::io::Read;
    let mut set = HashSet::default();
    for a in [HashAlgo::Md5, HashAlgo::Sha1, HashAlgo::Sha256] {
        set.insert(a);
    }
    let mut h = MultiHasher::new(set);
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let out: HashMap<HashAlgo, String> = h.finish().into_iter().collect();
    Some((
        out.get(&HashAlgo::Md5)?.clone(),
        out.get(&HashAlgo::Sha1)?.clone(),
        out.get(&HashAlgo::Sha256)?.clone(),
    ))
}

/// Watches `roots` and collects their changes into `ring` until `stop` is set.
pub fn collect(
    ring: Arc<Ring<FileEvent>>,
    stop: Arc<AtomicBool>,
    roots: Vec<PathBuf>,
    hash: bool,
    notify: impl Fn(),
) -> std::io::Result<()> {
    // SAFETY: inotify_init1 returns a new descriptor, owned from here on.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by inotify_init1 and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut w = Watcher {
        fd,
        watches: HashMap::new(),
    };
    for root in &roots {
        w.add(root, &root.display().to_string());
    }
    let mut buf = vec![0u8; 64 << 10];
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: w.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, on a descriptor owned here.
        if unsafe { libc::poll(&mut pfd, 1, 500) } <= 0 {
            continue;
        }
        // SAFETY: read into a buffer of the length given.
        let n = unsafe {
            libc::read(
                w.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n <= 0 {
            continue;
        }
        let mut at = 0usize;
        let mut any = false;
        let header = std::mem::size_of::<libc::inotify_event>();
        while at + header <= n as usize {
            // SAFETY: the kernel wrote whole inotify_event records; read_unaligned copies one.
            let ev: libc::inotify_event = unsafe {
                std::ptr::read_unaligned(buf[at..].as_ptr() as *const libc::inotify_event)
            };
            let name_len = ev.len as usize;
            let name_bytes = &buf[at + header..(at + header + name_len).min(n as usize)];
            let name_end = name_bytes
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(name_bytes.len());
            let name = std::ffi::OsStr::from_bytes(&name_bytes[..name_end]);
            at += header + name_len;
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                ring.lost(1);
                continue;
            }
            let Some((dir, root)) = w.watches.get(&ev.wd).cloned() else {
                continue;
            };
            let path = if name.is_empty() {
                dir.clone()
            } else {
                dir.join(name)
            };
            if ev.mask & libc::IN_ISDIR != 0 && ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0
            {
                w.add(&path, &root);
            }
            if let Some(action) = action(ev.mask) {
                ring.push(describe(&path, &root, action, ev.cookie, hash));
                any = true;
            }
            if ev.mask & libc::IN_IGNORED != 0 {
                w.watches.remove(&ev.wd);
            }
        }
        if any {
            notify();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_osquery_actions() {
        assert_eq!(action(libc::IN_CREATE), Some("CREATED"));
        assert_eq!(action(libc::IN_CLOSE_WRITE), Some("UPDATED"));
        assert_eq!(action(libc::IN_DELETE | libc::IN_ISDIR), Some("DELETED"));
        assert_eq!(action(libc::IN_ATTRIB), Some("ATTRIBUTES_MODIFIED"));
        assert_eq!(action(libc::IN_MOVED_TO), Some("MOVED_TO"));
        assert_eq!(action(libc::IN_IGNORED), None);
    }

    #[test]
    fn a_write_under_a_watched_directory_is_seen_with_its_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let ring = Arc::new(Ring::new("file_events", 100));
        let stop = Arc::new(AtomicBool::new(false));
        let collector = {
            let (ring, stop, root) = (ring.clone(), stop.clone(), dir.path().to_path_buf());
            std::thread::spawn(move || collect(ring, stop, vec![root], true, || {}))
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        let file = dir.path().join("sub/sshd_config");
        std::fs::write(&file, b"abc").unwrap();
        let mut seen = Vec::new();
        for _ in 0..50 {
            seen = ring.since(0).0;
            if seen.iter().any(|e| e.action == "UPDATED") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
        collector.join().unwrap().unwrap();
        let updated = seen
            .iter()
            .find(|e| e.action == "UPDATED")
            .expect("UPDATED");
        assert_eq!(updated.target_path, file.display().to_string());
        assert_eq!(updated.category, dir.path().display().to_string());
        assert_eq!(
            updated.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!((updated.hashed, updated.size), (1, 3));
        assert!(seen.iter().any(|e| e.action == "CREATED"));
    }
}
