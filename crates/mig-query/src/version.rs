//! Version comparison for `version_compare()` and the `version*` collations: dpkg's rules,
//! RPM's `rpmvercmp`, pacman's (RPM's with an optional release), and a generic one for
//! everything else. osquery approximates the package managers with one character-wise
//! algorithm; here each flavour follows its package manager, so that
//! `version_compare(version, '1.2.3-4', 'DPKG') < 0` agrees with `dpkg --compare-versions`.

use std::cmp::Ordering;

/// Whose rules a comparison follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Any dotted version, when no flavour is named (`SEMVER`, `GENERIC`).
    Generic,
    /// dpkg's (`DPKG`, `DEB`): `[epoch:]upstream[-revision]`, `~` before everything.
    Dpkg,
    /// RPM's (`RHEL`, `RPM`): `[epoch:]version-release`, by `rpmvercmp`.
    Rhel,
    /// pacman's (`ARCH`, `PACMAN`): RPM's, but the release counts only when both have one.
    Arch,
}

impl Flavor {
    /// The flavour named by `version_compare`'s third argument, case-insensitive; empty is
    /// [`Flavor::Generic`], an unknown name `None`.
    pub fn parse(s: &str) -> Option<Flavor> {
        match s.to_ascii_uppercase().as_str() {
            "" | "SEMVER" | "GENERIC" => Some(Flavor::Generic),
            "DPKG" | "DEB" => Some(Flavor::Dpkg),
            "RHEL" | "RPM" => Some(Flavor::Rhel),
            "ARCH" | "PACMAN" => Some(Flavor::Arch),
            _ => None,
        }
    }
}

/// Orders two versions by the flavour's rules.
pub fn compare(a: &str, b: &str, flavor: Flavor) -> Ordering {
    match flavor {
        Flavor::Generic => generic(a, b),
        Flavor::Dpkg => dpkg(a, b),
        Flavor::Rhel | Flavor::Arch => epoch_version_release(a, b, flavor == Flavor::Arch),
    }
}

/// Splits `[epoch:]rest` (epoch 0 when absent or not a number).
fn split_epoch(v: &str) -> (u64, &str) {
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    }
}

/// Compares two runs of digits as numbers, whatever their length.
fn numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// dpkg's `verrevcmp`: `~` sorts before everything (even the end), letters before other
/// characters, digit runs numerically.
fn dpkg_part(a: &str, b: &str) -> Ordering {
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            if ca.is_some() {
                i += 1;
            }
            if cb.is_some() {
                j += 1;
            }
        }
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let na = std::str::from_utf8(&a[si..i]).unwrap_or("");
        let nb = std::str::from_utf8(&b[sj..j]).unwrap_or("");
        let o = numeric(na, nb);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ra) = split_epoch(a);
    let (eb, rb) = split_epoch(b);
    let split_rev = |v: &str| match v.rsplit_once('-') {
        Some((up, rev)) => (up.to_string(), rev.to_string()),
        None => (v.to_string(), String::new()),
    };
    let (ua, va) = split_rev(ra);
    let (ub, vb) = split_rev(rb);
    ea.cmp(&eb)
        .then_with(|| dpkg_part(&ua, &ub))
        .then_with(|| dpkg_part(&va, &vb))
}

/// RPM's `rpmvercmp`: alphanumeric segments, separators ignored, `~` before everything,
/// `^` after the end but before anything else, numbers newer than letters.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let skip = |s: &[u8]| -> usize {
        s.iter()
            .position(|c| c.is_ascii_alphanumeric() || *c == b'~' || *c == b'^')
            .unwrap_or(s.len())
    };
    loop {
        a = &a[skip(a)..];
        b = &b[skip(b)..];
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(_)) => {
                let digits = x.is_ascii_digit();
                let run = |s: &[u8]| {
                    s.iter()
                        .position(|c| {
                            if digits {
                                !c.is_ascii_digit()
                            } else {
                                !c.is_ascii_alphabetic()
                            }
                        })
                        .unwrap_or(s.len())
                };
                let (la, lb) = (run(a), run(b));
                if lb == 0 {
                    // Different kinds of segment: numbers are newer than letters.
                    return if digits {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    };
                }
                let sa = std::str::from_utf8(&a[..la]).unwrap_or("");
                let sb = std::str::from_utf8(&b[..lb]).unwrap_or("");
                let o = if digits { numeric(sa, sb) } else { sa.cmp(sb) };
                if o != Ordering::Equal {
                    return o;
                }
                a = &a[la..];
                b = &b[lb..];
            }
        }
    }
}

/// `[epoch:]version[-release]`, RPM- or pacman-style. pacman ignores the release when
/// either side has none.
fn epoch_version_release(a: &str, b: &str, release_optional: bool) -> Ordering {
    let (ea, ra) = split_epoch(a);
    let (eb, rb) = split_epoch(b);
    let (va, rela) = ra
        .rsplit_once('-')
        .map_or((ra, None), |(v, r)| (v, Some(r)));
    let (vb, relb) = rb
        .rsplit_once('-')
        .map_or((rb, None), |(v, r)| (v, Some(r)));
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (rela, relb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            _ if release_optional => Ordering::Equal,
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        })
}

/// Any dotted version: digit runs compare as numbers, letter runs as text, a longer
/// version is newer when the shared part is equal (`1.2.1 > 1.2`).
fn generic(a: &str, b: &str) -> Ordering {
    rpmvercmp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_rules() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.9", "2.0", Greater),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0-", Greater),
            ("22.07.5-2ubuntu1.3", "22.07.5-2ubuntu1.4", Less),
            ("2:8.2.3995-1ubuntu2.9", "2:8.2.3995-1ubuntu2.3", Greater),
            ("1.0~~", "1.0~", Less),
        ] {
            assert_eq!(compare(a, b, Flavor::Dpkg), want, "{a} vs {b}");
        }
    }

    #[test]
    fn rpm_and_arch_rules() {
        for (a, b, want) in [
            ("1.0.0~rc2^2021", "1.0.0", Less),
            ("1.0.0", "1.0.0~rc2", Greater),
            ("1.1.0~BETA2", "1.1.0~CR1", Less),
            ("1.0^", "1.0", Greater),
            ("3.0.7-25.el9", "3.0.7-24.el9", Greater),
            ("1:3.0.7", "3.1", Greater),
            ("2.0a", "2.0.1", Less),
        ] {
            assert_eq!(compare(a, b, Flavor::Rhel), want, "{a} vs {b}");
        }
        assert_eq!(compare("4:1.1.0", "4:1.1.0-3", Flavor::Arch), Equal);
        assert_eq!(compare("1:1.2.13-2", "4.2.1", Flavor::Arch), Greater);
        assert_eq!(compare("42.2-1", "42.1-2", Flavor::Arch), Greater);
    }

    #[test]
    fn generic_rules() {
        assert_eq!(compare("1.0", "1.0", Flavor::Generic), Equal);
        assert_eq!(compare("50.4.1b", "50.4.1c", Flavor::Generic), Less);
        assert_eq!(compare("1.10", "1.9", Flavor::Generic), Greater);
        assert_eq!(compare("1.2.1", "1.2", Flavor::Generic), Greater);
        assert_eq!(Flavor::parse("dpkg"), Some(Flavor::Dpkg));
        assert_eq!(Flavor::parse("nope"), None);
    }
}
