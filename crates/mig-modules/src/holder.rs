//! A child process holding known markers in its memory, for the memory and yara modules'
//! tests: this same test binary, running only [`memory_test_child_holds_markers`].

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Set in the child that holds the markers; the values are hex so that the raw markers exist
/// only in the child's heap (and in a mapping that straddles two regions).
const CHILD_HEAP: &str = "MIG_MEMORY_TEST_HEAP_HEX";
const CHILD_SEAM: &str = "MIG_MEMORY_TEST_SEAM_HEX";

pub(crate) use crate::file::hash::hex;

/// A marker made at run time, so that it is in no binary.
pub(crate) fn marker(tag: &str) -> Vec<u8> {
    format!("mig-{tag}-{:016x}-{}", rand_u64(), std::process::id()).into_bytes()
}

fn rand_u64() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32)
}

/// Not a real test: the body of the child process that `spawn_holder` starts (this same test
/// binary, running only this function).
#[test]
fn memory_test_child_holds_markers() {
    let (Ok(heap_hex), Ok(seam_hex)) = (std::env::var(CHILD_HEAP), std::env::var(CHILD_SEAM))
    else {
        return;
    };
    let heap = crate::memory::decode_hex(&heap_hex).unwrap();
    let seam = crate::memory::decode_hex(&seam_hex).unwrap();
    // Two adjacent pages with different protections are two regions of /proc/PID/maps; the
    // seam marker starts in the first and ends in the second.
    let page = 4096usize;
    // SAFETY: a fresh anonymous mapping, written within its bounds, then made read-only.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        assert_ne!(p as *mut libc::c_void, libc::MAP_FAILED);
        let at = page - seam.len() / 2;
        std::ptr::copy_nonoverlapping(seam.as_ptr(), p.add(at), seam.len());
        assert_eq!(
            libc::mprotect(p.add(page) as *mut libc::c_void, page, libc::PROT_READ),
            0
        );
    }
    drop(seam);
    println!("ready");
    // Keep the heap copy alive until the parent kills us (or a minute passes).
    std::thread::sleep(std::time::Duration::from_secs(60));
    std::hint::black_box(&heap);
}

pub(crate) struct Holder {
    pub child: Child,
    pub heap: Vec<u8>,
    pub seam: Vec<u8>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn spawn_holder() -> Holder {
    let (heap, seam) = (marker("heap"), marker("seam"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "holder::memory_test_child_holds_markers",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_HEAP, hex(&heap))
        .env(CHILD_SEAM, hex(&seam))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("ready") {
        line.clear();
    }
    assert!(line.contains("ready"), "the child did not start");
    Holder { child, heap, seam }
}
