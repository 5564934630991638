//! Compiled checks: what each string in a search means, and how metadata checks decide.

use super::content::ContentPattern;
use super::hash::{algo_for_check, lengths, HashAlgo};
use super::params::CheckKind;
use regex::bytes::Regex as BytesRegex;
use regex::Regex;
use std::time::{Duration, SystemTime};

/// Regexes larger than this (compiled) are refused: a hostile pattern must not eat the agent.
const REGEX_SIZE_LIMIT: usize = 10 << 20;

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// A regex on the base name; `negate` from a leading `!`.
    Name {
        re: BytesRegex,
        negate: bool,
    },
    Content(ContentPattern),
    /// Inclusive bounds in bytes.
    Size {
        min: u64,
        max: u64,
    },
    Mode(Regex),
    /// `newer`: modified less than `age` ago (`<90d`); else more than `age` ago (`>90d`).
    Mtime {
        newer: bool,
        age: Duration,
    },
    Hash {
        algo: HashAlgo,
        hex: String,
    },
}

impl Matcher {
    pub(crate) fn compile(kind: CheckKind, value: &str) -> Result<Matcher, String> {
        match kind {
            CheckKind::Name => {
                let (negate, pattern) = split_negation(value);
                Ok(Matcher::Name {
                    re: bytes_regex(pattern)?,
                    negate,
                })
            }
            CheckKind::Content => {
                if value.is_empty() {
                    return Err("empty content regex".into());
                }
                let (negate, pattern) = split_negation(value);
                Ok(Matcher::Content(ContentPattern::new(pattern, negate)?))
            }
            CheckKind::Size => parse_size(value),
            CheckKind::Mode => regex::RegexBuilder::new(value)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Matcher::Mode)
                .map_err(|e| e.to_string()),
            CheckKind::Mtime => parse_mtime(value),
            CheckKind::Md5 | CheckKind::Sha1 | CheckKind::Sha2 | CheckKind::Sha3 => {
                let hex = value.trim().to_ascii_lowercase();
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("expected a hexadecimal hash".into());
                }
                let algo = algo_for_check(kind, hex.len()).ok_or_else(|| {
                    // MIG took such a value and never matched it: say what it is instead.
                    let is = match hex.len() {
                        32 => " (32 hex digits is an MD5: use md5; MIG accepted it here and never matched it)",
                        40 => " (40 hex digits is a SHA-1: use sha1; MIG accepted it here and never matched it)",
                        _ => "",
                    };
                    format!(
                        "a {} hash has {} hex digits, not {}{is}",
                        kind.mismatch_name(),
                        lengths(kind),
                        hex.len()
                    )
                })?;
                Ok(Matcher::Hash { algo, hex })
            }
        }
    }

    /// Decides a metadata check. `name` is the base name; `mode` is Go's mode string.
    pub(crate) fn matches_metadata(
        &self,
        name: &[u8],
        size: u64,
        mode: &str,
        mtime: SystemTime,
        now: SystemTime,
    ) -> bool {
        match self {
            Matcher::Name { re, negate } => re.is_match(&go_runes(name)) != *negate,
            Matcher::Size { min, max } => size >= *min && size <= *max,
            Matcher::Mode(re) => re.is_match(mode),
            Matcher::Mtime { newer, age } => {
                let cutoff = now.checked_sub(*age).unwrap_or(SystemTime::UNIX_EPOCH);
                if *newer {
                    mtime >= cutoff
                } else {
                    mtime <= cutoff
                }
            }
            Matcher::Content(_) | Matcher::Hash { .. } => false,
        }
    }
}

pub(crate) fn bytes_regex(pattern: &str) -> Result<BytesRegex, String> {
    regex::bytes::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Bytes as Go's regexp sees them: valid UTF-8 as is, each byte of an invalid sequence as one
/// U+FFFD, which `.` and negated classes match (Rust's Unicode regexes never match an invalid
/// byte, so `secret=.*xyz` would miss a Latin-1 or binary file MIG finds). Borrowed when
/// already valid, which is the common case and costs one validation pass.
pub(crate) fn go_runes(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if std::str::from_utf8(bytes).is_ok() {
        return std::borrow::Cow::Borrowed(bytes);
    }
    const REPLACEMENT: &str = "\u{FFFD}";
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 2);
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        // Go decodes an invalid sequence one byte at a time: one U+FFFD per byte.
        for _ in chunk.invalid() {
            out.extend_from_slice(REPLACEMENT.as_bytes());
        }
    }
    std::borrow::Cow::Owned(out)
}

/// MIG's `!` prefix inverts name and content checks.
fn split_negation(value: &str) -> (bool, &str) {
    match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    }
}

