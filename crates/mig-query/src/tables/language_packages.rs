//! python_packages and npm_packages: the Python distributions and Node packages installed
//! system-wide and in users' homes, read from their own metadata files.

use super::super::paths::{sorted_entries, Expand, Pattern};
use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::user_homes;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

table_row! {
    /// One installed Python distribution.
    struct PythonPackageRow {
        name: text = "Package display name",
        uid: bigint = "The local user that owns the python package",
        version: text = "Package-supplied version",
        summary: text = "Package-supplied summary",
        author: text = "Optional package author",
        license: text = "License under which package is launched",
        path: text = "Path at which this module resides",
        directory: text = "Directory where Python modules are located",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static PYTHON_PACKAGES: Table = Table {
    name: "python_packages",
    about: "Python packages installed in a system: osquery's system site directories, and in each user's home the per-user site directory, pyenv, virtualenvs, pipx, Poetry and conda environments.",
    columns: PythonPackageRow::COLUMNS,
    index: &["uid", "directory"],
    required: &[],
    like: &[],
    generate: gen_python_packages,
    reach: Reach::Host,
    example: "SELECT name, version, directory FROM python_packages WHERE name = 'requests'",
};

/// System site directories, osquery's list (`%`: any Python version).
const SYSTEM_SITES: &[&str] = &[
    "/usr/local/lib/python%/dist-packages",
    "/usr/local/lib/python%/site-packages",
    "/usr/local/lib64/python%/site-packages",
    "/usr/lib/python%/dist-packages",
    "/usr/lib/python%/site-packages",
    "/opt/conda/lib/python%/dist-packages",
    "/opt/conda/lib/python%/site-packages",
    "/opt/miniconda3/lib/python%/site-packages",
    "/opt/anaconda3/lib/python%/site-packages",
];

/// Site directories below a home: the per-user site, and environments managed by pyenv,
/// virtualenvwrapper, pew, pipx, Poetry, uv, asdf, mise and conda (osquery's list).
const USER_SITES: &[&str] = &[
    ".local/lib/python%/site-packages",
    ".pyenv/versions/%/lib/python%/site-packages",
    ".asdf/installs/python/%/lib/python%/site-packages",
    ".local/share/mise/installs/python/%/lib/python%/site-packages",
    ".local/share/uv/tools/%/lib/python%/site-packages",
    ".local/share/pipx/venvs/%/lib/python%/site-packages",
    ".local/pipx/venvs/%/lib/python%/site-packages",
    ".cache/pypoetry/virtualenvs/%/lib/python%/site-packages",
    ".virtualenvs/%/lib/python%/site-packages",
    ".local/share/virtualenvs/%/lib/python%/site-packages",
    "miniforge3/lib/python%/site-packages",
    "miniconda3/lib/python%/site-packages",
    "anaconda3/lib/python%/site-packages",
    "mambaforge/lib/python%/site-packages",
    "miniforge3/envs/%/lib/python%/site-packages",
    "miniconda3/envs/%/lib/python%/site-packages",
    "anaconda3/envs/%/lib/python%/site-packages",
    "mambaforge/envs/%/lib/python%/site-packages",
];

fn gen_python_packages(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    // (site directory, owner's uid): system sites are uid 0, as osquery has them.
    let mut sites: Vec<(String, i64)> = Vec::new();
    if let Some(dirs) = q.texts("directory") {
        sites.extend(dirs.into_iter().map(|d| (d, 0)));
    } else {
        let wanted_uids = q.ints("uid");
        if wanted_uids.as_ref().is_none_or(|u| u.contains(&0)) {
            for pattern in SYSTEM_SITES {
                sites.extend(expand(pattern).into_iter().map(|d| (d, 0)));
            }
        }
        for user in user_homes(q)? {
            let uid = i64::from(user.uid);
            for suffix in USER_SITES {
                let pattern = format!("{}/{suffix}", user.home.trim_end_matches('/'));
                sites.extend(expand(&pattern).into_iter().map(|d| (d, uid)));
            }
        }
    }
    let mut rows = Vec::new();
    for (site, uid) in sites {
        q.check()?;
        rows.extend(site_packages(Path::new(&site), uid));
    }
    Ok(VecRows::boxed(rows))
}

/// The directories a `%` pattern names, in order.
fn expand(pattern: &str) -> Vec<String> {
    let Ok(p) = Pattern::parse(pattern) else {
        return Vec::new();
    };
    let mut found: Vec<String> = Expand::new(p)
        .filter(|d| d.is_dir())
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

/// The distributions of one site directory.
fn site_packages(site: &Path, uid: i64) -> Vec<PythonPackageRow> {
    // A distutils install's .egg-info may be a single file, its PKG-INFO (Debian ships
    // some): Python lists it, and so does this (osquery reads directories only).
    let is_egg_file = |p: &Path| p.is_file() && p.to_string_lossy().ends_with(".egg-info");
    sorted_entries(site, |p| p.is_dir() || is_egg_file(p))
        .into_iter()
        .filter_map(|dist| {
            let name = dist.file_name()?.to_string_lossy().into_owned();
            let info = if name.ends_with(".dist-info") && dist.is_dir() {
                dist.join("METADATA")
            } else if is_egg_file(&dist) {
                dist.clone()
            } else if name.ends_with(".egg-info") {
                dist.join("PKG-INFO")
            } else {
                return None;
            };
            let text = std::fs::read_to_string(&info).unwrap_or_default();
            let field = |key: &str| metadata_field(&text, key).unwrap_or_default();
            Some(PythonPackageRow {
                name: field("Name"),
                uid,
                version: field("Version"),
                summary: field("Summary"),
                author: field("Author"),
                license: field("License"),
                path: dist.to_string_lossy().into_owned(),
                directory: site.to_string_lossy().into_owned(),
            })
        })
        .collect()
}

/// The first `Key: value` header of core metadata (RFC 822 style: the headers end at the
/// first empty line, where the description may begin).
fn metadata_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == key).then(|| v.trim().to_string())
        })
}

