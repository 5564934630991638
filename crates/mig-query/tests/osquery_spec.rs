//! Every table holds to osquery's table spec (tests/data/osquery-linux-tables.json, recorded
//! from osquery's specs; see its README): the same name, every column osquery has on Linux
//! with osquery's type, in osquery's order, and no column osquery does not have. The tables
//! of Fleet's agent are held to Fleet's columns.

use mig_query::schema::ColType;
use serde_json::Value;

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/osquery-linux-tables.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Tables of Fleet's agent (fleetd), which real queries use beside osquery's: Fleet's columns
/// (fleetdm/fleet schema/tables/<name>.yml; file_lines in the macadmins extension's order).
const FLEET_TABLES: &[(&str, &[(&str, &str)])] = &[
    ("file_lines", &[("line", "TEXT"), ("path", "TEXT")]),
    (
        "parse_json",
        &[
            ("path", "TEXT"),
            ("fullkey", "TEXT"),
            ("parent", "TEXT"),
            ("key", "TEXT"),
            ("value", "TEXT"),
        ],
    ),
];

/// Tables registered under another of osquery's names for them (osquery's `aliases`):
/// `yara` is yara_file's name before osquery 5.23, which older packs still use.
const ALIASES: &[(&str, &str)] = &[("yara", "yara_file")];

/// Tables of this project's own, and why osquery has none.
const OURS: &[(&str, &str)] = &[(
    "mig_event_buffers",
    "the agent's event buffers and what they lost (osquery reports its own in osquery_events, without an overflow count)",
)];

/// Columns of ours that osquery does not have, and why.
const EXTENSIONS: &[(&str, &str, &str)] = &[(
    "iptables",
    "source",
    "rules are read from the saved rules files (osquery asks the kernel through libiptc): which file",
)];

fn osquery_type(kind: ColType) -> &'static str {
    match kind {
        ColType::Text => "TEXT",
        ColType::Integer => "INTEGER",
        ColType::Bigint => "BIGINT",
        ColType::UnsignedBigint => "UNSIGNED_BIGINT",
        ColType::Double => "DOUBLE",
    }
}

#[test]
fn every_table_has_osquerys_columns_and_types() {
    let spec = spec();
    let mut differences = Vec::new();
    for table in mig_query::all_tables() {
        if let Some((_, columns)) = FLEET_TABLES.iter().find(|(n, _)| *n == table.name) {
            let ours: Vec<(&str, &str)> = table
                .columns
                .iter()
                .map(|c| (c.name, osquery_type(c.kind)))
                .collect();
            if ours != *columns {
                differences.push(format!("{}: {ours:?}, Fleet has {columns:?}", table.name));
            }
            continue;
        }
        if OURS.iter().any(|(name, _)| *name == table.name) {
            continue;
        }
        let spec_name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == table.name)
            .map_or(table.name, |(_, name)| *name);
        let Some(s) = spec["tables"].get(spec_name) else {
            differences.push(format!("{}: not an osquery Linux table", table.name));
            continue;
        };
        // osquery's columns on Linux, then the other platforms' (which osquery declares
        // hidden and leaves empty on Linux).
        let expected: Vec<(&str, &str)> = s["columns"]
            .as_array()
            .unwrap()
            .iter()
            .chain(s["other_platform_columns"].as_array().unwrap())
            .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
            .collect();
        let ours: Vec<(&str, &str)> = table
            .columns
            .iter()
            .map(|c| (c.name, osquery_type(c.kind)))
            .collect();
        for (name, kind) in &expected {
            match ours.iter().find(|(n, _)| n == name) {
                None => differences.push(format!("{}.{name}: missing ({kind})", table.name)),
                Some((_, k)) if k != kind => {
                    differences.push(format!("{}.{name}: {k}, osquery has {kind}", table.name))
                }
                Some(_) => {}
            }
        }
        for (name, _) in &ours {
            let extension = EXTENSIONS
                .iter()
                .any(|(t, c, _)| *t == table.name && c == name);
            if !extension && !expected.iter().any(|(n, _)| n == name) {
                differences.push(format!("{}.{name}: not an osquery column", table.name));
            }
        }
        let order = |cols: &[(&str, &str)]| -> Vec<String> {
            cols.iter()
                .filter(|(n, _)| {
                    expected.iter().any(|(e, _)| e == n) && ours.iter().any(|(o, _)| o == n)
                })
                .map(|(n, _)| n.to_string())
                .collect()
        };
        if order(&expected) != order(&ours) {
            differences.push(format!(
                "{}: columns in another order than osquery's: {:?}",
                table.name,
                order(&ours)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences from osquery's specs:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
