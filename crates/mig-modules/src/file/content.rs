//! Content checks: a regex applied to each line of a file, as MIG does, without splitting the
//! file into lines.
//!
//! MIG reads a file line by line (Go's `bufio.Scanner`, which strips `\r\n`) and runs the regex
//! on each line. Allocating per line is slow, so we search whole blocks of complete lines with
//! the same regex in multi-line CRLF mode (`^` and `$` at line boundaries). A match that stays
//! inside one line is a match of that line. A match that crosses a newline (possible with `\s`
//! or `[^x]`) is confirmed by running the regex on the line where it starts alone; if that line
//! does not match, the search resumes on the next line. Patterns with absolute anchors
//! (`\A`, `\z`) are evaluated line by line.

use super::checks::{bytes_regex, go_runes};
use memchr::{memchr, memchr_iter, memrchr};
use regex::bytes::Regex;

#[derive(Debug, Clone)]
pub(crate) struct ContentPattern {
    /// The pattern in multi-line CRLF mode, for searching blocks.
    block: Regex,
    /// The pattern as given, for single lines.
    line: Regex,
    /// A leading `!`: the check holds when no line matches.
    pub negate: bool,
    /// The pattern uses `\A` or `\z`, which mean "line start/end" only when run per line.
    per_line: bool,
    /// The pattern can match U+FFFD, which is what Go's regexp reads a byte that is not UTF-8
    /// as (`.`, negated classes): only then can such a byte change the answer.
    sees_invalid_bytes: bool,
    /// Byte strings one of which starts every match (the pattern's literal prefixes), when it
    /// has them: a block without any cannot match however its bytes are read, and is not
    /// read again Go's way.
    prefixes: Option<Regex>,
}

/// Progress of one content check over one file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ContentState {
    /// Some line matched.
    found: bool,
    /// With macroal: every line so far satisfied the check.
    all_lines_ok: bool,
    saw_line: bool,
    /// Nothing later in the file can change the outcome.
    pub decided: bool,
}

impl ContentState {
    pub(crate) fn new() -> ContentState {
        ContentState {
            all_lines_ok: true,
            ..Default::default()
        }
    }
}

impl ContentPattern {
    pub(crate) fn new(pattern: &str, negate: bool) -> Result<ContentPattern, String> {
        // `.*` and `.+` are compiled to match any byte but `\n` as well, which is exactly what
        // Go reads them as (its U+FFFD for an invalid byte is not `\n`): a pattern whose only
        // way to match U+FFFD is there needs no second, Go-way reading of binary blocks.
        let (line, block, sees_invalid_bytes) =
            match (widened(pattern), widened(&format!("(?mR:{pattern})"))) {
                (Some((line, rest_sees)), Some((block, _))) => {
                    (bytes_regex(&line)?, bytes_regex(&block)?, rest_sees)
                }
                _ => (
                    bytes_regex(pattern)?,
                    bytes_regex(&format!("(?mR:{pattern})"))?,
                    can_match_replacement_char(pattern),
                ),
            };
        Ok(ContentPattern {
            block,
            line,
            negate,
            per_line: has_absolute_anchor(pattern),
            sees_invalid_bytes,
            // Only a pattern read Go's way too needs the filter that skips that reading.
            prefixes: sees_invalid_bytes.then(|| prefix_filter(pattern)).flatten(),
        })
    }

    /// Does one line (without its terminator) match, read as Go reads it?
    fn line_matches(&self, line: &[u8]) -> bool {
        let line = strip_cr(line);
        self.line.is_match(line)
            || self.sees_invalid_bytes
                && std::str::from_utf8(line).is_err()
                && self.line.is_match(&go_runes(line))
    }

    /// Does one line (without its terminator) satisfy the check?
    fn line_ok(&self, line: &[u8]) -> bool {
        self.line_matches(line) != self.negate
    }

