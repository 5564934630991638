//! ssh_configs and yum_sources: clients' configuration files, parsed as osquery parses them.

use super::super::paths::sorted_entries;
use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::user_homes;
use std::path::Path;

table_row! {
    /// One option of an ssh_config file.
    struct SshConfigRow {
        uid: bigint = "The local owner of the ssh_config file",
        block: text = "The host or match block",
        option: text = "The option and value",
        ssh_config_file: text = "Path to the ssh_config file",
    }
}

pub(crate) static SSH_CONFIGS: Table = Table {
    name: "ssh_configs",
    about: "A table of parsed ssh_configs: /etc/ssh/ssh_config (uid 0) and each user's ~/.ssh/config, lowercased as osquery gives them.",
    columns: SshConfigRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_ssh_configs,
    reach: Reach::Host,
    example: "SELECT uid, block, option FROM ssh_configs WHERE option LIKE 'forwardagent%'",
};

const SYSTEM_SSH_CONFIG: &str = "/etc/ssh/ssh_config";

fn gen_ssh_configs(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let wanted = q.ints("uid");
    let mut rows = Vec::new();
    for user in user_homes(q)? {
        let uid = i64::from(user.uid);
        let path = Path::new(&user.home).join(".ssh/config");
        rows.extend(parse_ssh_config(&read(&path), uid, &path.to_string_lossy()));
    }
    if wanted.as_ref().is_none_or(|w| w.contains(&0)) {
        let path = Path::new(SYSTEM_SSH_CONFIG);
        rows.extend(parse_ssh_config(&read(path), 0, SYSTEM_SSH_CONFIG));
    }
    Ok(VecRows::boxed(rows))
}

/// A configuration file's text; empty when it is missing or unreadable (osquery skips it).
fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// ssh_config(5): each option line, lowercased, under the last `host` or `match` line.
fn parse_ssh_config(text: &str, uid: i64, file: &str) -> Vec<SshConfigRow> {
    let mut block = String::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.trim().to_lowercase();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("host ") || line.starts_with("match ") {
            block = line;
        } else {
            rows.push(SshConfigRow {
                uid,
                block: block.clone(),
                option: line,
                ssh_config_file: file.to_string(),
            });
        }
    }
    rows
}

table_row! {
    /// One yum repository.
    struct YumSourceRow {
        name: text = "Repository name",
        source: text = "Source file",
        baseurl: text = "Repository base URL",
        mirrorlist: text = "Mirrorlist URL",
        metalink: text = "Metalink URL",
        enabled: text = "Whether the repository is used",
        gpgcheck: text = "Whether packages are GPG checked",
        gpgkey: text = "URL to GPG key",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static YUM_SOURCES: Table = Table {
    name: "yum_sources",
    about: "Current list of Yum repositories or software channels: /etc/yum.conf and the `.repo` files of its reposdir (/etc/yum.repos.d); empty where there is no yum.",
    columns: YumSourceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_yum_sources,
    reach: Reach::Host,
    example: "SELECT name, baseurl, gpgcheck FROM yum_sources WHERE enabled = '1'",
};

const YUM_CONF: &str = "/etc/yum.conf";
const YUM_REPOS_DIR: &str = "/etc/yum.repos.d";

fn gen_yum_sources(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let (mut rows, reposdir) = parse_yum_ini(&read(Path::new(YUM_CONF)), YUM_CONF);
    let dir = reposdir.unwrap_or_else(|| YUM_REPOS_DIR.to_string());
    for f in sorted_entries(Path::new(&dir), |p| {
        p.extension().is_some_and(|x| x == "repo")
    }) {
        rows.extend(parse_yum_ini(&read(&f), &f.to_string_lossy()).0);
    }
    Ok(VecRows::boxed(rows))
}

/// An INI file of repositories: one row per section but `[main]`, whose `reposdir` says where
/// the `.repo` files are.
fn parse_yum_ini(text: &str, source: &str) -> (Vec<YumSourceRow>, Option<String>) {
    let mut rows: Vec<YumSourceRow> = Vec::new();
    let mut reposdir = None;
    let mut in_main = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_main = section.trim() == "main";
            if !in_main {
                rows.push(YumSourceRow {
                    name: String::new(),
                    source: source.to_string(),
                    baseurl: String::new(),
                    mirrorlist: String::new(),
                    metalink: String::new(),
                    enabled: String::new(),
                    gpgcheck: String::new(),
                    gpgkey: String::new(),
                });
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim().to_string());
        if in_main {
            if key == "reposdir" {
                reposdir = Some(value);
            }
            continue;
        }
        let Some(r) = rows.last_mut() else {
            continue;
        };
        match key {
            "name" => r.name = value,
            "baseurl" => r.baseurl = value,
            "mirrorlist" => r.mirrorlist = value,
            "metalink" => r.metalink = value,
            "enabled" => r.enabled = value,
            "gpgcheck" => r.gpgcheck = value,
            "gpgkey" => r.gpgkey = value,
            _ => {}
        }
    }
    (rows, reposdir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_config_blocks() {
        let rows = parse_ssh_config(
            "# comment\nForwardAgent no\nHost *.example.com\n  ForwardAgent YES\n  User Bob\nMatch user root\n  PasswordAuthentication no\n",
            1000,
            "/home/bob/.ssh/config",
        );
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.block.as_str(), r.option.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("", "forwardagent no"),
                ("host *.example.com", "forwardagent yes"),
                ("host *.example.com", "user bob"),
                ("match user root", "passwordauthentication no"),
            ]
        );
    }

    #[test]
    fn yum_repositories_and_reposdir() {
        let (rows, dir) = parse_yum_ini(
            "[main]\nreposdir=/srv/repos\ngpgcheck=1\n\n[base]\nname=CentOS-$releasever - Base\nbaseurl=http://mirror/centos/\nenabled = 1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/KEY\n[extras]\nmirrorlist=http://mirrorlist/?repo=extras\n",
            "/etc/yum.conf",
        );
        assert_eq!(dir.as_deref(), Some("/srv/repos"));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "CentOS-$releasever - Base");
        assert_eq!(
            (rows[0].enabled.as_str(), rows[0].gpgcheck.as_str()),
            ("1", "1")
        );
        assert_eq!(rows[1].mirrorlist, "http://mirrorlist/?repo=extras");
        assert_eq!(rows[1].source, "/etc/yum.conf");
    }
}
