//! Installed packages, read from the package managers' own databases without running them:
//! dpkg's status file, RPM's SQLite database (RPM ≥ 4.16), and apk's installed database.

use std::path::Path;

/// An installed package, from whichever package manager's database lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package {
    /// The package's name (`libc6`, `openssl-libs`).
    pub name: String,
    /// As the package manager writes it: dpkg `[epoch:]upstream-revision`,
    /// rpm `[epoch:]version-release`.
    pub version: String,
    /// `dpkg`, `rpm` or `apk`.
    pub kind: &'static str,
    /// The architecture it was built for (`amd64`, `x86_64`, `noarch`).
    pub arch: String,
    /// The source package it was built from (dpkg `Source`, RPM's source RPM, apk origin);
    /// empty when not recorded.
    pub source: String,
    /// The installed size as the database records it: KiB for dpkg, bytes for RPM and apk.
    pub size: u64,
    /// The maintainer, usually `Name <address>`; for RPM, the vendor.
    pub maintainer: String,
    /// dpkg's section, or RPM's group.
    pub section: String,
    /// dpkg's priority (`required`, `optional`); empty for RPM and apk.
    pub priority: String,
    /// dpkg's status (`install ok installed`); `installed` for RPM and apk.
    pub status: String,
    /// The one-line description.
    pub summary: String,
    /// RPM: the version alone, without epoch or release.
    pub upstream_version: String,
    /// RPM: the release (`1.el9`).
    pub release: String,
    /// RPM: the epoch, when the package has one.
    pub epoch: Option<u32>,
    /// RPM: when it was installed, in seconds since the Unix epoch.
    pub install_time: i64,
    /// RPM: the SHA-1 of the package header, in hex.
    pub sha1: String,
    /// dpkg's `Multi-Arch` (`same`, `foreign`, `allowed`); empty when not declared.
    pub multi_arch: String,
}

impl Package {
    /// The name as `dpkg -l` and `dpkg-query -f '${binary:Package}'` write it (and MIG reports
    /// it): qualified with its architecture (`libssl3:amd64`) when the package is `Multi-Arch:
    /// same` or built for another architecture than dpkg's own (`native`); the name alone
    /// otherwise, and for other package managers.
    pub fn binary_name(&self, native: Option<&str>) -> String {
        let foreign = native.is_some_and(|n| self.arch != n && self.arch != "all");
        if self.kind == "dpkg" && self.arch != "all" && (self.multi_arch == "same" || foreign) {
            format!("{}:{}", self.name, self.arch)
        } else {
            self.name.clone()
        }
    }
}

/// dpkg's own architecture: the one its `dpkg` package is built for.
pub fn dpkg_native_arch(packages: &[Package]) -> Option<&str> {
    packages
        .iter()
        .find(|p| p.kind == "dpkg" && p.name == "dpkg")
        .map(|p| p.arch.as_str())
}

/// dpkg's status file, which lists the installed packages.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// Where RPM ≥ 4.16 keeps its SQLite database, most usual first.
pub const RPMDB_PATHS: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];
/// Where older RPMs keep their Berkeley DB or NDB database, which is not read: finding one is
/// reported as an error.
pub const RPMDB_BDB_PATHS: &[&str] = &["/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db"];
/// apk's database of installed packages.
pub const APK_INSTALLED: &str = "/lib/apk/db/installed";

/// Every package of every package manager found on this system, and the problems met. A
/// package manager whose database is absent is not there; one whose database cannot be looked
/// up or read is a problem, not an absence.
pub fn installed() -> (Vec<Package>, Vec<String>) {
    let mut pkgs = Vec::new();
    let mut errors = Vec::new();
    let text_of = |path: &str, errors: &mut Vec<String>| {
        crate::optional(path, |p| std::fs::read_to_string(p)).unwrap_or_else(|e| {
            errors.push(e.to_string());
            None
        })
    };
    if let Some(text) = text_of(DPKG_STATUS, &mut errors) {
        pkgs.extend(parse_dpkg_status(&text));
    }
    match first_existing(RPMDB_PATHS) {
        Ok(Some(db)) => match read_rpmdb(Path::new(db)) {
            Ok(p) => pkgs.extend(p),
            Err(e) => errors.push(e),
        },
        Ok(None) => match first_existing(RPMDB_BDB_PATHS) {
            Ok(Some(bdb)) => errors.push(format!(
                "{bdb}: this RPM database format (Berkeley DB / NDB) is not supported; RPM 4.16+ uses SQLite"
            )),
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        },
        Err(e) => errors.push(e.to_string()),
    }
    if let Some(text) = text_of(APK_INSTALLED, &mut errors) {
        pkgs.extend(parse_apk_installed(&text));
    }
    (pkgs, errors)
}

