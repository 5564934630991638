//! The agent's resident memory at rest is mostly its own code: every module is linked into the
//! one binary (the sandboxed children are the same executable), and the kernel maps code in
//! 64 KiB windows around each page the process touches. Once the daemon is connected, the code
//! that loaded its configuration, keys and TLS settings is not needed again, so the agent asks
//! the kernel to reclaim the pages of its executable now rather than under memory pressure
//! (`MADV_PAGEOUT`). The pages the idle loop uses come straight back; the rest stay out until
//! something runs them. Nothing is lost: clean file pages are re-read from the executable, and
//! pages the process wrote (relocated data) are only ever swapped, never discarded.

use std::sync::Once;

/// Releases the executable's resident pages, once per process; later calls do nothing.
pub fn release_startup_code() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = page_out_executable() {
            tracing::debug!("cannot release startup code: {e}");
        }
    });
}

#[cfg(target_os = "linux")]
fn page_out_executable() -> std::io::Result<()> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let exe = exe.to_string_lossy();
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    for (start, end) in executable_mappings(&maps, &exe) {
        // SAFETY: MADV_PAGEOUT only changes residency, never contents, of a range this
        // process has mapped (read from its own maps file).
        let done =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
        // Kernels before 5.4 do not know the advice (EINVAL): the pages simply stay.
        if done != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn page_out_executable() -> std::io::Result<()> {
    Ok(())
}

/// The address ranges of `/proc/self/maps` lines that map `exe`.
fn executable_mappings(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let path = fields.nth(4)?;
            if path != exe {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_the_executables_mappings() {
        let maps = "\
556dc380d000-556dc3d74000 r--p 00000000 00:2a 123 /usr/sbin/mig-agent
556dc3d74000-556dc4cb6000 r-xp 00566000 00:2a 123 /usr/sbin/mig-agent
556df5200000-556df5263000 rw-p 00000000 00:00 0 [heap]
7f34615a7000-7f34616fd000 r-xp 00026000 00:2a 9 /usr/lib/x86_64-linux-gnu/libc.so.6
7f346135d000-7f346137e000 rw-p 00000000 00:00 0
";
        assert_eq!(
            executable_mappings(maps, "/usr/sbin/mig-agent"),
            vec![
                (0x556dc380d000, 0x556dc3d74000),
                (0x556dc3d74000, 0x556dc4cb6000)
            ]
        );
    }
}
