//! Reading another process's memory: its mapped regions from /proc/PID/maps, their bytes
//! from /proc/PID/mem, one bounded chunk at a time (never the whole process at once).
//!
//! Used by the memory module and by yara's process scans. The kernel lets us read
//! /proc/PID/mem when we could ptrace the process (same user, or CAP_SYS_PTRACE); no ptrace
//! call is made, so the process is never stopped.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;

/// One readable mapping of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The region's first address.
    pub start: u64,
    /// The address just past the region.
    pub end: u64,
    /// The mapped file, `[heap]`, `[stack]`…, or empty for anonymous memory.
    pub path: String,
}

/// Mappings the kernel refuses to hand out through /proc/PID/mem, or that are not the
/// process's own data.
const SKIPPED: &[&str] = &["[vvar]", "[vvar_vclock]", "[vsyscall]"];

/// The readable regions of /proc/PID/maps text, in address order.
pub fn parse_regions(maps: &str) -> Vec<Region> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.splitn(6, char::is_whitespace);
            let (start, end) = f.next()?.split_once('-')?;
            let readable = f.next()?.starts_with('r');
            let path = f.nth(3).unwrap_or("").trim_start();
            let region = Region {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                path: path.to_string(),
            };
            // Offsets above i64::MAX cannot be passed to pread.
            let addressable = region.end <= i64::MAX as u64 && region.start < region.end;
            (readable && addressable && !SKIPPED.contains(&path)).then_some(region)
        })
        .collect()
}

/// The readable regions of a process.
pub fn regions(pid: u32) -> io::Result<Vec<Region>> {
    Ok(parse_regions(&std::fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

/// The process's name as MIG's memory module reports it: the resolved path of its
/// executable, or `[comm]` as ps(1) shows processes without one (kernel threads, and those
/// whose executable was deleted); `None` when the process is gone.
pub fn process_name(pid: u32) -> io::Result<Option<String>> {
    let exe = format!("/proc/{pid}/exe");
    // Reading the link is what the kernel may refuse; kernel threads have none.
    if crate::optional(&exe, |p| std::fs::read_link(p))?.is_some() {
        // The link's path resolved here, in the agent's mount namespace: a deleted executable
        // (or one of another mount namespace) does not resolve, and is named by its command.
        if let Ok(path) = std::fs::canonicalize(&exe) {
            return Ok(Some(path.to_string_lossy().into_owned()));
        }
    }
    Ok(crate::process::status(pid)?.map(|s| format!("[{}]", s.name)))
}

/// How a walk went: what was read and what could not be.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WalkStats {
    /// Bytes read from the process's memory, overlaps counted once.
    pub bytes_read: u64,
    /// Regions (or parts of them) that could not be read, with the reason.
    pub failures: Vec<String>,
}

/// How to walk a process's memory.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Bytes read at once.
    pub chunk: usize,
    /// Bytes of the previous chunk kept in front of the next one when the two are adjacent
    /// in memory, so that a match this long or shorter across the seam is still whole.
    pub overlap: usize,
    /// First address to read.
    pub start: u64,
    /// Stop after reading this many bytes.
    pub max_bytes: u64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            chunk: 1 << 20,
            overlap: 4096,
            start: 0,
            max_bytes: u64::MAX,
        }
    }
}

/// Calls `visit(address, data)` for consecutive windows of the process's readable memory:
/// `data` starts at `address`, and its first bytes repeat the end of the previous window when
/// that window ended where this one starts (contiguous regions included). `visit` returns
/// `Break` to stop the walk. Unreadable regions are skipped and counted.
pub fn walk(
    pid: u32,
    regions: &[Region],
    opts: WalkOptions,
    mut visit: impl FnMut(u64, &[u8]) -> ControlFlow<()>,
) -> io::Result<WalkStats> {
    let mem = File::open(format!("/proc/{pid}/mem"))?;
    let chunk = opts.chunk.max(1);
    let overlap = opts.overlap.min(chunk);
    let mut buf = vec![0u8; overlap + chunk];
    let mut stats = WalkStats::default();
    // Where the bytes kept in buf[..carried] end in memory.
    let mut carried = 0usize;
    let mut carried_end = 0u64;
    for region in regions {
        let mut addr = region.start.max(opts.start);
        while addr < region.end {
            if stats.bytes_read >= opts.max_bytes {
                return Ok(stats);
            }
            if addr != carried_end {
                carried = 0;
            }
            let left = (region.end - addr).min(opts.max_bytes - stats.bytes_read);
            let want = (chunk as u64).min(left) as usize;
            let n = match read_fully(&mem, &mut buf[carried..carried + want], addr) {
                Ok(0) => {
                    stats.failures.push(format!(
                        "{:#x}-{:#x} {}: nothing could be read",
                        addr, region.end, region.path
                    ));
                    carried = 0;
                    break;
                }
                Ok(n) => n,
                Err(e) => {
                    stats.failures.push(format!(
                        "{:#x}-{:#x} {}: {}",
                        addr,
                        region.end,
                        region.path,
                        crate::error_text(&e)
                    ));
                    carried = 0;
                    break;
                }
            };
            stats.bytes_read += n as u64;
            let window = &buf[..carried + n];
            let window_start = addr - carried as u64;
            if visit(window_start, window).is_break() {
                return Ok(stats);
            }
            addr += n as u64;
            carried_end = addr;
            // Keep the tail for the next window.
            let keep = overlap.min(carried + n);
            buf.copy_within(carried + n - keep..carried + n, 0);
            carried = keep;
            if n < want {
                // A short read: the rest of the region is not readable.
                stats.failures.push(format!(
                    "{:#x}-{:#x} {}: only partly readable",
                    addr, region.end, region.path
                ));
                carried = 0;
                break;
            }
        }
    }
    Ok(stats)
}

