//! pkg: "which hosts run this vulnerable package version?" Installed packages from dpkg, RPM
//! (SQLite database) and apk, matched by name and version regexes. MIG's parameters and results.

use crate::flags::{self, Flag};
use crate::os::packages;
use crate::{gofmt, Context, Module, ModuleError, Report};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
/// pkg's parameters, MIG's names.
pub(crate) struct Params {
    /// The package names to look for.
    #[serde(default)]
    pub pkgmatch: PkgMatch,
    /// A regex on the version; a leading `!` inverts it. Empty: any version.
    #[serde(default)]
    pub vermatch: String,
}

/// MIG's `pkgmatch` object.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub(crate) struct PkgMatch {
    /// Regexes on the package name; a package matching any is reported.
    #[serde(default, deserialize_with = "mig_core::action::null_as_default")]
    pub matches: Vec<String>,
}

/// MIG's `PackageInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PackageInfo {
    /// The package's name.
    pub name: String,
    /// Its version, as the package manager writes it.
    pub version: String,
    #[serde(rename = "type")]
    /// The package manager: `dpkg`, `rpm` or `apk`.
    pub kind: String,
    /// Its architecture.
    pub arch: String,
}

const FLAGS: &[Flag] = &[
    Flag::multi("name", "<regex>", "package name regex"),
    Flag::value(
        "version",
        "<regex>",
        "version regex (a leading ! inverts it)",
    ),
];

/// The parameters' regexes, compiled.
pub(crate) struct Compiled {
    names: Vec<Regex>,
    version: Option<(Regex, bool)>,
}

/// What pkg reports, MIG's `elements`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Elements {
    /// The matching packages, sorted.
    pub packages: Vec<PackageInfo>,
}

/// pkg's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How many packages are installed.
    pub installed: usize,
    /// How long the run took (MIG's name for it in pkg).
    pub execruntime: String,
}