    /// Scans a block of complete lines (the last one may lack its `\n` at end of file).
    pub(crate) fn scan(&self, block: &[u8], state: &mut ContentState, macroal: bool) {
        if state.decided || block.is_empty() {
            return;
        }
        state.saw_line = true;
        if macroal {
            // Every line must satisfy the check: there is no way around looking at each.
            for line in lines(block) {
                if !self.line_ok(line) {
                    state.all_lines_ok = false;
                    state.decided = true;
                    return;
                }
            }
            return;
        }
        let found = if self.per_line {
            lines(block).any(|l| self.line_matches(l))
        } else {
            // Read as is first: a match there is a match in Go's reading too (the valid text
            // is the same). Only a block with bytes that are not UTF-8, for a pattern that can
            // match what Go reads them as, is read again Go's way (line ends stay in place).
            self.find_in_block(block)
                || self.sees_invalid_bytes
                    && self.prefixes.as_ref().is_none_or(|p| p.is_match(block))
                    && std::str::from_utf8(block).is_err()
                    && self.find_in_block(&go_runes(block))
        };
        if found {
            state.found = true;
            // A match settles both "some line matches" and "no line matches".
            state.decided = true;
        }
    }

    fn find_in_block(&self, block: &[u8]) -> bool {
        let ends_with_newline = block.last() == Some(&b'\n');
        let mut pos = 0;
        while pos <= block.len() {
            let Some(m) = self.block.find_at(block, pos) else {
                return false;
            };
            if m.start() == block.len() && ends_with_newline {
                // An empty match after the final newline: there is no such line.
                return false;
            }
            // Inside one line, and not eating the `\r` of a `\r\n` (Go strips it): a real match.
            let eats_cr = m.end() > m.start()
                && block[m.end() - 1] == b'\r'
                && block.get(m.end()) == Some(&b'\n');
            if !eats_cr && memchr(b'\n', m.as_bytes()).is_none() {
                return true;
            }
            let line_start = memrchr(b'\n', &block[..m.start()]).map_or(0, |i| i + 1);
            let line_end =
                memchr(b'\n', &block[m.start()..]).map_or(block.len(), |i| m.start() + i);
            if self.line.is_match(strip_cr(&block[line_start..line_end])) {
                return true;
            }
            pos = line_end + 1;
        }
        false
    }

    /// The outcome once the whole file was scanned.
    pub(crate) fn result(&self, state: &ContentState, macroal: bool) -> bool {
        if macroal {
            // An empty file has no line that could satisfy "every line matches".
            state.saw_line && state.all_lines_ok
        } else {
            state.found != self.negate
        }
    }
}

/// Lines of a block, without their `\n`; a final line without `\n` counts.
fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut ends = memchr_iter(b'\n', block);
    std::iter::from_fn(move || {
        if start >= block.len() {
            return None;
        }
        let end = ends.next().unwrap_or(block.len());
        let line = &block[start..end];
        start = end + 1;
        Some(line)
    })
}

