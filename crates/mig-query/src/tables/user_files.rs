//! shell_history and authorized_keys: files in each user's home directory, read line by line
//! (a history file can be large) for the users the WHERE clause names, or for all.

use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::selected_users;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// Lines of files, each with the uid of its owner, one line at a time.
struct Lines {
    files: std::vec::IntoIter<(u32, PathBuf)>,
    current: Option<(u32, String, BufReader<std::fs::File>)>,
}

impl Lines {
    /// `names` below each selected user's home directory.
    fn of_users(q: &Constraints, names: &[&str]) -> Result<Lines, String> {
        let mut files = Vec::new();
        let mut homes_seen = Vec::new();
        for u in selected_users(q)? {
            // Several accounts may share a home (/ or /nonexistent): read its files once.
            if u.home.is_empty() || homes_seen.contains(&(u.uid, u.home.clone())) {
                continue;
            }
            homes_seen.push((u.uid, u.home.clone()));
            for n in names {
                let p = PathBuf::from(&u.home).join(n);
                if p.is_file() {
                    files.push((u.uid, p));
                }
            }
        }
        Ok(Lines {
            files: files.into_iter(),
            current: None,
        })
    }

    /// The next (uid, file, line); lines that are not UTF-8 are read lossily.
    fn next_line(&mut self) -> Option<(u32, String, String)> {
        loop {
            if let Some((uid, path, reader)) = self.current.as_mut() {
                let mut buf = Vec::new();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(n) if n > 0 => {
                        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            buf.pop();
                        }
                        return Some((
                            *uid,
                            path.clone(),
                            String::from_utf8_lossy(&buf).into_owned(),
                        ));
                    }
                    _ => self.current = None,
                }
            }
            let (uid, path) = self.files.next()?;
            if let Ok(f) = std::fs::File::open(&path) {
                self.current = Some((uid, path.to_string_lossy().into_owned(), BufReader::new(f)));
            }
        }
    }
}

const HISTORY_FILES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".zhistory",
    ".history",
    ".sh_history",
    ".ash_history",
];

table_row! {
    /// One command of a user's shell history.
    struct HistoryRow {
        uid: bigint = "Shell history owner",
        time: integer = "Entry timestamp",
        command: text = "Unparsed date/line/command history line",
        history_file: text = "Path to the .*_history for this user",
    }
}

pub(crate) static SHELL_HISTORY: Table = Table {
    name: "shell_history",
    about: "A line-delimited (command) table of per-user .*_history data.",
    columns: HistoryRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_history,
    example: "SELECT u.username, h.command FROM users u JOIN shell_history h USING (uid) WHERE h.command LIKE '%curl%'",
};

/// zsh's extended history: `: <time>:<duration>;<command>`.
pub(crate) fn zsh_extended(line: &str) -> Option<(i64, &str)> {
    let rest = line.strip_prefix(": ")?;
    let (time, rest) = rest.split_once(':')?;
    let (_, command) = rest.split_once(';')?;
    Some((time.trim().parse().ok()?, command))
}

fn gen_history(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut lines = Lines::of_users(q, HISTORY_FILES)?;
    // bash writes `#<time>` before a command when HISTTIMEFORMAT is set.
    let mut stamp: Option<(String, i64)> = None;
    Ok(Box::new(FnRows(move || loop {
        let Some((uid, file, line)) = lines.next_line() else {
            return Ok(None);
        };
        if let Some(ts) = line
            .strip_prefix('#')
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            stamp = Some((file, ts));
            continue;
        }
        let (time, command) = match zsh_extended(&line) {
            Some((time, command)) => (time, command.to_string()),
            None => {
                let time = match stamp.take() {
                    Some((f, ts)) if f == file => ts,
                    _ => 0,
                };
                (time, line)
            }
        };
        if command.is_empty() {
            continue;
        }
        return Ok(Some(HistoryRow {
            uid: uid.into(),
            time,
            command,
            history_file: file,
        }));
    })))
}