/// `^(<|>)?[0-9]+(k|m|g|t)?$`, 1024-based: `<n` is [0, n], `>n` is [n, ∞), bare is exact.
fn parse_size(value: &str) -> Result<Matcher, String> {
    let bad = || format!("expected a size like 100, <10k, >1m (units k, m, g, t), got {value:?}");
    let (op, rest) = match value.as_bytes().first() {
        Some(b'<') => (Some('<'), &value[1..]),
        Some(b'>') => (Some('>'), &value[1..]),
        _ => (None, value),
    };
    let (digits, multiplier) = match rest.as_bytes().last() {
        Some(b'k') => (&rest[..rest.len() - 1], 1u64 << 10),
        Some(b'm') => (&rest[..rest.len() - 1], 1 << 20),
        Some(b'g') => (&rest[..rest.len() - 1], 1 << 30),
        Some(b't') => (&rest[..rest.len() - 1], 1 << 40),
        _ => (rest, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let n = n.checked_mul(multiplier).ok_or_else(bad)?;
    Ok(match op {
        Some('<') => Matcher::Size { min: 0, max: n },
        Some('>') => Matcher::Size {
            min: n,
            max: u64::MAX,
        },
        _ => Matcher::Size { min: n, max: n },
    })
}

/// `^(<|>)[0-9]+(d|h|m)$`: `<90d` = modified within the last 90 days.
fn parse_mtime(value: &str) -> Result<Matcher, String> {
    let bad = || format!("expected an age like <90d, >2h, <30m, got {value:?}");
    let newer = match value.as_bytes().first() {
        Some(b'<') => true,
        Some(b'>') => false,
        _ => return Err(bad()),
    };
    let rest = &value[1..];
    let unit = match rest.as_bytes().last() {
        Some(b'd') => 86400,
        Some(b'h') => 3600,
        Some(b'm') => 60,
        _ => return Err(bad()),
    };
    let digits = &rest[..rest.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(unit).ok_or_else(bad)?;
    Ok(Matcher::Mtime {
        newer,
        age: Duration::from_secs(secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(v: &str) -> (u64, u64) {
        match parse_size(v).unwrap() {
            Matcher::Size { min, max } => (min, max),
            _ => unreachable!(),
        }
    }

    #[test]
    fn sizes_use_1024_and_inclusive_bounds() {
        assert_eq!(size("100"), (100, 100));
        assert_eq!(size("<10k"), (0, 10240));
        assert_eq!(size(">1m"), (1 << 20, u64::MAX));
        assert_eq!(size("2g"), (2 << 30, 2 << 30));
        assert_eq!(size(">1t"), (1 << 40, u64::MAX));
        for bad in [
            "",
            "<",
            "10x",
            "k",
            "1.5k",
            "-1",
            "<<1",
            "99999999999999999999t",
            "10K",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mtimes_parse() {
        let now = SystemTime::now();
        let recent = now - Duration::from_secs(3600);
        let old = now - Duration::from_secs(200 * 86400);
        let m = parse_mtime("<90d").unwrap();
        assert!(m.matches_metadata(b"", 0, "", recent, now));
        assert!(!m.matches_metadata(b"", 0, "", old, now));
        let m = parse_mtime(">90d").unwrap();
        assert!(!m.matches_metadata(b"", 0, "", recent, now));
        assert!(m.matches_metadata(b"", 0, "", old, now));
        assert!(parse_mtime("<30m").is_ok());
        for bad in ["90d", "<90", "<d", "<9s", ">-1d", ""] {
            assert!(parse_mtime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_negate_with_bang() {
        let m = Matcher::compile(CheckKind::Name, "!^pass").unwrap();
        let t = SystemTime::now();
        assert!(!m.matches_metadata(b"passwd", 0, "", t, t));
        assert!(m.matches_metadata(b"shadow", 0, "", t, t));
    }

    #[test]
    fn invalid_utf8_reads_as_go_reads_it() {
        assert_eq!(&*go_runes(b"plain"), b"plain");
        assert!(matches!(go_runes(b"plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            String::from_utf8(go_runes(b"a\xe9b\xe2\x82c\xff").into_owned()).unwrap(),
            "a\u{FFFD}b\u{FFFD}\u{FFFD}c\u{FFFD}"
        );
        let name = Matcher::compile(CheckKind::Name, "^caf.$").unwrap();
        let now = SystemTime::now();
        assert!(
            name.matches_metadata(b"caf\xe9", 0, "", now, now),
            "Latin-1 é is one rune"
        );
    }

    #[test]
    fn hashes_pick_the_variant_by_length() {
        assert!(Matcher::compile(CheckKind::Sha2, &"a".repeat(64)).is_ok());
        assert!(Matcher::compile(CheckKind::Sha2, &"a".repeat(96)).is_ok());
        assert!(Matcher::compile(CheckKind::Sha2, &"A".repeat(128)).is_ok());
        let Err(e) = Matcher::compile(CheckKind::Sha2, &"a".repeat(40)) else {
            panic!("a SHA-1 taken as a SHA-2")
        };
        assert!(
            e.contains("is a SHA-1: use sha1; MIG accepted it here and never matched it"),
            "{e}"
        );
        assert!(Matcher::compile(CheckKind::Sha3, &"a".repeat(56)).is_ok());
        assert!(Matcher::compile(CheckKind::Md5, "xyz").is_err());
    }
}
