//! `mig file` flags, MIG's names and defaults (one search, labelled `s1`).

use super::params::{Options, Params, Search};
use crate::flags::{self, Flag};
use crate::ModuleError;

pub(crate) const FLAGS: &[Flag] = &[
    Flag::multi("path", "<path>", "search path"),
    Flag::multi(
        "name",
        "<regex>",
        "regex on the file name; a leading ! inverts it",
    ),
    Flag::multi(
        "size",
        "<size>",
        "size: 100, <10k, >1m (k, m, g, t; 1024-based)",
    ),
    Flag::multi(
        "mode",
        "<regex>",
        "regex on the mode string, e.g. ^-rwx or ^d",
    ),
    Flag::multi(
        "mtime",
        "<age>",
        "modified within (<90d) or before (>90d); units d, h, m",
    ),
    Flag::multi(
        "content",
        "<regex>",
        "regex on each line; a leading ! means no line matches",
    ),
    Flag::multi("md5", "<hash>", "MD5 of the file"),
    Flag::multi("sha1", "<hash>", "SHA-1 of the file"),
    Flag::multi("sha2", "<hash>", "SHA-256, SHA-384 or SHA-512 (by length)"),
    Flag::multi("sha3", "<hash>", "SHA3-224, -256, -384 or -512 (by length)"),
    Flag::multi(
        "mismatch",
        "<check>",
        "invert a kind of check: name, size, mode, mtime, content, md5, sha1, sha2, sha3",
    ),
    Flag::bool("matchall", "every check must match (default)"),
    Flag::bool("matchany", "any check may match"),
    Flag::bool("macroal", "every line must match every content regex"),
    Flag::value(
        "maxdepth",
        "<n>",
        "directory levels below each path (default 1000)",
    ),
    Flag::value("maxerrors", "<n>", "errors returned at most (default 30)"),
    Flag::value(
        "matchlimit",
        "<n>",
        "matches returned at most (default 1000)",
    ),
    Flag::bool("returnsha256", "add the SHA-256 of matched files"),
    Flag::bool("decompress", "search inside gzip files"),
    Flag::bool("remotefs", "also search network filesystems (NFS, SMB…)"),
    // MIG's debug switch for its module; accepted so MIG command lines run, and ignored.
    Flag::bool("verbose", "accepted for MIG's command lines; does nothing"),
];

pub(crate) fn parse(args: &[String]) -> Result<Params, ModuleError> {
    let p = flags::parse(FLAGS, args)?;
    if let Some(extra) = p.positional.first() {
        return Err(ModuleError::Flag(format!(
            "unexpected argument {extra:?} (flags start with -)"
        )));
    }
    // MIG's flags are float64s and it compares them as MIG's code does: a fractional
    // maxdepth or maxerrors counts whole levels and errors (1.5 is 1), a fractional
    // matchlimit lets through every count below it (1.5 is 2).
    let count = |name: &str, default: f64, round: fn(f64) -> f64| -> Result<f64, ModuleError> {
        let v = p.number(name, default)?;
        if !(v >= 0.0 && v.is_finite()) {
            return Err(ModuleError::Flag(format!(
                "-{name} must be a number of at least 0"
            )));
        }
        Ok(round(v))
    };
    let matchany = p.bool("matchany").unwrap_or(false);
    let mismatch = p.all("mismatch");
    let search = Search {
        description: String::new(),
        paths: p.all("path"),
        contents: p.all("content"),
        names: p.all("name"),
        sizes: p.all("size"),
        modes: p.all("mode"),
        mtimes: p.all("mtime"),
        md5: p.all("md5"),
        sha1: p.all("sha1"),
        sha2: p.all("sha2"),
        sha3: p.all("sha3"),
        options: Options {
            maxdepth: count("maxdepth", 1000.0, f64::floor)?,
            maxerrors: count("maxerrors", 30.0, f64::floor)?,
            remotefs: p.bool("remotefs").unwrap_or(false),
            matchall: !matchany && p.bool("matchall").unwrap_or(true),
            macroal: p.bool("macroal").unwrap_or(false),
            mismatch: (!mismatch.is_empty()).then_some(mismatch),
            matchlimit: count("matchlimit", 1000.0, f64::ceil)?,
            returnsha256: p.bool("returnsha256").unwrap_or(false),
            decompress: p.bool("decompress").unwrap_or(false),
        },
    };
    let mut params = Params::default();
    params.searches.insert("s1".into(), search);
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn migs_defaults() {
        let p = parse(&args(&["-path", "/etc", "-name", "^passwd$"])).unwrap();
        let s = &p.searches["s1"];
        assert_eq!(s.paths, vec!["/etc"]);
        assert_eq!(s.names, vec!["^passwd$"]);
        assert!(s.options.matchall);
        assert_eq!(s.options.maxdepth, 1000.0);
        assert_eq!(s.options.maxerrors, 30.0);
        assert_eq!(s.options.matchlimit, 1000.0);
        assert_eq!(s.options.mismatch, None);
    }

    #[test]
    fn matchany_and_repeats() {
        let p = parse(&args(&[
            "-path",
            "/etc",
            "-path",
            "/usr",
            "-content",
            "a",
            "-content",
            "b",
            "-matchany",
            "-mismatch",
            "name",
            "-maxdepth=2",
        ]))
        .unwrap();
        let s = &p.searches["s1"];
        assert!(!s.options.matchall);
        assert_eq!(s.contents, vec!["a", "b"]);
        assert_eq!(s.options.mismatch, Some(vec!["name".to_string()]));
        assert_eq!(s.options.maxdepth, 2.0);
        assert!(parse(&args(&["-maxdepth", "-1"])).is_err());
    }

    #[test]
    fn migs_float_flags_and_verbose_are_accepted_as_mig_reads_them() {
        let p = parse(&args(&[
            "-path",
            "/etc",
            "-name",
            "x",
            "-maxdepth",
            "1.5",
            "-maxerrors",
            "2.9",
            "-matchlimit",
            "1.5",
            "-verbose",
        ]))
        .unwrap();
        let o = &p.searches["s1"].options;
        assert_eq!((o.maxdepth, o.maxerrors, o.matchlimit), (1.0, 2.0, 2.0));
        let e = parse(&args(&["-path", "/etc", "-maxdepth", "deep"])).unwrap_err();
        assert!(e.to_string().contains("-maxdepth"), "{e}");
        assert!(parse(&args(&["-path", "/", "stray"])).is_err());
    }
}
