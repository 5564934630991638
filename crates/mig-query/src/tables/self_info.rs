//! osquery_info, osquery_registry, osquery_extensions, osquery_flags, osquery_schedule,
//! osquery_packs and osquery_events, answered with this engine's own facts: a query that
//! checks an osquery agent's health (its version, how long it has run, which tables it has,
//! what it schedules) gets the truth about the process answering it.

use super::super::row::table_row;
use super::super::schema::*;
use mig_host::{process, system};

table_row! {
    /// The process answering the query.
    struct OsqueryInfoRow {
        pid: integer = "Process (or thread/handle) ID",
        uuid: text = "Unique ID provided by the system",
        instance_id: text = "Unique, long-lived ID per instance of osquery",
        version: text = "osquery toolkit version",
        config_hash: text = "Hash of the working configuration state",
        config_valid: integer = "1 if the config was loaded and considered valid, else 0",
        extensions: text = "osquery extensions status",
        build_platform: text = "osquery toolkit build platform",
        build_distro: text = "osquery toolkit platform distribution name (os version)",
        start_time: integer = "UNIX time in seconds when the process started",
        watcher: integer = "Process (or thread/handle) ID of optional watcher process",
        platform_mask: integer = "The osquery platform bitmask",
    }
}

pub(crate) static OSQUERY_INFO: Table = Table {
    name: "osquery_info",
    about: "The process answering the query, as osquery describes itself: this project's version, pid and start time (there is no osquery configuration, extension or watcher).",
    columns: OsqueryInfoRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_osquery_info,
    reach: Reach::Host,
    example: "SELECT version, pid, start_time FROM osquery_info",
};

/// osquery's platform bits: POSIX (0x01) | LINUX (0x08).
const PLATFORM_MASK_LINUX: i64 = 0x01 | 0x08;

fn gen_osquery_info(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let pid = std::process::id();
    let start_time = match process::stat(pid).map_err(|e| e.to_string())? {
        Some(st) => {
            let boot = process::boot_time().map_err(|e| e.to_string())?;
            (boot + st.starttime / process::clock_ticks().max(1)) as i64
        }
        None => -1,
    };
    let release = system::os_release().unwrap_or_default();
    let field = |k: &str| release.get(k).cloned().unwrap_or_default();
    // The machine's UUID is root's to read, as in system_info: only when asked for.
    let uuid = if q.uses("uuid") {
        system::dmi("product_uuid")
            .map_err(|e| e.to_string())?
            .unwrap_or_default()
            .to_ascii_uppercase()
    } else {
        String::new()
    };
    Ok(VecRows::boxed(vec![OsqueryInfoRow {
        pid: i64::from(pid),
        uuid,
        instance_id: String::new(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        config_hash: String::new(),
        config_valid: 1,
        extensions: "inactive".into(),
        build_platform: std::env::consts::OS.into(),
        build_distro: format!("{}{}", field("ID"), field("VERSION_ID")),
        start_time,
        watcher: -1,
        platform_mask: PLATFORM_MASK_LINUX,
    }]))
}

table_row! {
    /// One registered plugin.
    struct RegistryRow {
        registry: text = "Name of the osquery registry",
        name: text = "Name of the plugin item",
        owner_uuid: integer = "Extension route UUID (0 for core)",
        internal: integer = "1 If the plugin is internal else 0",
        active: integer = "1 If this plugin is active else 0",
    }
}

pub(crate) static OSQUERY_REGISTRY: Table = Table {
    name: "osquery_registry",
    about: "The engine's registry, as osquery lists its own: every table (registry `table`) and the SQL engine (registry `sql`).",
    columns: RegistryRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_osquery_registry,
    reach: Reach::Host,
    example: "SELECT name FROM osquery_registry WHERE registry = 'table' AND name LIKE 'docker%'",
};

fn gen_osquery_registry(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let plugin = |registry: &str, name: &str, internal: i64| RegistryRow {
        registry: registry.into(),
        name: name.into(),
        owner_uuid: 0,
        internal,
        active: 1,
    };
    let mut rows = vec![plugin("sql", "sql", 1)];
    rows.extend(super::all().iter().map(|t| plugin("table", t.name, 0)));
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One extension: here only the core.
    struct ExtensionRow {
        uuid: bigint = "The transient ID assigned for communication",
        name: text = "Extension's name",
        version: text = "Extension's version",
        sdk_version: text = "osquery SDK version used to build the extension",
        path: text = "Path of the extension's Thrift connection or library path",
        r#type: text = "SDK extension type: core, extension, or module",
    }
}

pub(crate) static OSQUERY_EXTENSIONS: Table = Table {
    name: "osquery_extensions",
    about: "List of active osquery extensions: the core only (this engine takes no extensions; Fleet's file_lines and parse_json are built in).",
    columns: ExtensionRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_osquery_extensions,
    reach: Reach::Host,
    example: "SELECT name, version, type FROM osquery_extensions",
};

fn gen_osquery_extensions(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(vec![ExtensionRow {
        uuid: 0,
        name: "core".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        sdk_version: "0.0.0".into(),
        path: String::new(),
        r#type: "core".into(),
    }]))
}

