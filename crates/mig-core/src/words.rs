//! Splitting a line into words where quotes group words: one tokenizer for the console's
//! input and yara's `filesearch` (shell-like), authorized_keys options (quotes kept) and
//! iptables-save rules (double quotes removed).

/// What quotes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quotes {
    /// `'…'` and `"…"` group and are removed; `""` is an empty word (a shell's way).
    Shell,
    /// `"…"` groups and stays in the word (`from="10.0.0.1,10.0.0.2"`).
    KeepDouble,
    /// `"…"` groups and is removed (`--comment "a b"`).
    StripDouble,
}

/// The words of `line`, split on whitespace outside quotes.
pub fn split(line: &str, quotes: Quotes) -> Vec<String> {
    let opens = |c: char| match quotes {
        Quotes::Shell => c == '\'' || c == '"',
        Quotes::KeepDouble | Quotes::StripDouble => c == '"',
    };
    let keep = quotes == Quotes::KeepDouble;
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut open: Option<char> = None;
    // A word has begun, even if it is still empty (`""`).
    let mut started = false;
    for c in line.chars() {
        match open {
            Some(q) if c == q => {
                open = None;
                if keep {
                    cur.push(c);
                }
            }
            Some(_) => cur.push(c),
            None if opens(c) => {
                open = Some(c);
                started = true;
                if keep {
                    cur.push(c);
                }
            }
            None if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            None => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_way_of_quoting() {
        assert_eq!(
            split("file -path /etc -name '^pass wd$'", Quotes::Shell),
            ["file", "-path", "/etc", "-name", "^pass wd$"]
        );
        assert_eq!(split(r#"a "" b"#, Quotes::Shell), ["a", "", "b"]);
        assert_eq!(
            split(
                r#"from="10.0.0.1, 10.0.0.2",no-pty ssh-ed25519 AAAA c"#,
                Quotes::KeepDouble
            ),
            [
                r#"from="10.0.0.1, 10.0.0.2",no-pty"#,
                "ssh-ed25519",
                "AAAA",
                "c"
            ]
        );
        assert_eq!(
            split(
                r#"-A INPUT -m comment --comment "allow ssh" -j ACCEPT"#,
                Quotes::StripDouble
            ),
            [
                "-A",
                "INPUT",
                "-m",
                "comment",
                "--comment",
                "allow ssh",
                "-j",
                "ACCEPT"
            ]
        );
        assert_eq!(split("it's", Quotes::StripDouble), ["it's"]);
        assert!(split("   ", Quotes::Shell).is_empty());
    }
}
