//! osquery_info, osquery_registry and osquery_extensions, answered with this engine's own
//! facts: a query that
//! checks an osquery agent's health (its version, how long it has run, which tables it has)
//! gets the truth about the process answering it.

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
