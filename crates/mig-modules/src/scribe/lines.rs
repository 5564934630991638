//! Reading a candidate file line by line, in bounded memory.
//!
//! Lines end at `\n` (a `\r` before it is dropped, as Go's `ReadLine` does). A line longer
//! than [`MAX_LINE`] is handed over in pieces of that size (scribe did the same at 4 KiB);
//! a file larger than [`MAX_FILE`] is an error rather than a silently partial answer.

use crate::{gofmt, Context};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub(crate) const MAX_LINE: usize = 1 << 20;
/// Configuration files are far smaller; this bounds the time one file can take.
pub(crate) const MAX_FILE: u64 = 64 << 20;
/// How often (in lines) the deadline is checked.
const CHECK_EVERY: usize = 4096;

/// Calls `line` with each line of `path` until it returns `false`. The error is the text a
/// test reports (`open /etc/shadow: permission denied`).
pub(crate) fn each_line(
    path: &Path,
    ctx: &Context,
    mut line: impl FnMut(&str) -> bool,
) -> Result<(), String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("open {}: {}", path.display(), gofmt::os_error(&e)))?;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let mut buf = Vec::new();
    let mut total = 0u64;
    let mut count = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("read {}: {}", path.display(), gofmt::os_error(&e)))?;
        if n == 0 {
            return Ok(());
        }
        total += n as u64;
        if total > MAX_FILE {
            return Err(format!(
                "{}: larger than {} MiB: not read",
                path.display(),
                MAX_FILE >> 20
            ));
        }
        count += 1;
        if count.is_multiple_of(CHECK_EVERY) {
            ctx.check().map_err(|stop| stop.to_string())?;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if !line(&String::from_utf8_lossy(&buf)) {
            return Ok(());
        }
    }
}