table_row! {
    /// One setting of the engine.
    struct FlagRow {
        name: text = "Flag name",
        r#type: text = "Flag type",
        description: text = "Flag description",
        default_value: text = "Flag default value",
        value: text = "Flag value",
        shell_only: integer = "Is the flag shell only?",
    }
}

pub(crate) static OSQUERY_FLAGS: Table = Table {
    name: "osquery_flags",
    about: "The limits this engine enforces on every query, as osquery lists its flags (they are fixed in this build: default and value agree).",
    columns: FlagRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_osquery_flags,
    reach: Reach::Host,
    example: "SELECT name, value FROM osquery_flags",
};

fn gen_osquery_flags(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    use crate::engine::{HEAP_LIMIT, MAX_SQL, MAX_VALUE_LENGTH};
    let flag = |name: &str, description: &str, value: i64| FlagRow {
        name: name.into(),
        r#type: "uint64".into(),
        description: description.into(),
        default_value: value.to_string(),
        value: value.to_string(),
        shell_only: 0,
    };
    Ok(VecRows::boxed(vec![
        flag(
            "query_max_sql_bytes",
            "Longest SQL statement accepted",
            MAX_SQL as i64,
        ),
        flag(
            "query_max_value_bytes",
            "Largest string or blob a query may build",
            i64::from(MAX_VALUE_LENGTH),
        ),
        flag(
            "query_heap_limit_bytes",
            "SQLite memory for sorting and grouping, across the process",
            HEAP_LIMIT,
        ),
    ]))
}

table_row! {
    /// One scheduled query.
    struct ScheduleRow {
        name: text = "The given name for this query",
        query: text = "The exact query to run",
        interval: integer = "The interval in seconds to run this query, not an exact interval",
        executions: bigint = "Number of times the query was executed",
        last_executed: bigint = "UNIX time stamp in seconds of the last completed execution",
        denylisted: integer = "1 if the query is denylisted else 0",
        output_size: bigint = "Cumulative total number of bytes generated by the resultant rows of the query",
        wall_time: bigint = "Total wall time in seconds spent executing (deprecated), hidden=True",
        wall_time_ms: bigint = "Total wall time in milliseconds spent executing",
        last_wall_time_ms: bigint = "Wall time in milliseconds of the latest execution",
        user_time: bigint = "Total user time in milliseconds spent executing",
        last_user_time: bigint = "User time in milliseconds of the latest execution",
        system_time: bigint = "Total system time in milliseconds spent executing",
        last_system_time: bigint = "System time in milliseconds of the latest execution",
        average_memory: bigint = "Average of the bytes of resident memory left allocated after collecting results",
        last_memory: bigint = "Resident memory in bytes left allocated after collecting results of the latest execution",
    }
}

pub(crate) static OSQUERY_SCHEDULE: Table = Table {
    name: "osquery_schedule",
    about: "Queries scheduled on this agent. This agent runs queries only when a signed action asks, so there is no row until signed schedules exist (see docs/modules/query.md).",
    columns: ScheduleRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_nothing_scheduled,
    reach: Reach::Host,
    example: "SELECT name, interval, executions FROM osquery_schedule",
};