table_row! {
    /// One key of a user's authorized_keys.
    struct AuthorizedKeyRow {
        uid: bigint = "The local owner of authorized_keys file",
        algorithm: text = "algorithm of key",
        key: text = "Key encoded as base64",
        options: text = "Optional list of login options",
        comment: text = "Optional comment",
        key_file: text = "Path to the authorized_keys file",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static AUTHORIZED_KEYS: Table = Table {
    name: "authorized_keys",
    about: "A line-delimited authorized_keys table.",
    columns: AuthorizedKeyRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_authorized_keys,
    example:
        "SELECT u.username, k.algorithm, k.comment FROM users u JOIN authorized_keys k USING (uid)",
};

/// Splits off the options field, which may hold quoted strings with spaces.
fn split_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    for (n, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return (&line[..n], line[n..].trim_start()),
            _ => {}
        }
    }
    (line, "")
}

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

/// `[options] algorithm key [comment]`, a line of `key_file` owned by `uid`; `None` for
/// comments, blanks and garbage.
fn parse_key_line(line: &str, uid: u32, key_file: &str) -> Option<AuthorizedKeyRow> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (options, rest) = match line.split_whitespace().next() {
        Some(first) if is_key_type(first) => ("", line),
        _ => split_options(line),
    };
    let mut f = rest.splitn(3, char::is_whitespace);
    let algorithm = f.next()?.to_string();
    if !is_key_type(&algorithm) {
        return None;
    }
    let key = f.next()?.to_string();
    let comment = f.next().unwrap_or("").trim().to_string();
    Some(AuthorizedKeyRow {
        uid: uid.into(),
        algorithm,
        key,
        options: options.to_string(),
        comment,
        key_file: key_file.to_string(),
    })
}

fn gen_authorized_keys(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut lines = Lines::of_users(q, &[".ssh/authorized_keys", ".ssh/authorized_keys2"])?;
    Ok(Box::new(FnRows(move || loop {
        let Some((uid, file, line)) = lines.next_line() else {
            return Ok(None);
        };
        if let Some(row) = parse_key_line(&line, uid, &file) {
            return Ok(Some(row));
        }
    })))
}

table_row! {
    /// One line of a user's known_hosts.
    struct KnownHostRow {
        uid: bigint = "The local user that owns the known_hosts file",
        key: text = "parsed authorized keys line",
        key_file: text = "Path to known_hosts file",
    }
}

pub(crate) static KNOWN_HOSTS: Table = Table {
    name: "known_hosts",
    about: "A line-delimited known_hosts table: each user's ~/.ssh/known_hosts.",
    columns: KnownHostRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_known_hosts,
    example: "SELECT uid, key FROM known_hosts WHERE key LIKE '%ssh-rsa%'",
};

fn gen_known_hosts(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut lines = Lines::of_users(q, &[".ssh/known_hosts"])?;
    Ok(Box::new(FnRows(move || loop {
        let Some((uid, file, line)) = lines.next_line() else {
            return Ok(None);
        };
        // Every line but blanks and comments, as it is (hashed host names included).
        if !line.is_empty() && !line.starts_with('#') {
            return Ok(Some(KnownHostRow {
                uid: uid.into(),
                key: line,
                key_file: file,
            }));
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines() {
        let file = "/home/alice/.ssh/authorized_keys";
        let k = parse_key_line("ssh-ed25519 AAAAC3Nza alice@laptop", 1000, file).unwrap();
        assert_eq!(
            (
                k.uid,
                k.algorithm.as_str(),
                k.key.as_str(),
                k.options.as_str(),
                k.comment.as_str(),
                k.key_file.as_str()
            ),
            (1000, "ssh-ed25519", "AAAAC3Nza", "", "alice@laptop", file)
        );
        let k = parse_key_line(
            r#"from="10.0.0.1",command="echo hi there" ssh-rsa AAAAB3 bob"#,
            1000,
            file,
        )
        .unwrap();
        assert_eq!(k.algorithm, "ssh-rsa");
        assert_eq!(k.options, r#"from="10.0.0.1",command="echo hi there""#);
        assert_eq!(k.comment, "bob");
        assert!(parse_key_line("# comment", 1000, file).is_none());
        assert!(parse_key_line("garbage", 1000, file).is_none());
    }

    #[test]
    fn zsh_lines() {
        assert_eq!(
            zsh_extended(": 1700000000:0;ls -la"),
            Some((1700000000, "ls -la"))
        );
        assert_eq!(zsh_extended("ls"), None);
    }
}
