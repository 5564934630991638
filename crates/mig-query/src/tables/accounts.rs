//! users, groups, user_groups: local accounts from /etc/passwd and /etc/group.

use super::super::schema::*;
use mig_host::users::{self, User};

pub(crate) static USERS: Table = Table {
    name: "users",
    about: "Local user accounts (from /etc/passwd).",
    columns: &[
        bigint("uid", "User ID"),
        bigint("gid", "Group ID (unsigned)"),
        bigint("uid_signed", "User ID as int64 signed (Apple)"),
        bigint("gid_signed", "Default group ID as int64 signed (Apple)"),
        text("username", "Username"),
        text("description", "Optional user description"),
        text("directory", "User's home directory"),
        text("shell", "User's configured default shell"),
        text("uuid", "User's UUID (Apple) or SID (Windows)"),
    ],
    index: &["uid", "username"],
    required: &[],
    like: &[],
    generate: gen_users,
    example: "SELECT uid, username, shell FROM users WHERE uid = 0",
};

/// The accounts a scan visits: those whose uid or name the WHERE clause asks for, or all.
pub(crate) fn selected_users(q: &Constraints) -> Result<Vec<User>, String> {
    let uids = q.ints("uid");
    let names = q.texts("username");
    Ok(users::users()?
        .into_iter()
        .filter(|u| uids.as_ref().is_none_or(|w| w.contains(&i64::from(u.uid))))
        .filter(|u| names.as_ref().is_none_or(|w| w.contains(&u.name)))
        .collect())
}

fn gen_users(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        selected_users(q)?
            .into_iter()
            .map(|u| {
                vec![
                    i(u.uid),
                    i(u.gid),
                    i(u.uid as i32),
                    i(u.gid as i32),
                    t(u.name),
                    t(u.gecos),
                    t(u.home),
                    t(u.shell),
                    t(""),
                ]
            })
            .collect(),
    ))
}

pub(crate) static GROUPS: Table = Table {
    name: "groups",
    about: "Local system groups (from /etc/group).",
    columns: &[
        bigint("gid", "Unsigned int64 group ID"),
        bigint("gid_signed", "A signed int64 version of gid"),
        text("groupname", "Canonical local group name"),
    ],
    index: &["gid"],
    required: &[],
    like: &[],
    generate: gen_groups,
    example: "SELECT * FROM groups WHERE gid = 0",
};

fn gen_groups(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let gids = q.ints("gid");
    Ok(VecRows::boxed(
        users::groups()?
            .into_iter()
            .filter(|g| gids.as_ref().is_none_or(|w| w.contains(&i64::from(g.gid))))
            .map(|g| vec![i(g.gid), i(g.gid as i32), t(g.name)])
            .collect(),
    ))
}

pub(crate) static USER_GROUPS: Table = Table {
    name: "user_groups",
    about: "Local system user group relationships: each user's primary group and the groups that list it as a member.",
    columns: &[bigint("uid", "User ID"), bigint("gid", "Group ID")],
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_user_groups,
    example: "SELECT u.username, g.groupname FROM users u JOIN user_groups USING (uid) JOIN groups g USING (gid) WHERE u.uid = 0",
};

fn gen_user_groups(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let groups = users::groups()?;
    let mut rows = Vec::new();
    for u in selected_users(q)? {
        let mut gids = vec![u.gid];
        gids.extend(
            groups
                .iter()
                .filter(|g| g.members.contains(&u.name))
                .map(|g| g.gid),
        );
        gids.dedup();
        let mut seen = Vec::new();
        for gid in gids {
            if !seen.contains(&gid) {
                seen.push(gid);
                rows.push(vec![i(u.uid), i(gid)]);
            }
        }
    }
    Ok(VecRows::boxed(rows))
}
