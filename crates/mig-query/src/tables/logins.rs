//! logged_in_users (utmp) and last (wtmp): login records.

use super::super::row::table_row;
use super::super::schema::*;
use mig_host::utmp::{self, Record};

table_row! {
    /// One active login (a utmp record).
    struct LoggedInRow {
        r#type: text = "Login type",
        user: text = "User login name",
        tty: text = "Device name",
        host: text = "Remote hostname",
        time: bigint = "Time entry was made",
        pid: integer = "Process (or thread) ID",
    }
    absent {
        sid: text = "The user's unique security identifier",
        registry_hive: text = "HKEY_USERS registry hive",
    }
}

pub(crate) static LOGGED_IN_USERS: Table = Table {
    name: "logged_in_users",
    about: "Users with an active shell on the system (from utmp).",
    columns: LoggedInRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_logged_in,
    reach: Reach::Host,
    example: "SELECT user, tty, host, time FROM logged_in_users WHERE type = 'user'",
};

fn gen_logged_in(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        utmp::read(utmp::UTMP_PATHS)?
            .into_iter()
            // Empty slots, and init's own records, are not logins (as osquery).
            .filter(|r| r.kind != 0 && r.pid != 1)
            .map(|r| LoggedInRow {
                r#type: utmp::type_name(r.kind).to_string(),
                user: r.user,
                tty: r.line,
                host: r.host,
                time: r.time,
                pid: r.pid.into(),
            })
            .collect(),
    ))
}

table_row! {
    /// One login or logout (a wtmp record).
    struct LastRow {
        username: text = "Entry username",
        tty: text = "Entry terminal",
        pid: integer = "Process (or thread) ID",
        r#type: integer = "Entry type, according to ut_type types (utmp.h)",
        type_name: text = "Entry type name, according to ut_type types (utmp.h)",
        time: integer = "Entry timestamp",
        host: text = "Entry hostname",
    }
}

pub(crate) static LAST: Table = Table {
    name: "last",
    about: "System logins and logouts (from wtmp).",
    columns: LastRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_last,
    reach: Reach::Host,
    example: "SELECT username, tty, host, datetime(time, 'unixepoch') FROM last WHERE type = 7",
};

fn last_row(r: Record) -> LastRow {
    LastRow {
        username: r.user,
        tty: r.line,
        pid: r.pid.into(),
        r#type: r.kind.into(),
        type_name: utmp::type_name(r.kind).to_string(),
        time: r.time,
        host: r.host,
    }
}

fn gen_last(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        utmp::read(utmp::WTMP_PATHS)?
            .into_iter()
            .filter(|r| r.kind != 0)
            .map(last_row)
            .collect(),
    ))
}
