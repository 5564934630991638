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
];

pub(crate) fn parse(args: &[String]) -> Result<Params, ModuleError> {
    let p = flags::parse(FLAGS, args)?;
    if let Some(extra) = p.positional.first() {
        return Err(ModuleError::Flag(format!(
            "unexpected argument {extra:?} (flags start with -)"
        )));
    }
    let int = |name: &str, default: i64| -> Result<f64, ModuleError> {
        let v = p.int(name)?.unwrap_or(default);
        if v < 0 {
            return Err(ModuleError::Flag(format!("-{name} must not be negative")));
        }
        Ok(v as f64)
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
            maxdepth: int("maxdepth", 1000)?,
            maxerrors: int("maxerrors", 30)?,
            remotefs: p.bool("remotefs").unwrap_or(false),
            matchall: !matchany && p.bool("matchall").unwrap_or(true),
            macroal: p.bool("macroal").unwrap_or(false),
            mismatch: (!mismatch.is_empty()).then_some(mismatch),
            matchlimit: int("matchlimit", 1000)?,
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
        assert!(parse(&args(&["-path", "/", "stray"])).is_err());
    }
}