/// Reads until `buf` is full or the kernel has no more at that address.
fn read_fully(mem: &File, buf: &mut [u8], addr: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match mem.read_at(&mut buf[done..], addr + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // What was read before the error is good: the caller reports the rest.
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Process IDs, from /proc, without this process and the agent that started it: both hold
/// the module's search terms in memory and would always match them. An error when /proc
/// cannot be listed, or when the parent cannot be told from another agent.
pub fn inspectable_pids() -> io::Result<Vec<u32>> {
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    let my_name = process_name(me)?;
    let parent_is_agent = my_name.is_some() && process_name(parent)? == my_name;
    Ok(super::net::pids()?
        .into_iter()
        .filter(|p| *p != me && !(parent_is_agent && *p == parent))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_readable_regions_only() {
        let maps = "\
55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
7f00aa000000-7f00aa001000 ---p 00000000 00:00 0
7f00aa001000-7f00aa002000 r-xp 00001000 fd:01 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6
7ffc1b3f0000-7ffc1b3f4000 r--p 00000000 00:00 0                          [vvar]
7ffc1b3f4000-7ffc1b3f6000 rw-p 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";
        let r = parse_regions(maps);
        assert_eq!(
            r,
            vec![
                Region {
                    start: 0x55d0c0a00000,
                    end: 0x55d0c0a21000,
                    path: "[heap]".into()
                },
                Region {
                    start: 0x7f00aa001000,
                    end: 0x7f00aa002000,
                    path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into()
                },
                Region {
                    start: 0x7ffc1b3f4000,
                    end: 0x7ffc1b3f6000,
                    path: String::new()
                },
            ]
        );
    }

    /// Our own memory, walked in tiny chunks: a marker that straddles chunk boundaries is
    /// still seen whole thanks to the overlap.
    #[test]
    fn windows_overlap_across_chunks() {
        let marker: Vec<u8> = (0..64u8).map(|i| b'A' + (i % 26)).collect();
        let mut heap = vec![0u8; 64 * 1024];
        let at = 4096 * 3 - 20; // straddles a 4096-byte chunk boundary
        heap[at..at + marker.len()].copy_from_slice(&marker);
        let base = heap.as_ptr() as u64;
        let region = Region {
            start: base,
            end: base + heap.len() as u64,
            path: String::new(),
        };
        let opts = WalkOptions {
            chunk: 4096,
            overlap: marker.len(),
            ..Default::default()
        };
        let mut found = None;
        let stats = walk(std::process::id(), &[region], opts, |addr, data| {
            if let Some(i) = memchr::memmem::find(data, &marker) {
                found = Some(addr + i as u64);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(found, Some(base + at as u64));
        assert!(stats.bytes_read >= at as u64);
        std::hint::black_box(&heap);
    }

    #[test]
    fn max_bytes_and_start_bound_the_walk() {
        let heap = vec![7u8; 32 * 1024];
        let base = heap.as_ptr() as u64;
        let region = Region {
            start: base,
            end: base + heap.len() as u64,
            path: String::new(),
        };
        let opts = WalkOptions {
            chunk: 4096,
            overlap: 0,
            start: base + 8192,
            max_bytes: 10_000,
        };
        let mut first = None;
        let stats = walk(std::process::id(), &[region], opts, |addr, _| {
            first.get_or_insert(addr);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(first, Some(base + 8192));
        assert_eq!(stats.bytes_read, 10_000);
    }

    #[test]
    fn names_processes_as_mig_does() {
        let me = process_name(std::process::id()).unwrap().unwrap();
        assert!(me.starts_with('/'), "{me}");
        // Kernel threads have no executable: ps(1)'s bracketed name instead.
        let kthread = crate::net::pids().unwrap().into_iter().find(|p| {
            std::fs::read_link(format!("/proc/{p}/exe"))
                .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        });
        if let Some(k) = kthread.and_then(|p| process_name(p).unwrap()) {
            assert!(k.starts_with('[') && k.ends_with(']'), "{k}");
        }
    }
}
