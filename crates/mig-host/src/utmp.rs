//! Login records: utmp (who is logged in now) and wtmp (logins and logouts), glibc's
//! fixed-size `struct utmp` on 64-bit Linux.

/// Where utmp may be, the current location first.
pub const UTMP_PATHS: &[&str] = &["/run/utmp", "/var/run/utmp"];
/// Where wtmp is.
pub const WTMP_PATHS: &[&str] = &["/var/log/wtmp"];

/// glibc's record: 384 bytes on x86_64 and aarch64.
const RECORD: usize = 384;

/// `ut_type` RUN_LVL (utmp.h): the runlevel changed.
pub const RUN_LVL: i16 = 1;
/// `ut_type` BOOT_TIME: the system booted.
pub const BOOT_TIME: i16 = 2;
/// `ut_type` USER_PROCESS: a user logged in.
pub const USER_PROCESS: i16 = 7;
/// `ut_type` DEAD_PROCESS: a session ended (a logout).
pub const DEAD_PROCESS: i16 = 8;

/// One utmp or wtmp record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The record's `ut_type` (see [`type_name`]).
    pub kind: i16,
    /// The process ID of the login process.
    pub pid: i32,
    /// The terminal, without `/dev/` (`pts/0`, `tty1`).
    pub line: String,
    /// The user name (for boot records, `reboot`).
    pub user: String,
    /// The remote host of a remote login; for boot records, the kernel release.
    pub host: String,
    /// When the record was written, in seconds since the Unix epoch.
    pub time: i64,
}

/// utmp.h's name for a `ut_type`, as osquery writes it.
pub fn type_name(kind: i16) -> &'static str {
    match kind {
        0 => "empty",
        1 => "runlevel",
        2 => "boottime",
        3 => "new_time",
        4 => "old_time",
        5 => "init",
        6 => "login",
        7 => "user",
        8 => "dead",
        9 => "accounting",
        _ => "unknown",
    }
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Every whole record in `data`; a torn record at the end is ignored.
pub fn parse(data: &[u8]) -> Vec<Record> {
    data.chunks_exact(RECORD)
        .map(|r| {
            let i16_at = |o: usize| i16::from_ne_bytes([r[o], r[o + 1]]);
            let i32_at = |o: usize| i32::from_ne_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
            Record {
                kind: i16_at(0),
                pid: i32_at(4),
                line: c_string(&r[8..40]),
                user: c_string(&r[44..76]),
                host: c_string(&r[76..332]),
                time: i64::from(i32_at(340)),
            }
        })
        .collect()
}

/// The records of the first of `paths` that exists; `Ok(empty)` when none does.
pub fn read(paths: &[&str]) -> Result<Vec<Record>, String> {
    for p in paths {
        match std::fs::read(p) {
            Ok(data) => return Ok(parse(&data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{p}: {e}")),
        }
    }
    Ok(Vec::new())
}

/// A record in glibc's 384-byte layout, the inverse of [`parse`], for the tests.
#[cfg(test)]
pub fn encode(r: &Record) -> Vec<u8> {
    let mut b = vec![0u8; RECORD];
    b[0..2].copy_from_slice(&r.kind.to_ne_bytes());
    b[4..8].copy_from_slice(&r.pid.to_ne_bytes());
    b[8..8 + r.line.len()].copy_from_slice(r.line.as_bytes());
    b[44..44 + r.user.len()].copy_from_slice(r.user.as_bytes());
    b[76..76 + r.host.len()].copy_from_slice(r.host.as_bytes());
    b[340..344].copy_from_slice(&(r.time as i32).to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let a = Record {
            kind: USER_PROCESS,
            pid: 4242,
            line: "pts/0".into(),
            user: "alice".into(),
            host: "10.0.0.9".into(),
            time: 1_700_000_000,
        };
        let mut data = encode(&a);
        data.extend(encode(&Record {
            kind: BOOT_TIME,
            line: "~".into(),
            user: "reboot".into(),
            ..Default::default()
        }));
        data.extend([1, 2, 3]);
        let r = parse(&data);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], a);
        assert_eq!(type_name(r[1].kind), "boottime");
    }
}
