//! `testescape`: an exploited module. Run under a real module's sandbox (the agent's test
//! suite names which, see `mig-agent`'s module mode), it tries every way out it can think of
//! and reports, per attempt, whether the kernel let it through. A new gap in the sandbox is
//! a red test, not a silent one.
//!
//! An attempt is `denied` only when the kernel refused it for permission (EPERM from the
//! system-call filter, EACCES from landlock or file permissions). Any other error means the
//! call got past the sandbox and failed for another reason: reported as such, and the test
//! treats it as a way out.

use crate::{Context, Module, ModuleError, Report};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::ffi::CString;

/// What the test prepared outside the sandbox.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Default)]
#[serde(default)]
pub struct Params {
    /// A root-owned file the module must not change.
    pub target: String,
    /// A directory the module must not create anything in.
    pub dir: String,
    /// A process the module must not signal, trace or write into.
    pub victim: i32,
    /// `target`'s file handle (from name_to_handle_at, made outside), hex, and its type.
    pub handle: String,
    /// The handle's type (from name_to_handle_at).
    pub handle_type: i32,
}

/// The exploited-module fixture.
pub struct Escape;

impl Module for Escape {
    const NAME: &'static str = "testescape";
    const ABOUT: &'static str = "test fixture: an exploited module trying every way out";
    type Params = Params;
    type Plan = Params;
    type Elements = Value;
    type Statistics = Value;
    const FLAGS: &'static [crate::flags::Flag] = &[];

    fn validate(p: &Params) -> Result<Params, ModuleError> {
        Ok(p.clone())
    }
    fn run(p: &Params, _: &Context) -> Result<Report<Value, Value>, ModuleError> {
        Ok(Report {
            foundanything: true,
            elements: Value::Object(attempts(p)),
            statistics: Value::Null,
            errors: vec![],
        })
    }
    fn parse_flags(_: &[String]) -> Result<Params, ModuleError> {
        Ok(Params::default())
    }
    fn pretty(r: &Report<Value, Value>, _: bool) -> Vec<String> {
        vec![r.elements.to_string()]
    }
}

/// A system call's return value, as the attempt's outcome.
fn outcome(ret: i64) -> String {
    if ret >= 0 {
        return "allowed".into();
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EPERM) => "denied (EPERM)".into(),
        Some(libc::EACCES) => "denied (EACCES)".into(),
        _ => format!("not denied: {e}"),
    }
}

fn c(path: &str) -> CString {
    CString::new(path).unwrap_or_default()
}

