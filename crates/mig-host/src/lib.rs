//! Facts about the machine, read from the kernel (`/proc`, `/sys`, netlink) and from the
//! system's own databases (dpkg, RPM, apk, passwd, utmp): what the investigation modules and
//! the query module's tables are built on. Nothing here changes the machine.
//!
//! This is where another operating system would plug in.

#![warn(missing_docs, unreachable_pub)]

pub mod der;
pub mod docker;
pub mod elf;
pub mod hash;
pub mod http;
pub mod magic;
pub mod mounts;
pub mod net;
pub mod netlink;
pub mod packages;
pub mod process;
pub mod procmem;
pub mod system;
pub mod unix;
pub mod users;
pub mod utmp;
pub mod xattr;

use std::io;
use std::path::Path;

/// An I/O error in the words Go prints (`open /x: no such file or directory`, not Rust's
/// `No such file or directory (os error 2)`): MIG's results quote them.
pub fn error_text(e: &io::Error) -> String {
    let text = e.to_string();
    // Rust appends " (os error N)" to strerror's text; Go prints the lower-cased text alone.
    let text = match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => &text[..i],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `e`, with the path it happened on in front of its text (`/proc/cpuinfo: permission
/// denied`) and its kind kept, so that a caller can both quote it and tell a refusal from an
/// absence.
pub fn path_error(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {}", path.display(), error_text(e)))
}

/// A failure that means "it is not there": no such file; ENOTDIR, a path through a file,
/// which cannot exist either; or ESRCH, which /proc answers for a process that exited while
/// its entry was being read.
fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ESRCH))
}

/// `read(path)` for something that may rightly not exist (a process that exits between being
/// listed and being read, a kernel table or a configuration file the machine does not have):
/// `None` when it is not there; an error naming the path for any other failure, since a
/// refused or failed read must not read as "there is none".
pub fn optional<T>(
    path: impl AsRef<Path>,
    read: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<Option<T>> {
    let path = path.as_ref();
    match read(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(path_error(path, &e)),
    }
}

/// `read(path)` for something every Linux machine has (`/proc`, `/proc/meminfo`): any failure,
/// its absence included, is an error naming the path.
pub fn required<T>(
    path: impl AsRef<Path>,
    read: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<T> {
    let path = path.as_ref();
    read(path).map_err(|e| path_error(path, &e))
}

/// The error for a file whose text is not what the kernel writes there.
pub fn unexpected(path: impl AsRef<Path>, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.as_ref().display()),
    )
}

/// A kernel table from /proc or /sys: its text; empty when the kernel does not have it (no
/// IPv6, no such protocol: nothing to list); an error naming the file for any other failure
/// (a permission refused must not read as "there is none").
pub fn read_table(path: &Path) -> io::Result<String> {
    Ok(optional(path, |p| std::fs::read_to_string(p))?.unwrap_or_default())
}

/// What was gathered over every process, and the processes that could not be read. One
/// process refusing (EACCES under a restrictive security module, EIO) does not hide the
/// others, nor is it taken for one that exited meanwhile (those are simply not there).
#[derive(Debug, Default)]
pub struct Gathered<T> {
    /// What could be read.
    pub value: T,
    /// The failures, each naming the file it happened on.
    pub errors: Vec<io::Error>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails_with<T>(e: io::Error) -> impl FnOnce(&Path) -> io::Result<T> {
        move |_| Err(e)
    }

    #[test]
    fn absence_is_none_and_any_other_failure_an_error_naming_the_path() {
        let gone = |e: io::Error| optional("/proc/42/stat", fails_with::<()>(e));
        assert!(gone(io::ErrorKind::NotFound.into()).unwrap().is_none());
        for errno in [libc::ESRCH, libc::ENOTDIR] {
            assert!(gone(io::Error::from_raw_os_error(errno)).unwrap().is_none());
        }
        for errno in [libc::EACCES, libc::EIO, libc::EPERM, libc::EISDIR] {
            let err = gone(io::Error::from_raw_os_error(errno)).unwrap_err();
            let raw = io::Error::from_raw_os_error(errno);
            assert_eq!(err.kind(), raw.kind());
            assert_eq!(
                err.to_string(),
                format!("/proc/42/stat: {}", error_text(&raw))
            );
        }
        let err = required(
            "/proc/meminfo",
            fails_with::<()>(io::ErrorKind::NotFound.into()),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with("/proc/meminfo: "), "{err}");
    }

    #[test]
    fn real_files_missing_refused_and_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let read = |p: &Path| optional(p, |p| std::fs::read_to_string(p));
        let missing = dir.path().join("missing");
        assert!(read(&missing).unwrap().is_none());
        assert_eq!(read_table(&missing).unwrap(), "");
        assert!(required(&missing, |p| std::fs::read_to_string(p)).is_err());

        let file = dir.path().join("file");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(read(&file).unwrap().as_deref(), Some("text"));
        // A path through a file cannot exist.
        assert!(read(&file.join("below")).unwrap().is_none());

        // A directory read as a file (EISDIR) is a failure, not an absence.
        let err = read(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: is a directory", dir.path().display())
        );
        assert!(read_table(dir.path()).is_err());

        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Root reads a mode-000 file anyway: only others see the refusal.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
            let err = read(&file).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
            assert_eq!(
                err.to_string(),
                format!("{}: permission denied", file.display())
            );
        }
    }
}