/// The first of `paths` that exists; an error naming one that cannot be looked up.
fn first_existing<'a>(paths: &[&'a str]) -> std::io::Result<Option<&'a str>> {
    for p in paths {
        if crate::optional(p, |p| std::fs::metadata(p))?.is_some() {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// dpkg's status file: RFC 822-style paragraphs; only installed packages count.
pub fn parse_dpkg_status(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut p = Package {
            kind: "dpkg",
            ..Default::default()
        };
        let mut last_key = "";
        for line in para.lines() {
            if line.starts_with(' ') || line.starts_with('\t') {
                // Continuation lines belong to multi-line fields we do not keep.
                let _ = last_key;
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_string();
            last_key = key;
            match key {
                "Package" => p.name = value,
                "Version" => p.version = value,
                "Architecture" => p.arch = value,
                "Status" => p.status = value,
                "Source" => p.source = value,
                "Installed-Size" => p.size = value.parse().unwrap_or(0),
                "Maintainer" => p.maintainer = value,
                "Section" => p.section = value,
                "Priority" => p.priority = value,
                "Description" => p.summary = value,
                "Multi-Arch" => p.multi_arch = value,
                _ => {}
            }
        }
        let installed = p.status.ends_with(" installed") && !p.status.starts_with("deinstall");
        if !p.name.is_empty() && installed {
            out.push(p);
        }
    }
    out
}

/// apk's installed database: paragraphs of one-letter keys.
pub fn parse_apk_installed(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut p = Package {
            kind: "apk",
            status: "installed".into(),
            ..Default::default()
        };
        for line in para.lines() {
            if let Some((k, v)) = line.split_once(':') {
                match k {
                    "P" => p.name = v.to_string(),
                    "V" => p.version = v.to_string(),
                    "A" => p.arch = v.to_string(),
                    "I" => p.size = v.parse().unwrap_or(0),
                    "m" => p.maintainer = v.to_string(),
                    "o" => p.source = v.to_string(),
                    "T" => p.summary = v.to_string(),
                    _ => {}
                }
            }
        }
        if !p.name.is_empty() {
            out.push(p);
        }
    }
    out
}

/// RPM ≥ 4.16 keeps one header blob per package in the `Packages` table of a SQLite file.
pub fn read_rpmdb(path: &Path) -> Result<Vec<Package>, String> {
    rpmdb_headers(path, parse_rpm_header)
}

/// Every installed package's name and files, from the same database.
pub fn read_rpmdb_files(path: &Path) -> Result<Vec<(String, Vec<RpmFile>)>, String> {
    rpmdb_headers(path, parse_rpm_files)
}

/// Each package header of an RPM database, read with `parse`; a header it cannot read is an
/// error naming the database.
fn rpmdb_headers<T>(path: &Path, parse: fn(&[u8]) -> Option<T>) -> Result<Vec<T>, String> {
    let db = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut stmt = db
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| format!("{}: not an RPM database: {e}", path.display()))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for blob in rows {
        let blob = blob.map_err(|e| format!("{}: {e}", path.display()))?;
        match parse(&blob) {
            Some(p) => out.push(p),
            None => return Err(format!("{}: a package header is corrupt", path.display())),
        }
    }
    Ok(out)
}

const RPMTAG_NAME: u32 = 1000;
const RPMTAG_VERSION: u32 = 1001;
const RPMTAG_RELEASE: u32 = 1002;
const RPMTAG_EPOCH: u32 = 1003;
const RPMTAG_SUMMARY: u32 = 1004;
const RPMTAG_SIZE: u32 = 1009;
const RPMTAG_VENDOR: u32 = 1011;
const RPMTAG_GROUP: u32 = 1016;
const RPMTAG_ARCH: u32 = 1022;
const RPMTAG_SOURCERPM: u32 = 1044;
const RPMTAG_INSTALLTIME: u32 = 1008;
const RPMTAG_SHA1HEADER: u32 = 269;

/// One index entry of an RPM header: its tag, type, where its data starts and how many
/// values it holds.
struct HeaderEntry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: u32,
}