fn attempts(p: &Params) -> Map<String, Value> {
    let mut out = Map::new();
    let mut record = |name: &str, ret: i64| {
        out.insert(name.to_string(), json!(outcome(ret)));
    };
    let target = c(&p.target);
    let in_dir = |name: &str| c(&format!("{}/{name}", p.dir));
    // SAFETY: plain system calls on paths and buffers owned here (the whole block); their
    // results are only reported. This module exists to make calls a sandbox must refuse.
    unsafe {
        // Writing files, every way there is.
        record(
            "open for writing",
            libc::open(target.as_ptr(), libc::O_WRONLY) as i64,
        );
        record(
            "open for appending",
            libc::open(target.as_ptr(), libc::O_RDONLY | libc::O_APPEND) as i64,
        );
        record(
            "open and truncate",
            libc::open(target.as_ptr(), libc::O_RDONLY | libc::O_TRUNC) as i64,
        );
        record(
            "create a file",
            libc::open(
                in_dir("new").as_ptr(),
                libc::O_CREAT | libc::O_WRONLY,
                0o644,
            ) as i64,
        );
        record(
            "open an unnamed temporary file",
            libc::open(c(&p.dir).as_ptr(), libc::O_TMPFILE | libc::O_RDWR, 0o644) as i64,
        );
        // struct open_how: flags, mode, resolve.
        let how: [u64; 3] = [libc::O_WRONLY as u64, 0, 0];
        record(
            "openat2 for writing",
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                target.as_ptr(),
                how.as_ptr(),
                std::mem::size_of_val(&how),
            ),
        );
        let root = libc::open(c("/").as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        let handle = hex(&p.handle);
        let mut buf = vec![0u8; 8 + handle.len()];
        buf[..4].copy_from_slice(&(handle.len() as u32).to_ne_bytes());
        buf[4..8].copy_from_slice(&p.handle_type.to_ne_bytes());
        buf[8..].copy_from_slice(&handle);
        record(
            "open_by_handle_at for writing",
            libc::syscall(
                libc::SYS_open_by_handle_at,
                root,
                buf.as_mut_ptr(),
                libc::O_RDWR,
            ),
        );
        record(
            "rename",
            libc::rename(target.as_ptr(), c(&format!("{}.moved", p.target)).as_ptr()) as i64,
        );
        record("mkdir", libc::mkdir(in_dir("sub").as_ptr(), 0o755) as i64);
        record(
            "mknod",
            libc::mknod(in_dir("fifo").as_ptr(), libc::S_IFIFO | 0o644, 0) as i64,
        );
        record(
            "link",
            libc::link(target.as_ptr(), in_dir("hard").as_ptr()) as i64,
        );
        record(
            "symlink",
            libc::symlink(target.as_ptr(), in_dir("sym").as_ptr()) as i64,
        );
        record("chmod", libc::chmod(target.as_ptr(), 0o777) as i64);
        record(
            "fchmodat2",
            libc::syscall(
                libc::SYS_fchmodat2,
                libc::AT_FDCWD,
                target.as_ptr(),
                0o777,
                0,
            ),
        );
        record("chown", libc::chown(target.as_ptr(), 65534, 65534) as i64);
        record("truncate", libc::truncate(target.as_ptr(), 0) as i64);
        let fd = libc::open(target.as_ptr(), libc::O_RDONLY);
        record(
            "fchmod on a descriptor open for reading",
            libc::fchmod(fd, 0o777) as i64,
        );
        record(
            "fchown on a descriptor open for reading",
            libc::fchown(fd, 65534, 65534) as i64,
        );
        let value = b"x";
        record(
            "setxattr",
            libc::setxattr(
                target.as_ptr(),
                c("user.escape").as_ptr(),
                value.as_ptr().cast(),
                1,
                0,
            ) as i64,
        );
        let times = [
            libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        ];
        record(
            "utimensat",
            libc::utimensat(libc::AT_FDCWD, target.as_ptr(), times.as_ptr(), 0) as i64,
        );
        // Last of the file attempts: agentdestroy's class may remove files.
        record("unlink", libc::unlink(target.as_ptr()) as i64);
        // Executing anything (a file that is not executable: the kernel would say EACCES,
        // the filter says EPERM first).
        let argv = [target.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        let ret = libc::execve(target.as_ptr(), argv.as_ptr(), envp.as_ptr()) as i64;
        out_exec(&mut record, ret);
        record(
            "memfd_create",
            libc::syscall(libc::SYS_memfd_create, c("x").as_ptr(), 0),
        );

        // Sockets of every family.
        for (name, family) in [
            ("socket AF_UNIX", libc::AF_UNIX),
            ("socket AF_NETLINK", libc::AF_NETLINK),
            ("socket AF_INET", libc::AF_INET),
            ("socket AF_INET6", libc::AF_INET6),
            ("socket AF_PACKET", libc::AF_PACKET),
        ] {
            let kind = if family == libc::AF_NETLINK || family == libc::AF_PACKET {
                libc::SOCK_RAW
            } else {
                libc::SOCK_DGRAM
            };
            record(name, libc::socket(family, kind, 0) as i64);
        }

        // Other processes.
        record("kill", libc::kill(p.victim, libc::SIGCONT) as i64);
        record(
            "ptrace attach",
            libc::ptrace(libc::PTRACE_ATTACH, p.victim, 0, 0),
        );
        record(
            "ptrace traceme",
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0),
        );
        let mut byte = 0u8;
        let local = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 1,
        };
        // The write's destination is an address nothing maps: a call the filter let
        // through fails with EFAULT, which is "not denied".
        let remote = libc::iovec {
            iov_base: 8 as *mut libc::c_void,
            iov_len: 1,
        };
        record(
            "process_vm_writev",
            libc::process_vm_writev(p.victim, &local, 1, &remote, 1, 0) as i64,
        );
        let pidfd = libc::syscall(libc::SYS_pidfd_open, p.victim, 0);
        record("pidfd_open", pidfd);
        record(
            "pidfd_getfd",
            libc::syscall(libc::SYS_pidfd_getfd, pidfd, 0, 0),
        );
        record(
            "fork",
            libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0),
        );

        // Privileges, namespaces, the kernel.
        // struct __user_cap_header_struct (version 3), then two all-ones data structs.
        let mut header: [u32; 2] = [0x2008_0522, 0];
        let data = [u32::MAX; 6];
        record(
            "capset (regain every capability)",
            libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()),
        );
        record("setuid", libc::syscall(libc::SYS_setuid, 0));
        record(
            "unshare a user namespace",
            libc::unshare(libc::CLONE_NEWUSER) as i64,
        );
        record("chroot", libc::chroot(c(&p.dir).as_ptr()) as i64);
        record(
            "mount",
            libc::mount(
                c("none").as_ptr(),
                c(&p.dir).as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                std::ptr::null(),
            ) as i64,
        );
        let mut params = [0u8; 120];
        record(
            "io_uring_setup",
            libc::syscall(libc::SYS_io_uring_setup, 1, params.as_mut_ptr()),
        );
        record(
            "bpf",
            libc::syscall(libc::SYS_bpf, 0, std::ptr::null::<u8>(), 0),
        );
        record("userfaultfd", libc::syscall(libc::SYS_userfaultfd, 0));
        record(
            "setrlimit",
            libc::setrlimit(
                libc::RLIMIT_NOFILE,
                &libc::rlimit {
                    rlim_cur: 16,
                    rlim_max: 16,
                },
            ) as i64,
        );
        record(
            "ioctl TIOCSTI",
            libc::ioctl(0, libc::TIOCSTI, c("x").as_ptr()) as i64,
        );
    }
    out
}

/// execve's outcome: EACCES here is the kernel refusing a file that is not executable, which
/// means the filter let the call through.
fn out_exec(record: &mut impl FnMut(&str, i64), ret: i64) {
    let e = std::io::Error::last_os_error();
    if ret < 0 && e.raw_os_error() == Some(libc::EACCES) {
        // Re-raise as a non-permission error so that it reads "not denied".
        // SAFETY: writing errno for the next outcome() call.
        unsafe { *libc::__errno_location() = libc::ENOEXEC };
    }
    record("execve", ret);
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
