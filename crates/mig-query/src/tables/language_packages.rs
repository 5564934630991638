//! python_packages: the Python distributions installed system-wide and in users' homes, read
//! from their `*.dist-info/METADATA` and `*.egg-info/PKG-INFO`.

use super::super::paths::{Expand, Pattern};
use super::super::row::table_row;
use super::super::schema::*;
use std::collections::BTreeSet;
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
        let users = mig_host::users::users().map_err(|e| e.to_string())?;
        let mut homes_seen = BTreeSet::new();
        for user in users {
            let uid = i64::from(user.uid);
            if wanted_uids.as_ref().is_some_and(|u| !u.contains(&uid))
                || !user.home.starts_with('/')
                || user.home == "/"
                || !homes_seen.insert(user.home.clone())
            {
                continue;
            }
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
    let Ok(entries) = std::fs::read_dir(site) else {
        return Vec::new();
    };
    let mut dists: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dists.sort();
    dists
        .into_iter()
        .filter_map(|dist| {
            let name = dist.file_name()?.to_string_lossy().into_owned();
            let info = if name.ends_with(".dist-info") {
                dist.join("METADATA")
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

#[cfg(test)]
mod tests {
    use super::*;

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
                ("requests", "2.31.0", "Python HTTP: for humans.", 1000),
                ("six", "1.16.0", "", 1000)
            ]
        );
        assert_eq!(rows[0].license, "Apache 2.0");
        assert_eq!(rows[0].path, dist.to_string_lossy());
    }
}
