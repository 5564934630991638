//! deb_packages, rpm_packages, apt_sources: the package managers' own databases and
//! configuration, read without running them.

use super::super::paths::sorted_entries;
use super::super::row::{saturate, table_row};
use super::super::schema::*;
use mig_host::packages::{self, Package};
use std::path::{Path, PathBuf};

table_row! {
    /// One installed DEB package.
    struct DebRow {
        name: text = "Package name",
        version: text = "Package version",
        source: text = "Package source",
        size: bigint = "Package size in bytes",
        arch: text = "Package architecture",
        revision: text = "Package revision",
        status: text = "Package status",
        maintainer: text = "Package maintainer",
        section: text = "Package section",
        priority: text = "Package priority",
        admindir: text = "libdpkg admindir. Defaults to /var/lib/dpkg",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        mount_namespace_id: text = "Mount namespace id",
    }
}

pub(crate) static DEB_PACKAGES: Table = Table {
    name: "deb_packages",
    about: "The installed DEB package database.",
    columns: DebRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_deb,
    reach: Reach::Host,
    example: "SELECT name, version FROM deb_packages WHERE name LIKE 'openssl%' AND version_compare(version, '3.0.11', 'DPKG') < 0",
};

fn gen_deb(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    if !Path::new(packages::DPKG_STATUS).exists() {
        return Ok(VecRows::boxed(Vec::<DebRow>::new()));
    }
    let text = std::fs::read_to_string(packages::DPKG_STATUS)
        .map_err(|e| format!("{}: {e}", packages::DPKG_STATUS))?;
    let admindir = Path::new(packages::DPKG_STATUS)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(VecRows::boxed(
        packages::parse_dpkg_status(&text)
            .into_iter()
            .map(|p: Package| {
                // The Debian revision is what follows the last hyphen, if any.
                let revision = p
                    .version
                    .rsplit_once('-')
                    .map(|(_, r)| r.to_string())
                    .unwrap_or_default();
                DebRow {
                    name: p.name,
                    version: p.version,
                    source: p.source,
                    size: saturate(p.size),
                    arch: p.arch,
                    revision,
                    status: p.status,
                    maintainer: p.maintainer,
                    section: p.section,
                    priority: p.priority,
                    admindir: admindir.clone(),
                }
            })
            .collect(),
    ))
}

table_row! {
    /// One file of an installed Debian package.
    struct DebFileRow {
        package: text = "DEB package name",
        path: text = "File path within the package",
        admindir: text = "libdpkg admindir. Defaults to /var/lib/dpkg",
    }
}

pub(crate) static DEB_PACKAGE_FILES: Table = Table {
    name: "deb_package_files",
    about: "Installed files from DEB packages that are currently installed on the system (dpkg's info/*.list, as `dpkg -L` lists them).",
    columns: DebFileRow::COLUMNS,
    index: &["package"],
    required: &[],
    like: &[],
    generate: gen_deb_files,
    reach: Reach::Host,
    example: "SELECT path FROM deb_package_files WHERE package = 'openssh-server'",
};

fn gen_deb_files(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let admindir = Path::new(packages::DPKG_STATUS)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let info = Path::new(&admindir).join("info");
    let wanted = q.texts("package");
    let mut lists: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&info)
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let stem = p.file_name()?.to_str()?.strip_suffix(".list")?;
            // `libc6:amd64.list` is package libc6 (of one architecture).
            let package = stem
                .split_once(':')
                .map_or(stem, |(name, _)| name)
                .to_string();
            Some((package, p))
        })
        .filter(|(package, _)| wanted.as_ref().is_none_or(|w| w.contains(package)))
        .collect();
    lists.sort();
    let mut lists = lists.into_iter();
    let mut current: Option<(String, std::vec::IntoIter<String>)> = None;
    let budget = q.budget.clone();
    Ok(Box::new(FnRows(move || loop {
        if let Some((package, paths)) = current.as_mut() {
            if let Some(path) = paths.next() {
                return Ok(Some(DebFileRow {
                    package: package.clone(),
                    path,
                    admindir: admindir.clone(),
                }));
            }
        }
        budget.check().map_err(|s| s.to_string())?;
        let Some((package, list)) = lists.next() else {
            return Ok(None);
        };
        let text = mig_host::optional(&list, |p| std::fs::read(p))
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let paths: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        current = Some((package, paths.into_iter()));
    })))
}

