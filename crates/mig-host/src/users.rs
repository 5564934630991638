//! Local accounts and groups, from /etc/passwd and /etc/group (what `getent` shows for the
//! `files` NSS source; directory services such as LDAP are not asked).

use std::collections::HashMap;
use std::io;

/// The local accounts database.
pub const PASSWD: &str = "/etc/passwd";
/// The local groups database.
pub const GROUP: &str = "/etc/group";

/// An account: one line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The user ID.
    pub uid: u32,
    /// The primary group's ID.
    pub gid: u32,
    /// The comment field, usually the user's full name.
    pub gecos: String,
    /// The home directory.
    pub home: String,
    /// The login shell.
    pub shell: String,
}

/// A group: one line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// The group ID.
    pub gid: u32,
    /// The user names listed as members; users whose primary group it is are not listed.
    pub members: Vec<String>,
}

/// passwd(5) lines; comments, NIS `+`/`-` entries and malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('+') && !l.starts_with('-'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// group(5) lines.
pub fn parse_group(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('+') && !l.starts_with('-'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// The accounts of /etc/passwd; an error naming it when it cannot be read.
pub fn users() -> io::Result<Vec<User>> {
    Ok(parse_passwd(&crate::required(PASSWD, |p| {
        std::fs::read_to_string(p)
    })?))
}

/// The groups of /etc/group; an error naming it when it cannot be read.
pub fn groups() -> io::Result<Vec<Group>> {
    Ok(parse_group(&crate::required(GROUP, |p| {
        std::fs::read_to_string(p)
    })?))
}

/// uid → user name, for tables that show owners by name; an error when /etc/passwd cannot be
/// read (which must not turn every owner into a bare number).
pub fn user_names() -> io::Result<HashMap<u32, String>> {
    Ok(users()?.into_iter().map(|u| (u.uid, u.name)).collect())
}

/// gid → group name; an error when /etc/group cannot be read.
pub fn group_names() -> io::Result<HashMap<u32, String>> {
    Ok(groups()?.into_iter().map(|g| (g.gid, g.name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        let u = parse_passwd("root:x:0:0:root:/root:/bin/bash\n# comment\n+nis\nbad:line\nbob:x:1000:1000:Bob,,,:/home/bob:/bin/zsh\nnum:x:abc:1:::\n");
        assert_eq!(u.len(), 2);
        assert_eq!(u[1].name, "bob");
        assert_eq!((u[1].uid, u[1].gid), (1000, 1000));
        assert_eq!(u[1].gecos, "Bob,,,");
        let g = parse_group("sudo:x:27:bob,alice\nusers:x:100:\n");
        assert_eq!(g[0].members, vec!["bob", "alice"]);
        assert!(g[1].members.is_empty());
    }

    #[test]
    fn root_exists_here() {
        assert!(users().unwrap().iter().any(|u| u.uid == 0));
        assert_eq!(
            group_names().unwrap().get(&0).map(String::as_str),
            Some("root")
        );
        assert_eq!(
            user_names().unwrap().get(&0).map(String::as_str),
            Some("root")
        );
    }
}