fn compile(p: &Params) -> Result<Compiled, ModuleError> {
    if p.pkgmatch.matches.is_empty() {
        return Err(ModuleError::invalid(
            "pkgmatch.matches",
            "expected at least one package name regex",
        ));
    }
    let names = p
        .pkgmatch
        .matches
        .iter()
        .map(|m| {
            Regex::new(m)
                .map_err(|e| ModuleError::invalid("pkgmatch.matches", format!("{m:?}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let version = if p.vermatch.is_empty() {
        None
    } else {
        let (negate, pattern) = match p.vermatch.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p.vermatch.as_str()),
        };
        Some((
            Regex::new(pattern)
                .map_err(|e| ModuleError::invalid("vermatch", format!("{:?}: {e}", p.vermatch)))?,
            negate,
        ))
    };
    Ok(Compiled { names, version })
}

/// The pkg module.
pub(crate) struct Pkg;

impl Module for Pkg {
    const NAME: &'static str = "pkg";
    const ABOUT: &'static str = "installed packages (dpkg, rpm, apk) by name and version";
    type Params = Params;
    type Plan = Compiled;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Compiled, ModuleError> {
        compile(p)
    }

    fn run(c: &Compiled, _ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        let (installed, errors) = packages::installed();
        // Names as MIG reports and matches them: dpkg's arch-qualified `libssl3:amd64`.
        let native = packages::dpkg_native_arch(&installed);
        let mut found: Vec<PackageInfo> = installed
            .iter()
            .map(|pk| (pk.binary_name(native), pk))
            .filter(|(name, _)| c.names.iter().any(|r| r.is_match(name)))
            .filter(|(_, pk)| {
                c.version
                    .as_ref()
                    .is_none_or(|(r, neg)| r.is_match(&pk.version) != *neg)
            })
            .map(|(name, pk)| PackageInfo {
                name,
                version: pk.version.clone(),
                kind: pk.kind.to_string(),
                arch: pk.arch.clone(),
            })
            .collect();
        found.sort();
        Ok(Report {
            foundanything: !found.is_empty(),
            elements: Elements { packages: found },
            statistics: Statistics {
                installed: installed.len(),
                execruntime: gofmt::duration(start.elapsed()),
            },
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        Ok(Params {
            pkgmatch: PkgMatch {
                matches: f.all("name"),
            },
            vermatch: f.value("version").unwrap_or("").to_string(),
        })
    }

    /// MIG's lines, word for word: one per package, then the errors and the run time.
    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let mut lines: Vec<String> = report
            .elements
            .packages
            .iter()
            .map(|p| {
                format!(
                    "pkgmatch name={} version={} type={} arch={}",
                    p.name, p.version, p.kind, p.arch
                )
            })
            .collect();
        if !found_only {
            lines.extend(report.errors.iter().cloned());
            lines.push(format!(
                "Statistics: runtime {}",
                report.statistics.execruntime
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;
    use serde_json::json;

    #[test]
    fn matches_this_systems_dpkg_database_like_dpkg_query() {
        if !std::path::Path::new(packages::DPKG_STATUS).exists() {
            return;
        }
        let r = lookup("pkg").unwrap().run_json(
            &json!({"pkgmatch": {"matches": ["^bash$"]}, "vermatch": ""}),
            &Context::default(),
        );
        assert!(r.success, "{:?}", r.errors);
        let pkgs = r.elements["packages"].as_array().unwrap();
        assert_eq!(pkgs.len(), 1);
        let want = std::process::Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "bash"])
            .output()
            .unwrap();
        assert_eq!(
            pkgs[0]["version"],
            String::from_utf8_lossy(&want.stdout).as_ref()
        );
        assert_eq!(pkgs[0]["type"], "dpkg");
        // An inverted version regex that matches: nothing.
        let v = pkgs[0]["version"].as_str().unwrap().to_string();
        let r = lookup("pkg").unwrap().run_json(&json!({"pkgmatch": {"matches": ["^bash$"]}, "vermatch": format!("!^{}$", regex::escape(&v))}), &Context::default());
        assert!(!r.foundanything);
    }

    #[test]
    fn dpkg_names_are_those_dpkg_l_shows_as_mig_reports_them() {
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f", "${db:Status-Status} ${binary:Package}\\n"])
            .output()
            .expect("dpkg-query");
        let mut want: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("installed "))
            .map(str::to_string)
            .collect();
        want.sort();
        let r = lookup("pkg").unwrap().run_json(
            &json!({"pkgmatch": {"matches": ["."]}}),
            &Context::default(),
        );
        let mut got: Vec<String> = r.elements["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "dpkg")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        assert_eq!(got, want);
        // So `^libc6$` means what it means on MIG: nothing on a multiarch system.
        let qualified = want
            .iter()
            .any(|n| n == "libc6:amd64" || n.starts_with("libc6:"));
        let r = lookup("pkg").unwrap().run_json(
            &json!({"pkgmatch": {"matches": ["^libc6$"]}}),
            &Context::default(),
        );
        assert_eq!(r.foundanything, !qualified, "{:?}", r.elements);
    }

    #[test]
    fn results_print_as_migs_printer_writes_them() {
        let r = lookup("pkg").unwrap().run_json(
            &json!({"pkgmatch": {"matches": ["^bash$"]}}),
            &Context::default(),
        );
        assert_eq!(
            r.statistics["execruntime"].as_str().map(|s| !s.is_empty()),
            Some(true)
        );
        let lines = lookup("pkg").unwrap().pretty(&r, false);
        let pkg = &r.elements["packages"][0];
        assert_eq!(
            lines[0],
            format!(
                "pkgmatch name=bash version={} type=dpkg arch={}",
                pkg["version"].as_str().unwrap(),
                pkg["arch"].as_str().unwrap()
            )
        );
        assert!(lines.last().unwrap().starts_with("Statistics: runtime "));
        assert_eq!(lookup("pkg").unwrap().pretty(&r, true).len(), 1);
    }

    #[test]
    fn validation() {
        let m = lookup("pkg").unwrap();
        assert!(m
            .run_json(&json!({"pkgmatch": {"matches": []}}), &Context::default())
            .errors[0]
            .contains("pkgmatch.matches"));
        assert!(m
            .run_json(
                &json!({"pkgmatch": {"matches": ["("]}}),
                &Context::default()
            )
            .errors[0]
            .contains("pkgmatch.matches"));
        assert!(m
            .run_json(
                &json!({"pkgmatch": {"matches": ["a"]}, "vermatch": "!("}),
                &Context::default()
            )
            .errors[0]
            .contains("vermatch"));
        let p = Pkg::parse_flags(&[
            "-name".into(),
            "^openssl".into(),
            "-name".into(),
            "^libssl".into(),
            "-version".into(),
            "^3".into(),
        ])
        .unwrap();
        assert_eq!(p.pkgmatch.matches.len(), 2);
        assert_eq!(p.vermatch, "^3");
    }
}
