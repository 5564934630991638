//! Facts about the machine, read from the kernel (`/proc`, `/sys`, netlink) and from the
//! system's own databases (dpkg, RPM, apk, passwd, utmp): what the investigation modules and
//! the query module's tables are built on. Nothing here changes the machine.
//!
//! This is where another operating system would plug in.

#![warn(missing_docs, unreachable_pub)]

pub mod elf;
pub mod hash;
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

/// An I/O error in the words Go prints (`open /x: no such file or directory`, not Rust's
/// `No such file or directory (os error 2)`): MIG's results quote them.
pub fn error_text(e: &std::io::Error) -> String {
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

/// A kernel table from /proc or /sys: its text; empty when the kernel does not have it (no
/// IPv6, no such protocol: nothing to list); an error naming the file for any other failure
/// (a permission refused must not read as "there is none").
pub fn read_table(path: &std::path::Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("{}: {}", path.display(), error_text(&e)),
        )),
    }
}
