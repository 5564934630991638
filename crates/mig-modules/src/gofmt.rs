//! Values printed the way MIG's Go code prints them, so results read the same.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Go's `time.Duration.String()`: `2.017849ms`, `1m30.5s`, `0s`.
pub(crate) fn duration(d: Duration) -> String {
    mig_core::gotime::format_duration(d)
}

/// Go's `os.FileMode.String()` for a Unix `st_mode`: `-rwxr-xr-x`, `drwxr-xr-x`,
/// `urwxr-xr-x` (setuid), `Lrwxrwxrwx` (symlink), `Dcrw-rw-rw-` (character device).
pub(crate) fn file_mode(st_mode: u32) -> String {
    const S_IFMT: u32 = 0o170000;
    let mut s = String::with_capacity(12);
    // Go's type letters, in Go's order: d a l T L D p S u g c t ?
    let kind = st_mode & S_IFMT;
    let letters = [
        ('d', kind == 0o040000),
        ('L', kind == 0o120000),
        ('D', kind == 0o060000 || kind == 0o020000),
        ('p', kind == 0o010000),
        ('S', kind == 0o140000),
        ('u', st_mode & 0o4000 != 0),
        ('g', st_mode & 0o2000 != 0),
        ('c', kind == 0o020000),
        ('t', st_mode & 0o1000 != 0),
    ];
    s.extend(letters.iter().filter(|(_, set)| *set).map(|(c, _)| *c));
    if s.is_empty() {
        s.push('-');
    }
    const RWX: &[u8; 9] = b"rwxrwxrwx";
    for (i, c) in RWX.iter().enumerate() {
        s.push(if st_mode & (1 << (8 - i)) != 0 {
            *c as char
        } else {
            '-'
        });
    }
    s
}

/// Go's `time.Time.String()` in UTC: `2015-02-07 01:51:07.17850601 +0000 UTC`.
pub(crate) fn time(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let mut secs = -(d.as_secs() as i64);
            let mut nanos = d.subsec_nanos();
            if nanos > 0 {
                secs -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            (secs, nanos)
        }
    };
    let dt = chrono::DateTime::from_timestamp(secs, nanos).unwrap_or_default();
    let mut out = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// An OS error as Go prints it: `permission denied`, `no such file or directory`.
pub(crate) fn os_error(e: &std::io::Error) -> String {
    mig_host::error_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1500), "1.5µs"),
            (Duration::from_nanos(2_017_849), "2.017849ms"),
            (Duration::from_millis(1000), "1s"),
            (Duration::from_millis(90_500), "1m30.5s"),
            (Duration::from_secs(3600 * 2 + 61), "2h1m1s"),
            (Duration::from_secs(3600), "1h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want);
        }
    }

    #[test]
    fn modes_print_like_go() {
        let cases = [
            (0o100755, "-rwxr-xr-x"),
            (0o100644, "-rw-r--r--"),
            (0o040755, "drwxr-xr-x"),
            (0o104755, "urwxr-xr-x"),
            (0o102755, "grwxr-xr-x"),
            (0o041777, "dtrwxrwxrwx"),
            (0o120777, "Lrwxrwxrwx"),
            (0o020666, "Dcrw-rw-rw-"),
            (0o060660, "Drw-rw----"),
            (0o010644, "prw-r--r--"),
            (0o140755, "Srwxr-xr-x"),
            (0o100000, "----------"),
        ];
        for (m, want) in cases {
            assert_eq!(file_mode(m), want, "{m:o}");
        }
    }

    #[test]
    fn times_print_like_go() {
        let t = UNIX_EPOCH + Duration::new(1423273867, 178506010);
        assert_eq!(time(t), "2015-02-07 01:51:07.17850601 +0000 UTC");
        let t = UNIX_EPOCH + Duration::new(1423273867, 0);
        assert_eq!(time(t), "2015-02-07 01:51:07 +0000 UTC");
    }
}