/// Go's scanner drops the `\r` of a `\r\n` line ending.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The pattern with each unbounded repetition of `.` (or any class of every non-ASCII
/// character: `[^x]*`, `(?s:.)+`) turned into a repetition of the same ASCII bytes and every
/// byte from 0x80: under `*` and `+`, "any run of characters but `\n`" read Go's way (an
/// invalid byte is one U+FFFD) and "any run of bytes but `\n`" are the same runs. Returns the
/// rewritten pattern, and whether what is left can still match U+FFFD (then binary blocks
/// must still be read Go's way too); `None` when the pattern cannot be parsed here.
fn widened(pattern: &str) -> Option<(String, bool)> {
    use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};
    fn every_non_ascii(h: &Hir) -> Option<Vec<ClassBytesRange>> {
        let HirKind::Class(Class::Unicode(c)) = h.kind() else {
            return None;
        };
        // From 0x80 to the last scalar value without a gap (surrogates are not chars).
        let mut next = 0x80u32;
        for r in c.ranges() {
            let (start, end) = (u32::from(r.start()), u32::from(r.end()));
            if end < next {
                continue;
            }
            if start > next && !(next == 0xD800 && start == 0xE000) {
                return None;
            }
            next = end + 1;
            if next == 0xD800 {
                next = 0xE000;
            }
        }
        if next <= 0x10FFFF {
            return None;
        }
        let mut bytes: Vec<ClassBytesRange> = c
            .ranges()
            .iter()
            .filter(|r| u32::from(r.start()) < 0x80)
            .map(|r| ClassBytesRange::new(r.start() as u8, (u32::from(r.end()).min(0x7F)) as u8))
            .collect();
        bytes.push(ClassBytesRange::new(0x80, 0xFF));
        Some(bytes)
    }
    fn widen(h: &Hir, sees: &mut bool) -> Hir {
        match h.kind() {
            HirKind::Repetition(r) if r.max.is_none() && r.min <= 1 => {
                match every_non_ascii(&r.sub) {
                    Some(bytes) => Hir::repetition(Repetition {
                        sub: Box::new(Hir::class(Class::Bytes(ClassBytes::new(bytes)))),
                        ..r.clone()
                    }),
                    None => Hir::repetition(Repetition {
                        sub: Box::new(widen(&r.sub, sees)),
                        ..r.clone()
                    }),
                }
            }
            HirKind::Repetition(r) => Hir::repetition(Repetition {
                sub: Box::new(widen(&r.sub, sees)),
                ..r.clone()
            }),
            HirKind::Capture(c) => Hir::capture(regex_syntax::hir::Capture {
                sub: Box::new(widen(&c.sub, sees)),
                ..c.clone()
            }),
            HirKind::Concat(hs) => Hir::concat(hs.iter().map(|h| widen(h, sees)).collect()),
            HirKind::Alternation(hs) => {
                Hir::alternation(hs.iter().map(|h| widen(h, sees)).collect())
            }
            HirKind::Class(Class::Unicode(c)) => {
                *sees |= c
                    .ranges()
                    .iter()
                    .any(|r| r.start() <= '\u{FFFD}' && '\u{FFFD}' <= r.end());
                h.clone()
            }
            HirKind::Class(Class::Bytes(c)) => {
                *sees |= c.ranges().iter().any(|r| r.end() >= 0x80);
                h.clone()
            }
            HirKind::Literal(_) | HirKind::Empty | HirKind::Look(_) => h.clone(),
        }
    }
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let mut sees = false;
    let out = widen(&hir, &mut sees);
    Some((out.to_string(), sees))
}

/// Can the pattern match U+FFFD anywhere (a `.`, a negated class, `\W`…)? A pattern that
/// cannot (literals, `[a-z]`, `\d`) never sees a byte that is not UTF-8 differently from Go.
/// When the pattern cannot be parsed here, it is assumed it can.
fn can_match_replacement_char(pattern: &str) -> bool {
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn walk(h: &Hir) -> bool {
        match h.kind() {
            HirKind::Class(Class::Unicode(c)) => c
                .ranges()
                .iter()
                .any(|r| r.start() <= '\u{FFFD}' && '\u{FFFD}' <= r.end()),
            HirKind::Class(Class::Bytes(c)) => c.ranges().iter().any(|r| r.end() >= 0x80),
            HirKind::Literal(_) | HirKind::Empty | HirKind::Look(_) => false,
            HirKind::Repetition(r) => walk(&r.sub),
            HirKind::Capture(c) => walk(&c.sub),
            HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(walk),
        }
    }
    regex_syntax::Parser::new()
        .parse(pattern)
        .map_or(true, |hir| walk(&hir))
}

/// A regex for the pattern's literal prefixes (every match starts with one), over raw bytes;
/// `None` when the pattern has no such finite set, or a prefix holds U+FFFD itself.
fn prefix_filter(pattern: &str) -> Option<Regex> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new().extract(&hir);
    let literals = seq.literals()?;
    let replacement = "\u{FFFD}".as_bytes();
    if literals.is_empty()
        || literals
            .iter()
            .any(|l| l.as_bytes().is_empty() || l.as_bytes().windows(3).any(|w| w == replacement))
    {
        return None;
    }
    let alternatives: Vec<String> = literals
        .iter()
        .map(|l| l.as_bytes().iter().map(|b| format!("\\x{b:02x}")).collect())
        .collect();
    Regex::new(&format!("(?-u:{})", alternatives.join("|"))).ok()
}

