//! Mounted filesystems (/proc/self/mounts) and their usage (statvfs).

use std::ffi::CString;

/// One line of /proc/self/mounts: a mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    /// What is mounted: a block device, a remote export (`server:/x`) or a pseudo-filesystem's
    /// name.
    pub device: String,
    /// Where it is mounted, octal escapes decoded.
    pub path: String,
    /// The filesystem type (`ext4`, `nfs`, `tmpfs`).
    pub fstype: String,
    /// The mount options, comma-separated as the kernel writes them (`rw,relatime`).
    pub options: String,
}

/// The kernel writes spaces, tabs, newlines and backslashes in paths as octal escapes.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts listed in the text of a /proc/self/mounts file; lines of fewer than four fields
/// are skipped.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(Mount {
                device: unescape(f[0]),
                path: unescape(f[1]),
                fstype: f[2].to_string(),
                options: f[3].to_string(),
            })
        })
        .collect()
}

/// The filesystems mounted in this process's mount namespace, from /proc/self/mounts.
pub fn mounts() -> Result<Vec<Mount>, String> {
    std::fs::read_to_string("/proc/self/mounts")
        .map(|t| parse_mounts(&t))
        .map_err(|e| format!("/proc/self/mounts: {e}"))
}

/// A filesystem's size and free space, as statvfs reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// The filesystem's block size in bytes (`f_bsize`).
    pub block_size: u64,
    /// Size of the filesystem in blocks (`f_blocks`).
    pub blocks: u64,
    /// Free blocks, including those reserved for root (`f_bfree`).
    pub blocks_free: u64,
    /// Free blocks an unprivileged user may use (`f_bavail`).
    pub blocks_available: u64,
    /// Total inodes (`f_files`).
    pub inodes: u64,
    /// Free inodes (`f_ffree`).
    pub inodes_free: u64,
}

/// statvfs(path); `None` when the filesystem does not answer (gone, or no permission).
pub fn usage(path: &str) -> Option<Usage> {
    let c = CString::new(path).ok()?;
    // SAFETY: statvfs is plain old data: all zeroes is a valid value.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs writes into the struct we pass; the path is NUL-terminated.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(Usage {
        block_size: s.f_bsize as u64,
        blocks: s.f_blocks as u64,
        blocks_free: s.f_bfree as u64,
        blocks_available: s.f_bavail as u64,
        inodes: s.f_files as u64,
        inodes_free: s.f_ffree as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_lines_with_escapes() {
        let m = parse_mounts(
            "/dev/sda1 / ext4 rw,relatime 0 0\nserver:/x /mnt/my\\040disk nfs ro 0 0\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].path, "/mnt/my disk");
        assert_eq!(m[0].options, "rw,relatime");
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("end\\"), "end\\");
    }

    #[test]
    fn an_escape_at_the_very_end_is_decoded() {
        assert_eq!(unescape(r"/mnt/trailing\040"), "/mnt/trailing ");
        assert_eq!(unescape(r"a\9b\04"), r"a\9b\04");
    }

    #[test]
    fn root_is_mounted_and_has_blocks() {
        assert!(mounts().unwrap().iter().any(|m| m.path == "/"));
        assert!(usage("/").unwrap().blocks > 0);
    }
}
