//! shell_history and authorized_keys: files in each user's home directory, read line by line
//! (a history file can be large) for the users the WHERE clause names, or for all.

use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::{selected_users, user_homes};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

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
    reach: Reach::Host,
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
    reach: Reach::Host,
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
    reach: Reach::Host,
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

table_row! {
    /// One private key in a user's ~/.ssh.
    struct UserSshKeyRow {
        uid: bigint = "The local user that owns the key file",
        path: text = "Path to key file",
        encrypted: integer = "1 if key is encrypted, 0 otherwise",
        key_type: text = "The type of the private key. One of [rsa, dsa, dh, ec, hmac, cmac], or the empty string.",
        key_group_name: text = "The group of the private key. Supported for a subset of key_types implemented by OpenSSL",
        key_length: integer = "The cryptographic length of the cryptosystem to which the private key belongs, in bits. Definition of cryptographic length is specific to cryptosystem. -1 if unavailable",
        key_security_bits: integer = "The number of bits of security the private key provides. -1 if unavailable",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static USER_SSH_KEYS: Table = Table {
    name: "user_ssh_keys",
    about: "Returns the private keys in the users ~/.ssh directory and whether or not they are encrypted (or the files a `path` constraint names).",
    columns: UserSshKeyRow::COLUMNS,
    index: &["uid", "path"],
    required: &[],
    like: &[],
    generate: gen_user_ssh_keys,
    reach: Reach::Host,
    example: "SELECT uid, path, key_type, key_length FROM user_ssh_keys WHERE encrypted = 0",
};

fn gen_user_ssh_keys(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    use std::os::unix::fs::MetadataExt;
    // (owner, file): the files named, or every file of every user's ~/.ssh.
    let mut files: Vec<(i64, std::path::PathBuf)> = Vec::new();
    if let Some(paths) = q.texts("path") {
        for p in paths {
            if let Ok(m) = std::fs::metadata(&p) {
                files.push((i64::from(m.uid()), p.into()));
            }
        }
    } else {
        for u in user_homes(q)? {
            let uid = i64::from(u.uid);
            let mut found: Vec<_> = std::fs::read_dir(Path::new(&u.home).join(".ssh"))
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            files.extend(found.into_iter().map(|p| (uid, p)));
        }
    }
    let rows: Vec<UserSshKeyRow> = files
        .into_iter()
        .filter_map(|(uid, path)| {
            // Only private keys are rows; a key file larger than any key is not one.
            let meta = std::fs::metadata(&path).ok()?;
            if meta.len() > 1 << 20 {
                return None;
            }
            let text = std::fs::read_to_string(&path).ok()?;
            let key = private_key_facts(&text)?;
            Some(UserSshKeyRow {
                uid,
                path: path.to_string_lossy().into_owned(),
                encrypted: i64::from(key.encrypted),
                key_type: key.kind.into(),
                key_group_name: key.group.into(),
                key_length: key.bits,
                key_security_bits: key.security_bits,
            })
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

/// What osquery (through OpenSSL) tells of a private key.
#[derive(Debug, PartialEq, Eq)]
struct KeyFacts {
    encrypted: bool,
    /// OpenSSL's family: rsa, dsa, ec; empty for the others (Ed25519) and for keys OpenSSL
    /// cannot open (encrypted ones, OpenSSH's format).
    kind: &'static str,
    group: &'static str,
    bits: i64,
    security_bits: i64,
}

/// A private key file's facts; `None` when the text is no private key.
fn private_key_facts(text: &str) -> Option<KeyFacts> {
    use mig_host::der::pem_block;
    let text = text.trim_start();
    let opaque = |encrypted| KeyFacts {
        encrypted,
        kind: "",
        group: "",
        bits: -1,
        security_bits: -1,
    };
    if let Some(block) = pem_block(text, "OPENSSH PRIVATE KEY") {
        // openssh-key-v1\0, then the cipher name: "none" unless encrypted.
        let cipher = block
            .body
            .strip_prefix(b"openssh-key-v1\0".as_slice())
            .and_then(|rest| mig_host::der::ssh_string(rest, 0));
        return Some(opaque(cipher.is_none_or(|(c, _)| c != b"none")));
    }
    if pem_block(text, "ENCRYPTED PRIVATE KEY").is_some() {
        return Some(opaque(true));
    }
    for (label, read) in [
        (
            "RSA PRIVATE KEY",
            pkcs1_rsa as fn(&[u8]) -> Option<KeyFacts>,
        ),
        ("DSA PRIVATE KEY", dsa),
        ("EC PRIVATE KEY", sec1_ec),
        ("PRIVATE KEY", pkcs8),
    ] {
        if let Some(block) = pem_block(text, label) {
            if block.encrypted {
                return Some(opaque(true));
            }
            return read(&block.body);
        }
    }
    None
}

/// OpenSSL's security bits of a finite-field key of `l` bits (RSA modulus, DSA prime).
fn ff_security_bits(l: u32) -> i64 {
    match l {
        15360.. => 256,
        7680.. => 192,
        3072.. => 128,
        2048.. => 112,
        1024.. => 80,
        _ => 0,
    }
}

fn pkcs1_rsa(der: &[u8]) -> Option<KeyFacts> {
    let items = mig_host::der::sequence(der)?;
    let n = items.get(1).filter(|(t, _)| *t == 0x02)?.1;
    let bits = mig_host::der::integer_bits(n);
    Some(KeyFacts {
        encrypted: false,
        kind: "rsa",
        group: "",
        bits: i64::from(bits),
        security_bits: ff_security_bits(bits),
    })
}

fn dsa(der: &[u8]) -> Option<KeyFacts> {
    let items = mig_host::der::sequence(der)?;
    let (p, q) = (items.get(1)?.1, items.get(2)?.1);
    let (l, n) = (
        mig_host::der::integer_bits(p),
        mig_host::der::integer_bits(q),
    );
    let security = if n < 160 {
        0
    } else {
        ff_security_bits(l).min(i64::from(n / 2))
    };
    Some(KeyFacts {
        encrypted: false,
        kind: "dsa",
        group: "",
        bits: i64::from(l),
        security_bits: security,
    })
}

/// A named curve, as OpenSSL names it: (group, bits, security bits).
fn curve(oid: &[u8]) -> Option<(&'static str, i64, i64)> {
    Some(match oid {
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] => ("prime256v1", 256, 128),
        [0x2b, 0x81, 0x04, 0x00, 0x22] => ("secp384r1", 384, 192),
        [0x2b, 0x81, 0x04, 0x00, 0x23] => ("secp521r1", 521, 256),
        [0x2b, 0x81, 0x04, 0x00, 0x0a] => ("secp256k1", 256, 128),
        _ => return None,
    })
}

fn ec_facts(curve_oid: &[u8]) -> KeyFacts {
    let (group, bits, security) = curve(curve_oid).unwrap_or(("", -1, -1));
    KeyFacts {
        encrypted: false,
        kind: "ec",
        group,
        bits,
        security_bits: security,
    }
}

/// SEC1: { version, key, [0] curve, [1] public key }.
fn sec1_ec(der: &[u8]) -> Option<KeyFacts> {
    let items = mig_host::der::sequence(der)?;
    let params = items.iter().find(|(t, _)| *t == 0xa0)?.1;
    let (tag, oid, _) = mig_host::der::tlv(params, 0)?;
    (tag == 0x06).then(|| ec_facts(oid))
}

/// PKCS#8: { version, { algorithm, parameters }, key }.
fn pkcs8(der: &[u8]) -> Option<KeyFacts> {
    let items = mig_host::der::sequence(der)?;
    let algorithm = items.get(1).filter(|(t, _)| *t == 0x30)?.1;
    let (_, oid, next) = mig_host::der::tlv(algorithm, 0)?;
    let key = items.get(2).filter(|(t, _)| *t == 0x04)?.1;
    match oid {
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => pkcs1_rsa(key),
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => {
            let (_, curve_oid, _) = mig_host::der::tlv(algorithm, next)?;
            Some(ec_facts(curve_oid))
        }
        // Ed25519 and Ed448: OpenSSL knows their sizes, not a family osquery names.
        [0x2b, 0x65, 0x70] => Some(KeyFacts {
            encrypted: false,
            kind: "",
            group: "",
            bits: 253,
            security_bits: 128,
        }),
        [0x2b, 0x65, 0x71] => Some(KeyFacts {
            encrypted: false,
            kind: "",
            group: "",
            bits: 456,
            security_bits: 224,
        }),
        _ => None,
    }
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