table_row! {
    /// One query pack.
    struct PackRow {
        name: text = "The given name for this query pack",
        platform: text = "Platforms this query is supported on",
        version: text = "Minimum osquery version that this query will run on",
        shard: integer = "Shard restriction limit, 1-100, 0 meaning no restriction",
        discovery_cache_hits: integer = "The number of times that the discovery query used cached values since the last time the config was reloaded",
        discovery_executions: integer = "The number of times that the discovery queries have been executed since the last time the config was reloaded",
        active: integer = "Whether this pack is active (the version, platform and discovery queries match) yes=1, no=0.",
    }
}

pub(crate) static OSQUERY_PACKS: Table = Table {
    name: "osquery_packs",
    about: "Query packs loaded on this agent: none, as there is no osquery configuration (packs are run as signed actions instead).",
    columns: PackRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_nothing_scheduled,
    reach: Reach::Host,
    example: "SELECT name, active FROM osquery_packs",
};

table_row! {
    /// One event publisher or subscriber.
    struct EventRow {
        name: text = "Event publisher or subscriber name",
        publisher: text = "Name of the associated publisher",
        r#type: text = "Either publisher or subscriber",
        subscriptions: integer = "Number of subscriptions the publisher received or subscriber used",
        events: integer = "Number of events emitted or received since osquery started",
        refreshes: integer = "Publisher only: number of runloop restarts",
        active: integer = "1 if the publisher or subscriber is active else 0",
    }
}

pub(crate) static OSQUERY_EVENTS: Table = Table {
    name: "osquery_events",
    about: "The agent's event publishers (the process connector, inotify) and the event tables they feed, as the agent handed them to this query: events collected, and whether a signed schedule asks for them now.",
    columns: EventRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_events,
    reach: Reach::Host,
    example: "SELECT name, type, events, active FROM osquery_events",
};

/// One publisher row and one subscriber row per event buffer the agent handed over.
fn gen_events(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for b in &crate::events::snapshot().buffers {
        let publisher = match b.name.as_str() {
            mig_core::events::PROCESS_EVENTS => "proc_connector",
            mig_core::events::SOCKET_EVENTS => "socket_tables",
            _ => "inotify",
        };
        let events = i64::try_from(b.events).unwrap_or(i64::MAX);
        for (name, kind) in [(publisher, "publisher"), (b.name.as_str(), "subscriber")] {
            rows.push(EventRow {
                name: name.to_string(),
                publisher: publisher.to_string(),
                r#type: kind.to_string(),
                subscriptions: i64::from(b.active),
                events,
                refreshes: 0,
                active: i64::from(b.active),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

/// This agent loads no osquery configuration: the schedule and pack tables tell so with no
/// rows (signed schedules are listed by the server, docs/monitoring.md).
fn gen_nothing_scheduled(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(Vec::<FlagRow>::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;
    use rusqlite::types::Value;
    use std::sync::Arc;

    fn rows(table: &'static Table) -> Vec<Row> {
        let mut r =
            (table.generate)(&Constraints::all(table, Arc::new(Budget::unlimited()))).unwrap();
        std::iter::from_fn(|| r.next_row().unwrap()).collect()
    }

    #[test]
    fn info_is_this_process() {
        let r = rows(&OSQUERY_INFO);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0][0], Value::Integer(i64::from(std::process::id())));
        assert_eq!(r[0][3], Value::Text(env!("CARGO_PKG_VERSION").into()));
        let Value::Integer(start) = r[0][9] else {
            panic!("{:?}", r[0][9]);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(start > 0 && start <= now, "{start}");
    }

    #[test]
    fn flags_are_the_engines_limits_and_nothing_is_scheduled() {
        let r = rows(&OSQUERY_FLAGS);
        assert!(r
            .iter()
            .any(|row| row[0] == Value::Text("query_max_sql_bytes".into())
                && row[4] == Value::Text(crate::engine::MAX_SQL.to_string())));
        for t in [&OSQUERY_SCHEDULE, &OSQUERY_PACKS, &OSQUERY_EVENTS] {
            // No events were handed to this test process.
            assert!(rows(t).is_empty(), "{}", t.name);
        }
    }

    #[test]
    fn registry_lists_every_table() {
        let r = rows(&OSQUERY_REGISTRY);
        for t in super::super::all() {
            assert!(
                r.iter().any(|row| row[0] == Value::Text("table".into())
                    && row[1] == Value::Text(t.name.into())),
                "{}",
                t.name
            );
        }
    }
}
