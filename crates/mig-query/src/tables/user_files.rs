//! shell_history and authorized_keys: files in each user's home directory, read line by line
//! (a history file can be large) for the users the WHERE clause names, or for all.

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

pub(crate) static SHELL_HISTORY: Table = Table {
    name: "shell_history",
    about: "A line-delimited (command) table of per-user .*_history data.",
    columns: &[
        bigint("uid", "Shell history owner"),
        integer("time", "Entry timestamp"),
        text("command", "Unparsed date/line/command history line"),
        text("history_file", "Path to the .*_history for this user"),
    ],
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
        return Ok(Some(vec![i(uid), i(time), t(command), t(file)]));
    })))
}

pub(crate) static AUTHORIZED_KEYS: Table = Table {
    name: "authorized_keys",
    about: "A line-delimited authorized_keys table.",
    columns: &[
        bigint("uid", "The local owner of authorized_keys file"),
        text("algorithm", "algorithm of key"),
        text("key", "Key encoded as base64"),
        text("options", "Optional list of login options"),
        text("comment", "Optional comment"),
        text("key_file", "Path to the authorized_keys file"),
    ],
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

/// `[options] algorithm key [comment]`; `None` for comments, blanks and garbage.
pub(crate) fn parse_key_line(line: &str) -> Option<(String, String, String, String)> {
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
    Some((algorithm, key, options.to_string(), comment))
}

fn gen_authorized_keys(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut lines = Lines::of_users(q, &[".ssh/authorized_keys", ".ssh/authorized_keys2"])?;
    Ok(Box::new(FnRows(move || loop {
        let Some((uid, file, line)) = lines.next_line() else {
            return Ok(None);
        };
        if let Some((algorithm, key, options, comment)) = parse_key_line(&line) {
            return Ok(Some(vec![
                i(uid),
                t(algorithm),
                t(key),
                t(options),
                t(comment),
                t(file),
            ]));
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines() {
        let (a, k, o, c) = parse_key_line("ssh-ed25519 AAAAC3Nza alice@laptop").unwrap();
        assert_eq!(
            (a.as_str(), k.as_str(), o.as_str(), c.as_str()),
            ("ssh-ed25519", "AAAAC3Nza", "", "alice@laptop")
        );
        let (a, _, o, c) =
            parse_key_line(r#"from="10.0.0.1",command="echo hi there" ssh-rsa AAAAB3 bob"#)
                .unwrap();
        assert_eq!(a, "ssh-rsa");
        assert_eq!(o, r#"from="10.0.0.1",command="echo hi there""#);
        assert_eq!(c, "bob");
        assert!(parse_key_line("# comment").is_none());
        assert!(parse_key_line("garbage").is_none());
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
