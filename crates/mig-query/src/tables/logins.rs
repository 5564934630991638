//! logged_in_users (utmp) and last (wtmp): login records.

use super::super::schema::*;
use mig_host::utmp::{self, Record};

pub(crate) static LOGGED_IN_USERS: Table = Table {
    name: "logged_in_users",
    about: "Users with an active shell on the system (from utmp).",
    columns: &[
        text("type", "Login type"),
        text("user", "User login name"),
        text("tty", "Device name"),
        text("host", "Remote hostname"),
        bigint("time", "Time entry was made"),
        integer("pid", "Process (or thread) ID"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_logged_in,
    example: "SELECT user, tty, host, time FROM logged_in_users WHERE type = 'user'",
};

fn gen_logged_in(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        utmp::read(utmp::UTMP_PATHS)?
            .into_iter()
            // Empty slots, and init's own records, are not logins (as osquery).
            .filter(|r| r.kind != 0 && r.pid != 1)
            .map(|r| {
                vec![
                    t(utmp::type_name(r.kind)),
                    t(r.user),
                    t(r.line),
                    t(r.host),
                    i(r.time),
                    i(r.pid),
                ]
            })
            .collect(),
    ))
}

pub(crate) static LAST: Table = Table {
    name: "last",
    about: "System logins and logouts (from wtmp).",
    columns: &[
        text("username", "Entry username"),
        text("tty", "Entry terminal"),
        integer("pid", "Process (or thread) ID"),
        integer("type", "Entry type, according to ut_type types (utmp.h)"),
        text(
            "type_name",
            "Entry type name, according to ut_type types (utmp.h)",
        ),
        integer("time", "Entry timestamp"),
        text("host", "Entry hostname"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_last,
    example: "SELECT username, tty, host, datetime(time, 'unixepoch') FROM last WHERE type = 7",
};

pub(crate) fn last_row(r: Record) -> Row {
    vec![
        t(r.user),
        t(r.line),
        i(r.pid),
        i(r.kind),
        t(utmp::type_name(r.kind)),
        i(r.time),
        t(r.host),
    ]
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