/// Does the pattern contain an unescaped `\A` or `\z`?
fn has_absolute_anchor(pattern: &str) -> bool {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            if matches!(bytes[i + 1], b'A' | b'z') {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_rule_out_blocks_that_cannot_match() {
        let p = prefix_filter("(?i)copyright.*free").unwrap();
        assert!(p.is_match(b"xx CopyRight \xff free"));
        assert!(!p.is_match(b"\xff\xfe nothing here \x00"));
        assert!(prefix_filter(".*x").is_none(), "no finite prefix set");
        // The filter only skips a second reading: a match Go's reading finds is still found.
        assert!(check_bytes("(?i)copyright.*free", b"Copyright \xe9 free\n"));
        assert!(!check_bytes("(?i)copyright.*free", b"\xe9 nothing\n"));
    }

    fn check_bytes(pattern: &str, text: &[u8]) -> bool {
        let c = ContentPattern::new(pattern, false).unwrap();
        let mut st = ContentState::new();
        c.scan(text, &mut st, false);
        c.result(&st, false)
    }

    #[test]
    fn only_patterns_that_can_match_a_replacement_char_look_again() {
        for p in [
            ".",
            "a.*b",
            "[^a]",
            r"\W",
            r"\S",
            r"\p{So}",
            "(?s:.)",
            "x|.",
            "(?-u:\\xff)",
        ] {
            assert!(can_match_replacement_char(p), "{p}");
        }
        for p in [
            "abc",
            "[a-z]+",
            r"\d{3}",
            r"^secret=\w+$",
            "(?i)copyright",
            "é",
        ] {
            assert!(!can_match_replacement_char(p), "{p}");
        }
    }

    fn check(pattern: &str, text: &str) -> bool {
        check_with(pattern, text, false)
    }

    fn check_with(pattern: &str, text: &str, macroal: bool) -> bool {
        let (negate, p) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        let c = ContentPattern::new(p, negate).unwrap();
        let mut st = ContentState::new();
        c.scan(text.as_bytes(), &mut st, macroal);
        c.result(&st, macroal)
    }

    /// The reference: MIG's line-by-line evaluation.
    fn reference(pattern: &str, text: &str) -> bool {
        let re = regex::bytes::Regex::new(pattern).unwrap();
        let mut lines: Vec<&str> = text.split('\n').collect();
        if text.ends_with('\n') || text.is_empty() {
            lines.pop();
        }
        lines
            .iter()
            .any(|l| re.is_match(l.trim_end_matches('\r').as_bytes()))
    }

    /// Go's reading of a file, line by line: each invalid byte is one U+FFFD.
    fn go_reference(pattern: &str, text: &[u8]) -> bool {
        let re = regex::bytes::Regex::new(pattern).unwrap();
        let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        if text.ends_with(b"\n") || text.is_empty() {
            lines.pop();
        }
        lines
            .iter()
            .any(|l| re.is_match(&go_runes(l.strip_suffix(b"\r").unwrap_or(l))))
    }

    #[test]
    fn widened_patterns_read_binary_as_go_does() {
        let texts: [&[u8]; 6] = [
            b"Copyright \xa9 1999 Free Software\n",
            b"copyright\xff\xfe\x00free software\nx\n",
            b"caf\xe9\nabc\n",
            b"a\xc3\xa9b\n",
            b"a\xe9\xe9b\n\xff\n",
            b"plain ascii\nno match\n",
        ];
        let patterns = [
            "(?i)copyright.*free software",
            "^a.*b$",
            "^a.+b$",
            "^a..b$",
            "^a.b$",
            "caf.",
            "^[^x]*$",
            r"\xff",
            "^.*$",
            "a(?s:.)*b",
            "[^a-z]+b",
            "^[^é]*$",
            r"^\W*$",
        ];
        for t in texts {
            for p in patterns {
                assert_eq!(
                    check_bytes(p, t),
                    go_reference(p, t),
                    "pattern {p:?} on {:?}",
                    String::from_utf8_lossy(t)
                );
            }
        }
        // `.*` alone needs no Go-way reading; a single `.` still does.
        assert!(!widened("(?i)copyright.*free").unwrap().1);
        assert!(widened("a.b").unwrap().1);
        assert!(!widened("^[^x]*$").unwrap().1);
        assert!(
            !widened("[^a-z]+b").unwrap().1,
            "[^a-z] has every non-ASCII character"
        );
        assert!(
            widened("[^é]*x").unwrap().1,
            "[^é] lacks é: read Go's way too"
        );
        assert!(widened(r"\W*x").unwrap().1);
    }

    /// What the real MIG (9e7e4f5, Go 1.19, `mig-agent -m file` with `matchall`) found for
    /// each pattern among these six files, recorded on 2026-12-07: the widened patterns and
    /// the Go-way re-reading must give the same answers.
    #[test]
    fn binary_and_latin1_files_as_the_real_mig_found_them() {
        let files: [(&str, &[u8]); 6] = [
            ("latin1", b"Copyright \xa9 1999 Free Software\n"),
            ("binary", b"copyright\xff\xfe\x00free software\nx\n"),
            ("utf8", b"a\xc3\xa9b\n"),
            ("twobytes", b"a\xe9\xe9b\n\xff\n"),
            ("plain", b"plain ascii\nno match\n"),
            ("cafe", b"caf\xe9\nabc\n"),
        ];
        let all = "binary cafe latin1 plain twobytes utf8";
        let recorded = [
            ("(?i)copyright.*free software", "binary latin1"),
            ("^a.*b$", "twobytes utf8"),
            ("^a.+b$", "twobytes utf8"),
            ("^a..b$", "twobytes"),
            ("^a.b$", "utf8"),
            ("caf.", "cafe"),
            ("^[^x]*$", all),
            ("^.*$", all),
            ("[^a-z]+b", "twobytes utf8"),
            ("^[^é]*$", "binary cafe latin1 plain twobytes"),
        ];
        for (pattern, mig_found) in recorded {
            let mut found: Vec<&str> = files
                .iter()
                .filter(|(_, text)| check_bytes(pattern, text))
                .map(|(name, _)| *name)
                .collect();
            found.sort_unstable();
            assert_eq!(found.join(" "), mig_found, "{pattern}");
        }
    }

    #[test]
    fn anchors_are_per_line() {
        assert!(check("^root:", "daemon:x\nroot:x:0:0\n"));
        assert!(!check("^oot:", "daemon:x\nroot:x:0:0\n"));
        assert!(check("0$", "a:0\nb:1\n"));
        assert!(
            check("0$", "a:0\r\nb:1\r\n"),
            "CRLF line ends like Go's scanner"
        );
        assert!(check(r"\Aroot", "x\nroot\n"));
        assert!(check(r"bash\z", "root:/bin/bash\nx\n"));
    }

    #[test]
    fn matches_never_span_lines() {
        assert!(!check(r"foo\sbar", "foo\nbar\n"));
        assert!(check(r"foo\sbar", "x\nfoo\nfoo bar\n"));
        assert!(!check(r"a[^x]*b", "a\nb\n"));
        assert!(check(r"a[^x]*b", "a\nb\naqb\n"));
    }

    #[test]
    fn negation_means_no_line_matches() {
        assert!(check("!secret", "public\nopen\n"));
        assert!(!check("!secret", "public\nsecret\n"));
        assert!(check("!anything", ""), "an empty file has no matching line");
    }

    #[test]
    fn empty_lines_and_phantom_last_line() {
        assert!(check("^$", "a\n\nb\n"));
        assert!(
            !check("^$", "a\nb\n"),
            "no empty line after the final newline"
        );
        assert!(!check("x*", ""));
        assert!(check("x*", "\n"));
    }

    #[test]
    fn macroal_needs_every_line() {
        assert!(check_with("^[a-z]+$", "abc\ndef\n", true));
        assert!(!check_with("^[a-z]+$", "abc\nDEF\n", true));
        assert!(!check_with("^[a-z]+$", "", true));
        assert!(check_with("!secret", "abc\ndef\n", true));
    }

    #[test]
    fn agrees_with_line_by_line_on_tricky_patterns() {
        let texts = [
            "alpha\nbeta\r\ngamma delta\n\n  \nend",
            "a\nb\nab\na b\n",
            "x\r\ny\r\n",
            "no newline at end",
        ];
        let patterns = [
            r"a\s*b",
            r"^\s*$",
            r"[^q]+",
            r"a.b",
            r"^b",
            r"a$",
            r"\bdelta\b",
            r"(?s)a.b",
            r"^.*$",
            r"\r",
            r"y$",
            r"(?i)GAMMA",
            r"\n",
        ];
        for t in texts {
            for p in patterns {
                assert_eq!(check(p, t), reference(p, t), "pattern {p:?} on {t:?}");
            }
        }
    }
}
