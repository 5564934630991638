//! The engine and module as a whole: read-only, caps, constraints, errors. Each table's own
//! checks live with the table; the comparisons with the system's tools are in
//! tests/query_vs_system.rs.

use super::*;
use crate::lookup;
use crate::ModuleResult;
use serde_json::json;

fn run(sql: &str) -> ModuleResult {
    lookup("query")
        .unwrap()
        .run_json(&json!({ "sql": sql }), &Context::default())
}

fn rows(sql: &str) -> Vec<Vec<Value>> {
    let r = run(sql);
    assert!(r.success, "{sql}: {:?}", r.errors);
    serde_json::from_value(r.elements["rows"].clone()).unwrap()
}

#[test]
fn selects_from_a_table_and_counts() {
    let r = run("SELECT pid, name FROM processes WHERE pid = 1");
    assert!(r.success, "{:?}", r.errors);
    assert!(r.foundanything);
    assert_eq!(r.elements["columns"], json!(["pid", "name"]));
    assert_eq!(r.elements["rowcount"], 1);
    assert_eq!(r.elements["rows"][0][0], 1);
    let r = run("SELECT 1 WHERE 0");
    assert!(r.success);
    assert!(!r.foundanything);
    assert_eq!(r.elements["rowcount"], 0);
}

#[test]
fn double_quoted_strings_are_strings_unless_they_name_a_column() {
    // As osquery's SQLite reads them: the most common form in real packs.
    assert_eq!(
        rows(r#"SELECT name FROM processes WHERE pid = 1 AND name != "no such process""#).len(),
        1
    );
    assert_eq!(rows(r#"SELECT "a" || 'b'"#), vec![vec![json!("ab")]]);
    // A double-quoted column name is still the column.
    assert_eq!(
        rows(r#"SELECT "pid" FROM processes WHERE pid = 1"#),
        vec![vec![json!(1)]]
    );
}

#[test]
fn hidden_columns_are_read_when_named() {
    // Another platform's column: hidden, and NULL on Linux, as in osquery.
    assert_eq!(
        rows("SELECT pid, elevated_token FROM processes WHERE pid = 1"),
        vec![vec![json!(1), Value::Null]]
    );
    assert!(
        !run("SELECT * FROM processes WHERE pid = 1").elements["columns"]
            .as_array()
            .unwrap()
            .contains(&json!("elevated_token"))
    );
}

#[test]
fn a_table_without_its_required_constraint_is_refused_before_anything_runs() {
    let m = lookup("query").unwrap();
    for t in all_tables().iter().filter(|t| !t.required.is_empty()) {
        let err = m
            .check_json(&json!({"sql": format!("SELECT * FROM {}", t.name)}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("table {} needs a constraint", t.name)),
            "{err}"
        );
    }
    // Constrained in the WHERE clause, or fed by a join: fine.
    m.check_json(&json!({"sql": "SELECT * FROM file WHERE path = '/etc/hostname'"}))
        .unwrap();
    m.check_json(&json!({"sql": "SELECT f.path FROM users u JOIN file f ON f.path = u.directory"}))
        .unwrap();
    // `mig query` refuses it before signing: the flags are validated the same way.
    let err = m
        .flags_to_json(&["SELECT path FROM file WHERE size > 10".to_string()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("needs a constraint on 'path' or 'directory'"),
        "{err}"
    );
}

#[test]
fn every_table_answers_select_star_with_its_own_columns() {
    for t in all_tables() {
        let r = run(t.example);
        // Without the `yara` feature the yara tables can only say there is no engine.
        let no_engine =
            !cfg!(feature = "yara") && r.errors.iter().any(|e| e.contains("no YARA engine"));
        assert!(
            r.success || no_engine,
            "{}: example {:?}: {:?}",
            t.name,
            t.example,
            r.errors
        );
        if !t.required.is_empty() {
            continue;
        }
        let r = run(&format!("SELECT * FROM {} LIMIT 5", t.name));
        assert!(r.success, "{}: {:?}", t.name, r.errors);
        // osquery's hidden columns are read when named, not by `*`.
        let names: Vec<&str> = t
            .columns
            .iter()
            .filter(|c| !c.hidden)
            .map(|c| c.name)
            .collect();
        assert_eq!(r.elements["columns"], json!(names), "{}", t.name);
    }
}

#[test]
fn writes_attach_pragmas_and_several_statements_are_refused() {
    for sql in [
        "CREATE TABLE x(a)",
        "CREATE TEMP TABLE x(a)",
        "INSERT INTO processes(pid) VALUES (1)",
        "DELETE FROM processes",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA query_only = 0",
        "PRAGMA writable_schema = 1",
        "BEGIN",
        "SELECT 1; SELECT 2",
        "VACUUM INTO '/tmp/x.db'",
        "SELECT load_extension('/tmp/x.so')",
    ] {
        let r = run(sql);
        assert!(!r.success, "{sql} must be refused");
        assert!(r.errors[0].starts_with("sql:"), "{sql}: {:?}", r.errors);
    }
    assert!(run("SELECT 1; SELECT 2").errors[0].contains("only one statement"));
    assert!(run("PRAGMA query_only = 0").errors[0].contains("read-only SELECT"));
    assert!(run("SELEC 1").errors[0].contains("syntax error"));
}

#[test]
fn maxrows_stops_the_query_and_says_so() {
    let r = lookup("query").unwrap().run_json(
        &json!({"sql": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n", "maxrows": 3}),
        &Context::default(),
    );
    assert!(r.success, "{:?}", r.errors);
    assert_eq!(r.elements["rowcount"], 3);
    assert!(r.errors[0].contains("maxrows=3"), "{:?}", r.errors);
}

#[test]
fn timeout_interrupts_a_runaway_query() {
    let r = lookup("query").unwrap().run_json(
        &json!({"sql": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n", "timeout": "200ms"}),
        &Context::default(),
    );
    assert!(r.success, "{:?}", r.errors);
    assert!(r.errors[0].contains("timeout (200ms)"), "{:?}", r.errors);
    // The module's own deadline stops it too.
    let r = lookup("query").unwrap().run_json(
        &json!({"sql": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"}),
        &Context::new(Some(Duration::from_millis(200))),
    );
    assert!(
        r.errors[0].contains("module ran out of time"),
        "{:?}",
        r.errors
    );
}

#[test]
fn parameters_are_checked_and_named() {
    let m = lookup("query").unwrap();
    for (p, want) in [
        (json!({}), "sql"),
        (json!({"sql": ""}), "empty statement"),
        (json!({"sql": "SELECT 1", "maxrows": 0}), "maxrows"),
        (json!({"sql": "SELECT 1", "timeout": "soon"}), "timeout"),
        (json!({"sql": "SELECT 1", "timeout": "5h"}), "maximum"),
        (json!({"sql": "SELECT 1", "other": 1}), "other"),
        (json!({"sql": "SELECT * FROM nope"}), "no such table: nope"),
    ] {
        let e = m.check_json(&p).unwrap_err().to_string();
        assert!(e.contains(want), "{p}: {e}");
    }
    assert_eq!(parse_timeout("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_timeout("500ms").unwrap(), Duration::from_millis(500));
}

#[test]
fn flags_take_the_sql_as_argument() {
    let p = Query::parse_flags(&[
        "-maxrows".into(),
        "5".into(),
        "-timeout".into(),
        "10s".into(),
        "SELECT * FROM users".into(),
    ])
    .unwrap();
    assert_eq!(
        p,
        Params {
            sql: "SELECT * FROM users".into(),
            maxrows: 5,
            timeout: "10s".into()
        }
    );
    assert!(Query::parse_flags(&[])
        .unwrap_err()
        .to_string()
        .contains("SQL statement"));
    let m = lookup("query").unwrap();
    let j = m.flags_to_json(&["SELECT 1".into()]).unwrap();
    assert_eq!(
        j,
        json!({"sql": "SELECT 1", "maxrows": 10000, "timeout": "60s"})
    );
    assert!(m.flags_to_json(&["SELECT * FROM nope".into()]).is_err());
}

#[test]
fn constraints_are_pushed_down() {
    let me = std::process::id() as i64;
    let r = rows(&format!(
        "SELECT pid FROM processes WHERE pid IN (1, {me}, 999999999)"
    ));
    let pids: Vec<i64> = r.iter().map(|r| r[0].as_i64().unwrap()).collect();
    assert_eq!(pids, vec![1, me]);
    // A text value for an integer column still matches, as in SQLite.
    assert_eq!(
        rows(&format!("SELECT pid FROM processes WHERE pid = '{me}'")).len(),
        1
    );
}

#[test]
fn the_pretty_printer_draws_a_table() {
    let r = run("SELECT 1 AS a, 'x' AS b");
    let lines = lookup("query").unwrap().pretty(&r, false);
    assert_eq!(lines[1], "| a | b |");
    assert_eq!(lines[3], "| 1 | x |");
    assert_eq!(lines.last().unwrap(), "1 row(s)");
    assert!(lookup("query")
        .unwrap()
        .pretty(&run("SELECT 1 WHERE 0"), true)
        .is_empty());
}

#[test]
fn tables_read_lists_every_table_of_the_statement() {
    let t = tables_read(&json!({"sql": "SELECT p.name FROM processes p JOIN listening_ports USING (pid) WHERE pid IN (SELECT pid FROM process_open_files)"})).unwrap();
    assert_eq!(
        t,
        vec!["listening_ports", "process_open_files", "processes"]
    );
    let t = tables_read(&json!({"sql": "SELECT count(*) FROM processes"})).unwrap();
    assert_eq!(t, vec!["processes"]);
    let t = tables_read(&json!({"sql": "WITH x AS (SELECT * FROM processes) SELECT 1 FROM x"}))
        .unwrap();
    assert_eq!(t, vec!["processes"]);
    assert!(tables_read(&json!({"sql": "SELEC"})).is_err());
}

#[test]
fn the_documentation_lists_every_table_and_column() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/modules/query.md"
    ))
    .unwrap();
    for t in all_tables() {
        let start = doc
            .find(&format!("\n### {}\n", t.name))
            .unwrap_or_else(|| panic!("docs/modules/query.md has no section for {}", t.name));
        let section = &doc[start + 1..];
        let section = &section[..section[4..].find("\n### ").map_or(section.len(), |e| e + 4)];
        for c in t.columns {
            let row = format!("| `{}` | {} |", c.name, c.kind.sql());
            assert!(
                section.contains(&row),
                "{}.{}: missing {row:?}",
                t.name,
                c.name
            );
        }
    }
}

#[test]
fn privacy_mode_masks_paths_and_typed_text() {
    let mut r = ModuleResult {
        foundanything: true,
        success: true,
        elements: json!({"columns": ["pid", "path", "cmdline"], "rows": [[1, "/home/a/x", "x --secret"]], "rowcount": 1}),
        statistics: json!({}),
        errors: vec!["/home/a: denied".into()],
    };
    lookup("query").unwrap().mask(&mut r);
    assert_eq!(r.elements["rows"], json!([[1, "[masked]", "[masked]"]]));
    assert_eq!(r.elements["rowcount"], 1);
    assert_eq!(r.errors, vec!["[masked]"]);
}