table_row! {
    /// One file of an installed RPM package.
    struct RpmFileRow {
        package: text = "RPM package name",
        path: text = "File path within the package",
        username: text = "File default username from info DB",
        groupname: text = "File default groupname from info DB",
        mode: text = "File permissions mode from info DB",
        size: bigint = "Expected file size in bytes from RPM info DB",
        sha256: text = "SHA256 file digest from RPM info DB",
    }
}

pub(crate) static RPM_PACKAGE_FILES: Table = Table {
    name: "rpm_package_files",
    about: "RPM packages that are currently installed on the host system, with their files (RPM 4.16+ SQLite database).",
    columns: RpmFileRow::COLUMNS,
    index: &["package"],
    required: &[],
    like: &[],
    generate: gen_rpm_files,
    reach: Reach::Host,
    example: "SELECT path, mode, sha256 FROM rpm_package_files WHERE package = 'openssh-server'",
};

fn gen_rpm_files(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let Some(db) = packages::RPMDB_PATHS.iter().find(|p| Path::new(p).exists()) else {
        return Ok(VecRows::boxed(Vec::<RpmFileRow>::new()));
    };
    let wanted = q.texts("package");
    let rows: Vec<RpmFileRow> = packages::read_rpmdb_files(Path::new(db))?
        .into_iter()
        .filter(|(name, _)| wanted.as_ref().is_none_or(|w| w.contains(name)))
        .flat_map(|(name, files)| {
            files.into_iter().map(move |f| RpmFileRow {
                package: name.clone(),
                path: f.path,
                username: f.username,
                groupname: f.groupname,
                mode: format!("{:04o}", f.mode & 0o7777),
                size: saturate(f.size),
                sha256: f.sha256,
            })
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One installed Gentoo package.
    struct PortageRow {
        package: text = "Package name",
        version: text = "The version which are affected by the use flags, empty means all",
        slot: text = "The slot used by package",
        build_time: Option<bigint> = "Unix time when package was built",
        repository: text = "From which repository the ebuild was used",
        eapi: Option<bigint> = "The eapi for the ebuild",
        size: Option<bigint> = "The size of the package",
        world: integer = "If package is in the world file",
    }
}

pub(crate) static PORTAGE_PACKAGES: Table = Table {
    name: "portage_packages",
    about:
        "List of currently installed packages on Gentoo (Portage's /var/db/pkg); empty elsewhere.",
    columns: PortageRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_portage_packages,
    reach: Reach::Host,
    example: "SELECT package, version, world FROM portage_packages WHERE package LIKE 'dev-libs/%'",
};

const PORTAGE_DB: &str = "/var/db/pkg";
const PORTAGE_WORLD: &str = "/var/lib/portage/world";

fn gen_portage_packages(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let world = std::fs::read_to_string(PORTAGE_WORLD).unwrap_or_default();
    Ok(VecRows::boxed(portage_packages(
        Path::new(PORTAGE_DB),
        &world,
    )))
}

/// `category/name-version` directories, with their SLOT, BUILD_TIME, repository, EAPI and
/// SIZE files, and whether the world file names the package.
fn portage_packages(db: &Path, world: &str) -> Vec<PortageRow> {
    let world: std::collections::BTreeSet<&str> = world
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.starts_with('#'))
        .collect();
    installed_ebuilds(db)
        .into_iter()
        .map(|(package, version, pkg)| {
            let read = |f: &str| {
                std::fs::read_to_string(pkg.join(f))
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default()
            };
            let number = |f: &str| read(f).parse::<i64>().ok();
            PortageRow {
                world: i64::from(world.contains(package.as_str())),
                package,
                version,
                slot: read("SLOT"),
                build_time: number("BUILD_TIME"),
                repository: read("repository"),
                eapi: number("EAPI"),
                size: number("SIZE"),
            }
        })
        .collect()
}

/// Portage's installed packages: (`category/name`, version, its directory).
fn installed_ebuilds(db: &Path) -> Vec<(String, String, PathBuf)> {
    let dirs = |d: &Path| sorted_entries(d, Path::is_dir);
    let base = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for category in dirs(db) {
        let cat = base(&category);
        for pkg in dirs(&category) {
            let full = base(&pkg);
            let (name, version) = split_gentoo_version(&full);
            out.push((format!("{cat}/{name}"), version.to_string(), pkg));
        }
    }
    out
}

table_row! {
    /// One USE flag an installed Gentoo package was built with.
    struct PortageUseRow {
        package: text = "Package name",
        version: text = "The version of the installed package",
        r#use: text = "USE flag which has been enabled for package",
    }
}

pub(crate) static PORTAGE_USE: Table = Table {
    name: "portage_use",
    about: "List of enabled portage USE values for specific package (each installed package's USE file); empty off Gentoo.",
    columns: PortageUseRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_portage_use,
    reach: Reach::Host,
    example: "SELECT package, use FROM portage_use WHERE use = 'ssl'",
};

fn gen_portage_use(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(portage_use(Path::new(PORTAGE_DB))))
}

