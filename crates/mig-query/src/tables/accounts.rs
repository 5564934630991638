//! users, groups, user_groups: local accounts from /etc/passwd and /etc/group.

use super::super::row::table_row;
use super::super::schema::*;
use mig_host::users::{self, User};

table_row! {
    /// One local account.
    struct UserRow {
        uid: bigint = "User ID",
        gid: bigint = "Group ID (unsigned)",
        uid_signed: bigint = "User ID as int64 signed (Apple)",
        gid_signed: bigint = "Default group ID as int64 signed (Apple)",
        username: text = "Username",
        description: text = "Optional user description",
        directory: text = "User's home directory",
        shell: text = "User's configured default shell",
        uuid: text = "User's UUID (Apple) or SID (Windows)",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        include_remote: integer = "1 to include remote (LDAP/AD) accounts (default 0). Warning: without any uid/username filtering it may list whole LDAP directories",
        type: text = "Whether the account is roaming (domain), local, or a system profile",
        is_hidden: integer = "IsHidden attribute set in OpenDirectory",
    }
}

pub(crate) static USERS: Table = Table {
    name: "users",
    about: "Local user accounts (from /etc/passwd).",
    columns: UserRow::COLUMNS,
    index: &["uid", "username"],
    required: &[],
    like: &[],
    generate: gen_users,
    reach: Reach::Host,
    example: "SELECT uid, username, shell FROM users WHERE uid = 0",
};

/// The accounts a scan visits: those whose uid or name the WHERE clause asks for, or all.
pub(crate) fn selected_users(q: &Constraints) -> Result<Vec<User>, String> {
    let uids = q.ints("uid");
    let names = q.texts("username");
    Ok(users::users()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|u| uids.as_ref().is_none_or(|w| w.contains(&i64::from(u.uid))))
        .filter(|u| names.as_ref().is_none_or(|w| w.contains(&u.name)))
        .collect())
}

/// The accounts a scan visits for their home's files (those a `uid` constraint names, or
/// all), each home once: several accounts share / or /nonexistent. A home that is not an
/// absolute path, or is /, holds no user's files.
pub(crate) fn user_homes(q: &Constraints) -> Result<Vec<User>, String> {
    let mut seen = std::collections::BTreeSet::new();
    Ok(selected_users(q)?
        .into_iter()
        .filter(|u| u.home.starts_with('/') && u.home != "/" && seen.insert(u.home.clone()))
        .collect())
}

fn gen_users(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        selected_users(q)?
            .into_iter()
            .map(|u| UserRow {
                uid: u.uid.into(),
                gid: u.gid.into(),
                uid_signed: (u.uid as i32).into(),
                gid_signed: (u.gid as i32).into(),
                username: u.name,
                description: u.gecos,
                directory: u.home,
                shell: u.shell,
                uuid: String::new(),
            })
            .collect(),
    ))
}

table_row! {
    /// One local group.
    struct GroupRow {
        gid: bigint = "Unsigned int64 group ID",
        gid_signed: bigint = "A signed int64 version of gid",
        groupname: text = "Canonical local group name",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        group_sid: text = "Unique group ID",
        comment: text = "Remarks or comments associated with the group",
        is_hidden: integer = "IsHidden attribute set in OpenDirectory",
    }
}

pub(crate) static GROUPS: Table = Table {
    name: "groups",
    about: "Local system groups (from /etc/group).",
    columns: GroupRow::COLUMNS,
    index: &["gid"],
    required: &[],
    like: &[],
    generate: gen_groups,
    reach: Reach::Host,
    example: "SELECT * FROM groups WHERE gid = 0",
};

fn gen_groups(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let gids = q.ints("gid");
    Ok(VecRows::boxed(
        users::groups()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|g| gids.as_ref().is_none_or(|w| w.contains(&i64::from(g.gid))))
            .map(|g| GroupRow {
                gid: g.gid.into(),
                gid_signed: (g.gid as i32).into(),
                groupname: g.name,
            })
            .collect(),
    ))
}

table_row! {
    /// One group a user belongs to.
    struct UserGroupRow {
        uid: bigint = "User ID",
        gid: bigint = "Group ID",
    }
}

pub(crate) static USER_GROUPS: Table = Table {
    name: "user_groups",
    about: "Local system user group relationships: each user's primary group and the groups that list it as a member.",
    columns: UserGroupRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_user_groups,
    reach: Reach::Host,
    example: "SELECT u.username, g.groupname FROM users u JOIN user_groups USING (uid) JOIN groups g USING (gid) WHERE u.uid = 0",
};

fn gen_user_groups(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let groups = users::groups().map_err(|e| e.to_string())?;
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
                rows.push(UserGroupRow {
                    uid: u.uid.into(),
                    gid: gid.into(),
                });
            }
        }
    }
    Ok(VecRows::boxed(rows))
}