table_row! {
    /// One installed Node package.
    struct NpmPackageRow {
        name: text = "Package display name",
        version: text = "Package-supplied version",
        description: text = "Package-supplied description",
        author: text = "Package-supplied author",
        license: text = "License under which package is launched",
        homepage: text = "Package supplied homepage",
        path: text = "Path at which this module resides",
        directory: text = "Directory where node_modules are located",
        depth: integer = "Nesting depth of the package (0 = direct dependency)",
    }
    absent {
        max_depth: integer = "Maximum depth to search for nested packages (default 100, -1 = unlimited)",
        pid_with_namespace: integer = "Pids that contain a namespace",
        mount_namespace_id: text = "Mount namespace id",
    }
}

pub(crate) static NPM_PACKAGES: Table = Table {
    name: "npm_packages",
    about: "Node packages installed in a system: the global node_modules of /usr/lib, /usr/local/lib and each user's npm, nvm, asdf, fnm, mise and Volta installations, nested dependencies included (100 levels deep).",
    columns: NpmPackageRow::COLUMNS,
    index: &["directory"],
    required: &[],
    like: &[],
    generate: gen_npm_packages,
    reach: Reach::Host,
    example: "SELECT name, version, path FROM npm_packages WHERE name = 'event-stream'",
};

/// Where global node_modules live (osquery's Linux list; `%`: any user, any version).
const NODE_SITES: &[&str] = &[
    "/usr/local/lib",
    "/usr/lib",
    "/home/%/.npm-global/lib",
    "/home/%/.nvm/versions/node/%/lib",
    "/home/%/.asdf/installs/nodejs/%/lib",
    "/home/%/.local/share/fnm/node-versions/%/installation/lib",
    "/home/%/.local/share/mise/installs/node/%/lib",
    "/home/%/.volta/tools/image/node/%/lib",
];

/// How deep nested node_modules are followed (osquery's default).
const NPM_MAX_DEPTH: i64 = 100;

fn gen_npm_packages(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let sites: Vec<String> = match q.texts("directory") {
        Some(dirs) => dirs,
        None => NODE_SITES.iter().flat_map(|p| expand(p)).collect(),
    };
    let mut rows = Vec::new();
    for site in sites {
        q.check()?;
        node_site(Path::new(&site), &mut rows);
    }
    Ok(VecRows::boxed(rows))
}

/// Every package of `site`'s node_modules (`name` and `@scope/name`), and theirs below, each
/// directory once (a link loop cannot make it go round).
fn node_site(site: &Path, out: &mut Vec<NpmPackageRow>) {
    let mut visited: HashSet<(u64, u64)> = HashSet::new();
    let mut todo = vec![(site.to_path_buf(), 0i64)];
    while let Some((dir, depth)) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if !visited.insert((meta.dev(), meta.ino())) {
            continue;
        }
        for package in packages_in(&dir.join("node_modules")) {
            let manifest = package.join("package.json");
            let text = std::fs::read(&manifest).unwrap_or_default();
            let json: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
            out.push(npm_row(&json, &manifest, site, depth));
            if depth < NPM_MAX_DEPTH && package.join("node_modules").is_dir() {
                todo.push((package, depth + 1));
            }
        }
    }
}