fn portage_use(db: &Path) -> Vec<PortageUseRow> {
    installed_ebuilds(db)
        .into_iter()
        .flat_map(|(package, version, dir)| {
            let flags = std::fs::read_to_string(dir.join("USE")).unwrap_or_default();
            flags
                .split_whitespace()
                .map(|flag| PortageUseRow {
                    package: package.clone(),
                    version: version.clone(),
                    r#use: flag.to_string(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `openssl-3.0.13-r1` → (`openssl`, `3.0.13-r1`): the version starts at the first `-`
/// followed by a digit that leaves only version parts after it.
fn split_gentoo_version(full: &str) -> (&str, &str) {
    let mut at = None;
    for (i, _) in full.match_indices('-') {
        if full[i + 1..].starts_with(|c: char| c.is_ascii_digit()) {
            at = Some(i);
            break;
        }
    }
    match at {
        Some(i) => (&full[..i], &full[i + 1..]),
        None => (full, ""),
    }
}

table_row! {
    /// One package a Portage keyword, mask or unmask file names.
    struct PortageKeywordRow {
        package: text = "Package name",
        version: text = "The version which are affected by the use flags, empty means all",
        keyword: text = "The keyword applied to the package",
        mask: integer = "If the package is masked",
        unmask: integer = "If the package is unmasked",
    }
}

pub(crate) static PORTAGE_KEYWORDS: Table = Table {
    name: "portage_keywords",
    about: "A summary about portage configurations like keywords, mask and unmask: /etc/portage/package.keywords and package.accept_keywords, package.mask and package.unmask (files, or directories of files); empty off Gentoo.",
    columns: PortageKeywordRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_portage_keywords,
    reach: Reach::Host,
    example: "SELECT package, version, keyword, mask, unmask FROM portage_keywords",
};

const PORTAGE_ETC: &str = "/etc/portage";

fn gen_portage_keywords(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(portage_keywords(Path::new(PORTAGE_ETC))))
}

/// A Portage configuration file's text, or a directory's files' in name order (Portage takes
/// either); empty when absent.
fn portage_config(path: &Path) -> String {
    if path.is_dir() {
        sorted_entries(path, Path::is_file)
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default() + "\n")
            .collect()
    } else {
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

/// An atom (`>=dev-lang/rust-1.70.0`) as osquery splits it: the package, and the version
/// with its operator (a lone leading `=` dropped, as osquery drops it).
fn split_atom(atom: &str) -> (String, String) {
    let atom = atom.strip_suffix('/').unwrap_or(atom);
    let body = atom.trim_start_matches(['>', '<', '=']);
    let ops = &atom[..atom.len() - body.len()];
    let ops = if ops == "=" { "" } else { ops };
    let (category, name) = body.split_once('/').unwrap_or(("", body));
    let (name, version) = split_gentoo_version(name);
    let package = if category.is_empty() {
        name.to_string()
    } else {
        format!("{category}/{name}")
    };
    if version.is_empty() {
        (package, String::new())
    } else {
        (package, format!("{ops}{version}"))
    }
}

fn portage_keywords(etc: &Path) -> Vec<PortageKeywordRow> {
    let mut rows: Vec<PortageKeywordRow> = Vec::new();
    let mut by_atom: std::collections::HashMap<String, usize> = Default::default();
    let keywords = portage_config(&etc.join("package.keywords"))
        + "\n"
        + &portage_config(&etc.join("package.accept_keywords"));
    let entries = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let atom = words.next().filter(|w| !w.starts_with('#'))?;
                Some((atom.to_string(), words.collect::<Vec<_>>().join(" ")))
            })
            .collect()
    };
    for (atom, keyword) in entries(&keywords) {
        if keyword.starts_with('#') {
            continue;
        }
        let (package, version) = split_atom(&atom);
        by_atom.insert(atom, rows.len());
        rows.push(PortageKeywordRow {
            package,
            version,
            keyword,
            mask: 0,
            unmask: 0,
        });
    }
    for (file, masking) in [("package.mask", true), ("package.unmask", false)] {
        for (atom, _) in entries(&portage_config(&etc.join(file))) {
            let i = *by_atom.entry(atom.clone()).or_insert_with(|| {
                let (package, version) = split_atom(&atom);
                rows.push(PortageKeywordRow {
                    package,
                    version,
                    keyword: String::new(),
                    mask: 0,
                    unmask: 0,
                });
                rows.len() - 1
            });
            if masking {
                rows[i].mask = 1;
            } else {
                rows[i].unmask = 1;
            }
        }
    }
    rows
}

table_row! {
    /// One installed RPM package.
    struct RpmRow {
        name: text = "RPM package name",
        version: text = "Package version",
        release: text = "Package release",
        source: text = "Source RPM package name (optional)",
        size: bigint = "Package size in bytes",
        sha1: text = "SHA1 hash of the package contents",
        arch: text = "Architecture(s) supported",
        epoch: Option<integer> = "Package epoch value",
        install_time: integer = "When the package was installed",
        vendor: text = "Package vendor",
        package_group: text = "Package group",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        mount_namespace_id: text = "Mount namespace id",
    }
}

pub(crate) static RPM_PACKAGES: Table = Table {
    name: "rpm_packages",
    about:
        "RPM packages that are currently installed on the host system (RPM 4.16+ SQLite database).",
    columns: RpmRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_rpm,
    reach: Reach::Host,
    example: "SELECT name, version, release FROM rpm_packages WHERE name = 'openssl'",
};

fn gen_rpm(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let Some(db) = packages::RPMDB_PATHS.iter().find(|p| Path::new(p).exists()) else {
        return Ok(VecRows::boxed(Vec::<RpmRow>::new()));
    };
    Ok(VecRows::boxed(
        packages::read_rpmdb(Path::new(db))?
            .into_iter()
            .map(|p| RpmRow {
                name: p.name,
                version: p.upstream_version,
                release: p.release,
                source: p.source,
                size: saturate(p.size),
                sha1: p.sha1,
                arch: p.arch,
                // NULL when the package declares none.
                epoch: p.epoch.map(i64::from),
                install_time: p.install_time,
                vendor: p.maintainer,
                package_group: p.section,
            })
            .collect(),
    ))
}

table_row! {
    /// One APT repository.
    struct AptSourceRow {
        name: text = "Repository name",
        source: text = "Source file",
        base_uri: text = "Repository base URI",
        release: text = "Release name",
        version: text = "Repository source version",
        maintainer: text = "Repository maintainer",
        components: text = "Repository components",
        architectures: text = "Repository architectures",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static APT_SOURCES: Table = Table {
    name: "apt_sources",
    about: "Current list of APT repositories or software channels.",
    columns: AptSourceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_apt_sources,
    reach: Reach::Host,
    example: "SELECT base_uri, release, components FROM apt_sources",
};

/// One `deb` source: where it is configured, its URI, suite and components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AptSource {
    pub file: String,
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    pub architectures: Vec<String>,
}

/// One-line format: `deb [arch=amd64 signed-by=…] URI suite component…`.
pub(crate) fn parse_list(file: &str, text: &str) -> Vec<AptSource> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            let rest = l.strip_prefix("deb ")?.trim_start();
            let (opts, rest) = match rest.strip_prefix('[') {
                Some(r) => r.split_once(']')?,
                None => ("", rest),
            };
            let mut f = rest.split_whitespace();
            let uri = f.next()?.to_string();
            let suite = f.next()?.to_string();
            let architectures = opts
                .split_whitespace()
                .find_map(|o| o.strip_prefix("arch="))
                .map(|a| a.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            Some(AptSource {
                file: file.to_string(),
                uri,
                suite,
                components: f.map(str::to_string).collect(),
                architectures,
            })
        })
        .collect()
}

/// deb822 format (`.sources`): paragraphs of Types, URIs, Suites, Components.
pub(crate) fn parse_sources(file: &str, text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let field = |name: &str| -> Vec<String> {
            para.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.to_string())
                })
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        if !field("Types").iter().any(|t| t == "deb")
            || field("Enabled").first().is_some_and(|e| e == "no")
        {
            continue;
        }
        for uri in field("URIs") {
            for suite in field("Suites") {
                out.push(AptSource {
                    file: file.to_string(),
                    uri: uri.clone(),
                    suite,
                    components: field("Components"),
                    architectures: field("Architectures"),
                });
            }
        }
    }
    out
}