/// An RPM header: `il`, `dl`, `il` index entries (tag, type, offset, count), then the data.
fn header_entries(blob: &[u8]) -> Option<(Vec<HeaderEntry>, &[u8])> {
    let blob = blob
        .strip_prefix(&[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0][..])
        .unwrap_or(blob);
    let be = |i: usize| -> Option<u32> {
        blob.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let il = be(0)? as usize;
    let dl = be(4)? as usize;
    let data_start = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = blob.get(data_start..data_start.checked_add(dl)?)?;
    let entries = (0..il)
        .map(|i| {
            let e = 8 + i * 16;
            Some(HeaderEntry {
                tag: be(e)?,
                kind: be(e + 4)?,
                offset: be(e + 8)? as usize,
                count: be(e + 12)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((entries, data))
}

/// A file of an installed RPM package, as its header lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    /// The file's path.
    pub path: String,
    /// Its owner's and group's names.
    pub username: String,
    /// The file's group.
    pub groupname: String,
    /// Its mode (type and permission bits).
    pub mode: u16,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 digest, when the package lists SHA-256 digests (older ones list MD5).
    pub sha256: String,
}

const RPMTAG_FILESIZES: u32 = 1028;
const RPMTAG_FILEMODES: u32 = 1030;
const RPMTAG_FILEDIGESTS: u32 = 1035;
const RPMTAG_FILEUSERNAME: u32 = 1039;
const RPMTAG_FILEGROUPNAME: u32 = 1040;
const RPMTAG_DIRINDEXES: u32 = 1116;
const RPMTAG_BASENAMES: u32 = 1117;
const RPMTAG_DIRNAMES: u32 = 1118;
const RPMTAG_LONGFILESIZES: u32 = 5008;
const RPMTAG_FILEDIGESTALGO: u32 = 5011;
/// PGPHASHALGO_SHA256, in RPMTAG_FILEDIGESTALGO.
const DIGEST_SHA256: u32 = 8;

/// A package's name and files, from its header.
pub fn parse_rpm_files(blob: &[u8]) -> Option<(String, Vec<RpmFile>)> {
    let (entries, data) = header_entries(blob)?;
    let strings = |e: &HeaderEntry| -> Vec<String> {
        let mut out = Vec::new();
        let mut at = e.offset;
        for _ in 0..e.count {
            let Some(s) = data.get(at..) else { break };
            let Some(end) = s.iter().position(|b| *b == 0) else {
                break;
            };
            out.push(String::from_utf8_lossy(&s[..end]).into_owned());
            at += end + 1;
        }
        out
    };
    let ints = |e: &HeaderEntry, width: usize| -> Vec<u64> {
        (0..e.count as usize)
            .map_while(|i| {
                let b = data.get(e.offset + i * width..e.offset + (i + 1) * width)?;
                Some(b.iter().fold(0u64, |n, byte| (n << 8) | u64::from(*byte)))
            })
            .collect()
    };
    let find = |tag: u32| entries.iter().find(|e| e.tag == tag);
    let name = find(RPMTAG_NAME).map(strings)?.into_iter().next()?;
    let basenames = find(RPMTAG_BASENAMES).map(strings).unwrap_or_default();
    let dirnames = find(RPMTAG_DIRNAMES).map(strings).unwrap_or_default();
    let dirindexes = find(RPMTAG_DIRINDEXES)
        .map(|e| ints(e, 4))
        .unwrap_or_default();
    let users = find(RPMTAG_FILEUSERNAME).map(strings).unwrap_or_default();
    let groups = find(RPMTAG_FILEGROUPNAME).map(strings).unwrap_or_default();
    let modes = find(RPMTAG_FILEMODES)
        .map(|e| ints(e, 2))
        .unwrap_or_default();
    let sizes = match find(RPMTAG_LONGFILESIZES) {
        Some(e) => ints(e, 8),
        None => find(RPMTAG_FILESIZES)
            .map(|e| ints(e, 4))
            .unwrap_or_default(),
    };
    let sha256 = find(RPMTAG_FILEDIGESTALGO)
        .and_then(|e| ints(e, 4).first().copied())
        .is_some_and(|a| a == u64::from(DIGEST_SHA256));
    let digests = find(RPMTAG_FILEDIGESTS).map(strings).unwrap_or_default();
    let text = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
    let files = basenames
        .iter()
        .enumerate()
        .map(|(i, base)| {
            let dir = dirindexes
                .get(i)
                .and_then(|d| dirnames.get(*d as usize))
                .cloned()
                .unwrap_or_default();
            RpmFile {
                path: format!("{dir}{base}"),
                username: text(&users, i),
                groupname: text(&groups, i),
                mode: modes.get(i).copied().unwrap_or(0) as u16,
                size: sizes.get(i).copied().unwrap_or(0),
                sha256: if sha256 {
                    text(&digests, i)
                } else {
                    String::new()
                },
            }
        })
        .collect();
    Some((name, files))
}

/// An RPM header: `il`, `dl`, `il` index entries (tag, type, offset, count), then the data.
pub fn parse_rpm_header(blob: &[u8]) -> Option<Package> {
    let (entries, data) = header_entries(blob)?;
    let mut p = Package {
        kind: "rpm",
        status: "installed".into(),
        ..Default::default()
    };
    let (mut version, mut release, mut epoch) = (String::new(), String::new(), None);
    for e in &entries {
        let (tag, kind, offset, count) = (e.tag, e.kind, e.offset, e.count);
        let string = || -> Option<String> {
            let s = data.get(offset..)?;
            let end = s.iter().position(|b| *b == 0)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        let int32 = || -> Option<u32> {
            let b = data.get(offset..offset + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let is_string = matches!(kind, 6 | 8 | 9) && count >= 1;
        match tag {
            RPMTAG_NAME if is_string => p.name = string()?,
            RPMTAG_VERSION if is_string => version = string()?,
            RPMTAG_RELEASE if is_string => release = string()?,
            RPMTAG_EPOCH if kind == 4 => epoch = int32(),
            RPMTAG_ARCH if is_string => p.arch = string()?,
            RPMTAG_SUMMARY if is_string => p.summary = string()?,
            RPMTAG_VENDOR if is_string => p.maintainer = string()?,
            RPMTAG_GROUP if is_string => p.section = string()?,
            RPMTAG_SOURCERPM if is_string => p.source = string()?,
            RPMTAG_SIZE if kind == 4 => p.size = int32()? as u64,
            RPMTAG_INSTALLTIME if kind == 4 => p.install_time = i64::from(int32()?),
            RPMTAG_SHA1HEADER if is_string => p.sha1 = string()?,
            _ => {}
        }
    }
    if p.name.is_empty() {
        return None;
    }
    let vr = if release.is_empty() {
        version.clone()
    } else {
        format!("{version}-{release}")
    };
    p.upstream_version = version;
    p.release = release;
    p.epoch = epoch;
    p.version = match epoch {
        Some(e) => format!("{e}:{vr}"),
        None => vr,
    };
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_names_are_arch_qualified_as_dpkg_l_writes_them() {
        let text = "Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.21\n\nPackage: libssl3\nStatus: install ok installed\nMulti-Arch: same\nArchitecture: amd64\nVersion: 3.0\n\nPackage: tzdata\nStatus: install ok installed\nMulti-Arch: foreign\nArchitecture: all\nVersion: 2024a\n\nPackage: libfoo\nStatus: install ok installed\nArchitecture: i386\nVersion: 1\n\nPackage: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2\n";
        let pkgs = parse_dpkg_status(text);
        let native = dpkg_native_arch(&pkgs);
        assert_eq!(native, Some("amd64"));
        let names: Vec<String> = pkgs.iter().map(|p| p.binary_name(native)).collect();
        assert_eq!(
            names,
            vec!["dpkg", "libssl3:amd64", "tzdata", "libfoo:i386", "bash"]
        );
    }

    #[test]
    fn dpkg_paragraphs() {
        let text = "Package: bash\nStatus: install ok installed\nPriority: required\nSection: shells\nInstalled-Size: 7164\nMaintainer: Matthias Klose <doko@debian.org>\nArchitecture: amd64\nVersion: 5.2.15-2+b7\nDescription: GNU Bourne Again SHell\n Bash is an sh-compatible command language interpreter.\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: all\n\nPackage: libc6\nStatus: hold ok installed\nSource: glibc\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\n";
        let p = parse_dpkg_status(text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            (
                p[0].name.as_str(),
                p[0].version.as_str(),
                p[0].arch.as_str()
            ),
            ("bash", "5.2.15-2+b7", "amd64")
        );
        assert_eq!(p[0].size, 7164);
        assert_eq!(p[1].source, "glibc");
    }

    #[test]
    fn apk_paragraphs() {
        let p = parse_apk_installed("C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nI:622592\nT:the musl c library\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\n");
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str(), p[0].kind),
            ("musl", "1.2.4-r2", "apk")
        );
    }

    #[test]
    fn rpm_header_files() {
        // NAME, BASENAMES, DIRNAMES, DIRINDEXES, FILEMODES, FILESIZES, digests (SHA-256).
        let mut data = Vec::new();
        let mut index: Vec<(u32, u32, u32, u32)> = Vec::new();
        let mut strings = |data: &mut Vec<u8>, tag: u32, kind: u32, values: &[&str]| {
            index.push((tag, kind, data.len() as u32, values.len() as u32));
            for v in values {
                data.extend_from_slice(v.as_bytes());
                data.push(0);
            }
        };
        strings(&mut data, RPMTAG_NAME, 6, &["bash"]);
        strings(&mut data, RPMTAG_BASENAMES, 8, &["bash", "bashrc"]);
        strings(&mut data, RPMTAG_DIRNAMES, 8, &["/usr/bin/", "/etc/"]);
        strings(&mut data, RPMTAG_FILEUSERNAME, 8, &["root", "root"]);
        strings(&mut data, RPMTAG_FILEGROUPNAME, 8, &["root", "wheel"]);
        strings(&mut data, RPMTAG_FILEDIGESTS, 8, &["aa", "bb"]);
        while data.len() % 4 != 0 {
            data.push(0);
        }
        let mut ints = |data: &mut Vec<u8>, tag: u32, kind: u32, width: usize, values: &[u64]| {
            index.push((tag, kind, data.len() as u32, values.len() as u32));
            for v in values {
                data.extend_from_slice(&v.to_be_bytes()[8 - width..]);
            }
        };
        ints(&mut data, RPMTAG_DIRINDEXES, 4, 4, &[0, 1]);
        ints(&mut data, RPMTAG_FILESIZES, 4, 4, &[1_234_567, 42]);
        ints(&mut data, RPMTAG_FILEDIGESTALGO, 4, 4, &[8]);
        ints(&mut data, RPMTAG_FILEMODES, 3, 2, &[0o100755, 0o100644]);
        let mut blob = Vec::new();
        blob.extend_from_slice(&(index.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (t, k, o, c) in &index {
            for v in [t, k, o, c] {
                blob.extend_from_slice(&v.to_be_bytes());
            }
        }
        blob.extend_from_slice(&data);
        let (name, files) = parse_rpm_files(&blob).unwrap();
        assert_eq!(name, "bash");
        assert_eq!(
            files,
            [
                RpmFile {
                    path: "/usr/bin/bash".into(),
                    username: "root".into(),
                    groupname: "root".into(),
                    mode: 0o100755,
                    size: 1_234_567,
                    sha256: "aa".into(),
                },
                RpmFile {
                    path: "/etc/bashrc".into(),
                    username: "root".into(),
                    groupname: "wheel".into(),
                    mode: 0o100644,
                    size: 42,
                    sha256: "bb".into(),
                },
            ]
        );
    }

    #[test]
    fn rpm_header_blob() {
        // Hand-built header: NAME, VERSION, RELEASE, EPOCH, ARCH.
        let strings: &[(u32, &str)] = &[
            (RPMTAG_NAME, "openssl"),
            (RPMTAG_VERSION, "3.0.7"),
            (RPMTAG_RELEASE, "25.el9"),
            (RPMTAG_ARCH, "x86_64"),
        ];
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, s) in strings {
            index.push((*tag, 6u32, data.len() as u32, 1u32));
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
        while data.len() % 4 != 0 {
            data.push(0);
        }
        index.push((RPMTAG_EPOCH, 4, data.len() as u32, 1));
        data.extend_from_slice(&1u32.to_be_bytes());
        let mut blob = Vec::new();
        blob.extend_from_slice(&(index.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (t, k, o, c) in &index {
            for v in [t, k, o, c] {
                blob.extend_from_slice(&v.to_be_bytes());
            }
        }
        blob.extend_from_slice(&data);
        let p = parse_rpm_header(&blob).unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str(), p.arch.as_str()),
            ("openssl", "1:3.0.7-25.el9", "x86_64")
        );
        assert_eq!(
            (p.upstream_version.as_str(), p.release.as_str(), p.epoch),
            ("3.0.7", "25.el9", Some(1))
        );
        // Truncated or garbage blobs are refused, not a panic.
        assert!(parse_rpm_header(&blob[..20]).is_none());
        assert!(parse_rpm_header(&[0xff; 64]).is_none());
    }
}