/// The package directories of a node_modules directory that have a package.json.
fn packages_in(modules: &Path) -> Vec<PathBuf> {
    let list = |d: &Path| sorted_entries(d, |_| true);
    let mut out = Vec::new();
    for entry in list(modules) {
        let is_scope = entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('@'));
        if is_scope {
            out.extend(
                list(&entry)
                    .into_iter()
                    .filter(|p| p.join("package.json").is_file()),
            );
        } else if entry.join("package.json").is_file() {
            out.push(entry);
        }
    }
    out
}

/// A package.json as osquery reads it: text fields only, `author` as a string or its
/// `name`, `license` as a string or the deprecated form's `url`.
fn npm_row(json: &serde_json::Value, manifest: &Path, site: &Path, depth: i64) -> NpmPackageRow {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let author = match &json["author"] {
        serde_json::Value::String(s) => s.clone(),
        other => text(&other["name"]),
    };
    let license = match &json["license"] {
        serde_json::Value::String(s) => s.clone(),
        other => text(&other["url"]),
    };
    NpmPackageRow {
        name: text(&json["name"]),
        version: text(&json["version"]),
        description: text(&json["description"]),
        author,
        license,
        homepage: text(&json["homepage"]),
        path: manifest.to_string_lossy().into_owned(),
        directory: site.to_string_lossy().into_owned(),
        depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_packages_scoped_nested_and_looped() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("node_modules");
        let pkg = |dir: &Path, json: &str| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("package.json"), json).unwrap();
        };
        pkg(
            &m.join("left-pad"),
            r#"{"name": "left-pad", "version": "1.3.0", "author": {"name": "azer"}, "license": {"type": "MIT", "url": "http://x/MIT"}}"#,
        );
        pkg(
            &m.join("@babel/core"),
            r#"{"name": "@babel/core", "version": "7.0.0", "author": "Sebastian", "license": "MIT"}"#,
        );
        pkg(
            &m.join("left-pad/node_modules/inner"),
            r#"{"name": "inner", "version": "0.1.0"}"#,
        );
        // A loop back to the top must not be followed for ever.
        std::os::unix::fs::symlink(d.path(), m.join("left-pad/node_modules/loop")).unwrap();
        std::fs::create_dir(m.join("not-a-package")).unwrap();
        let mut rows = Vec::new();
        node_site(d.path(), &mut rows);
        let mut got: Vec<(String, i64, String, String)> = rows
            .iter()
            .map(|r| (r.name.clone(), r.depth, r.author.clone(), r.license.clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("@babel/core".into(), 0, "Sebastian".into(), "MIT".into()),
                ("inner".into(), 1, "".into(), "".into()),
                ("left-pad".into(), 0, "azer".into(), "http://x/MIT".into()),
            ]
        );
    }

    #[test]
    fn dist_info_and_egg_info() {
        let d = tempfile::tempdir().unwrap();
        let dist = d.path().join("requests-2.31.0.dist-info");
        std::fs::create_dir(&dist).unwrap();
        std::fs::write(
            dist.join("METADATA"),
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: Python HTTP: for humans.\nAuthor: Kenneth Reitz\nLicense: Apache 2.0\n\nLicense: not a header\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("crit-3.17.1-py3.11.egg-info"),
            "Metadata-Version: 2.1\nName: crit\nVersion: 3.17.1\n",
        )
        .unwrap();
        let egg = d.path().join("six-1.16.0.egg-info");
        std::fs::create_dir(&egg).unwrap();
        std::fs::write(egg.join("PKG-INFO"), "Name: six\nVersion: 1.16.0\n").unwrap();
        std::fs::create_dir(d.path().join("requests")).unwrap();
        let rows = site_packages(d.path(), 1000);
        let got: Vec<(&str, &str, &str, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.version.as_str(),
                    r.summary.as_str(),
                    r.uid,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("crit", "3.17.1", "", 1000),
                ("requests", "2.31.0", "Python HTTP: for humans.", 1000),
                ("six", "1.16.0", "", 1000)
            ]
        );
        assert_eq!(rows[1].license, "Apache 2.0");
        assert_eq!(rows[1].path, dist.to_string_lossy());
    }
}