/// APT's file name for a repository's Release file: the URI without its scheme, `/` → `_`.
pub(crate) fn release_file(uri: &str, suite: &str) -> String {
    let bare = uri
        .split_once("://")
        .map_or(uri, |(_, r)| r)
        .trim_end_matches('/');
    format!(
        "{}_dists_{}",
        bare.replace('/', "_"),
        suite.trim_end_matches('/').replace('/', "_")
    )
}

fn release_fields(lists: &Path, uri: &str, suite: &str) -> Vec<(String, String)> {
    let base = release_file(uri, suite);
    for suffix in ["_InRelease", "_Release"] {
        if let Ok(text) = std::fs::read_to_string(lists.join(format!("{base}{suffix}"))) {
            return text
                .lines()
                .take_while(|l| !l.starts_with("MD5Sum:") && !l.starts_with("SHA256:"))
                .filter_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    Some((k.trim().to_string(), v.trim().to_string()))
                })
                .collect();
        }
    }
    Vec::new()
}

fn gen_apt_sources(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut files: Vec<PathBuf> = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(d) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = d.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let lists = Path::new("/var/lib/apt/lists");
    let mut rows = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let name = f.to_string_lossy().into_owned();
        let sources = match f.extension().and_then(|e| e.to_str()) {
            Some("list") => parse_list(&name, &text),
            Some("sources") => parse_sources(&name, &text),
            _ if name == "/etc/apt/sources.list" => parse_list(&name, &text),
            _ => continue,
        };
        for s in sources {
            let rel = release_fields(lists, &s.uri, &s.suite);
            let get = |k: &str| rel.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let architectures = if s.architectures.is_empty() {
                get("Architectures").unwrap_or_default()
            } else {
                s.architectures.join(" ")
            };
            rows.push(AptSourceRow {
                name: get("Label").or_else(|| get("Origin")).unwrap_or_default(),
                source: s.file,
                base_uri: s.uri,
                release: s.suite,
                version: get("Version").unwrap_or_default(),
                maintainer: get("Origin").unwrap_or_default(),
                components: s.components.join(" "),
                architectures,
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

#[cfg(test)]
mod tests {
    #[test]
    fn gentoo_packages() {
        assert_eq!(
            split_gentoo_version("openssl-3.0.13-r1"),
            ("openssl", "3.0.13-r1")
        );
        assert_eq!(split_gentoo_version("gtk+-3.24.41"), ("gtk+", "3.24.41"));
        assert_eq!(split_gentoo_version("font-misc-1.0"), ("font-misc", "1.0"));
        let d = tempfile::tempdir().unwrap();
        let pkg = d.path().join("dev-libs/openssl-3.0.13-r1");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("SLOT"), "0/3\n").unwrap();
        std::fs::write(pkg.join("BUILD_TIME"), "1700000000\n").unwrap();
        std::fs::write(pkg.join("repository"), "gentoo\n").unwrap();
        std::fs::write(pkg.join("EAPI"), "8\n").unwrap();
        let rows = portage_packages(d.path(), "# world\ndev-libs/openssl\n");
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.package.as_str(), r.version.as_str(), r.slot.as_str()),
            ("dev-libs/openssl", "3.0.13-r1", "0/3")
        );
        assert_eq!(
            (r.build_time, r.eapi, r.size, r.world),
            (Some(1_700_000_000), Some(8), None, 1)
        );
        assert!(portage_packages(&d.path().join("none"), "").is_empty());
        std::fs::write(pkg.join("USE"), "abi_x86_64 amd64 asm ssl\n").unwrap();
        let flags: Vec<String> = portage_use(d.path()).into_iter().map(|u| u.r#use).collect();
        assert_eq!(flags, ["abi_x86_64", "amd64", "asm", "ssl"]);
    }

    use super::*;

    #[test]
    fn apt_formats() {
        let l = parse_list("x.list", "deb [arch=amd64 signed-by=/k.gpg] https://deb.example/debian bookworm main contrib\n# deb http://no x\ndeb-src http://src y main\n");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].uri, "https://deb.example/debian");
        assert_eq!(l[0].components, vec!["main", "contrib"]);
        assert_eq!(l[0].architectures, vec!["amd64"]);
        let s = parse_sources("d.sources", "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://off\nSuites: x\nEnabled: no\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].suite, "bookworm-updates");
        assert_eq!(
            release_file("http://deb.debian.org/debian/", "bookworm"),
            "deb.debian.org_debian_dists_bookworm"
        );
    }

    #[test]
    fn portage_keywords_masks_and_unmasks() {
        let etc = tempfile::tempdir().unwrap();
        let e = etc.path();
        std::fs::write(
            e.join("package.keywords"),
            "# comment\n=dev-lang/rust-1.70.0 ~amd64\n>=app-misc/foo-2.1-r1 ~amd64 ~x86\nsys-apps/bar #disabled\n",
        )
        .unwrap();
        std::fs::create_dir(e.join("package.accept_keywords")).unwrap();
        std::fs::write(e.join("package.accept_keywords/extra"), "net-misc/baz **\n").unwrap();
        std::fs::write(
            e.join("package.mask"),
            "=dev-lang/rust-1.70.0\n<www-client/firefox-100\n",
        )
        .unwrap();
        std::fs::write(e.join("package.unmask"), "<www-client/firefox-100\n").unwrap();
        // `sys-apps/bar #disabled`: a commented-out keyword drops the line, as in osquery.
        let rows: Vec<(String, String, String, i64, i64)> = portage_keywords(e)
            .into_iter()
            .map(|r| (r.package, r.version, r.keyword, r.mask, r.unmask))
            .collect();
        let row = |p: &str, v: &str, k: &str, m: i64, u: i64| {
            (p.to_string(), v.to_string(), k.to_string(), m, u)
        };
        assert_eq!(
            rows,
            [
                row("dev-lang/rust", "1.70.0", "~amd64", 1, 0),
                row("app-misc/foo", ">=2.1-r1", "~amd64 ~x86", 0, 0),
                row("net-misc/baz", "", "**", 0, 0),
                row("www-client/firefox", "<100", "", 1, 1),
            ]
        );
        assert!(portage_keywords(&e.join("nowhere")).is_empty());
    }
}
