//! The SQL engine: an in-memory SQLite connection that can only read. Every table is an
//! eponymous virtual table (`SELECT … FROM processes` needs no CREATE), every statement is
//! checked by an authorizer that allows reads and function calls only, and the query loop
//! enforces the row cap while the progress handler enforces the time cap.

use super::budget::Budget;
use super::vtab::{Aux, QueryTab};
use super::{functions, tables};
use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The largest SQL text accepted.
pub const MAX_SQL: usize = 1 << 20;
/// The largest string or blob a query may build (`randomblob(1e10)` must not take the host).
pub(crate) const MAX_VALUE_LENGTH: i32 = 64 << 20;
/// SQLite's memory, for sorting and grouping, across the whole process.
pub(crate) const HEAP_LIMIT: i64 = 512 << 20;
/// How many virtual machine instructions between two looks at the clock.
const PROGRESS_STEPS: i32 = 1000;

/// What a query returned.
#[derive(Debug, Default)]
pub struct Output {
    /// The result's column names, in order.
    pub columns: Vec<String>,
    /// The rows kept, each in column order.
    pub rows: Vec<Vec<Value>>,
    /// Why the query stopped before its last row, if it did.
    pub stopped: Option<String>,
}

/// A read-only SQLite connection with every table registered, under one query's budget.
pub struct Engine {
    conn: Connection,
    budget: Arc<Budget>,
    /// Tables the statements prepared so far refer to (connected tables, authorized reads).
    reads: Arc<Mutex<BTreeSet<String>>>,
}

fn sql_error(e: rusqlite::Error) -> String {
    let text = e.to_string();
    if text.contains("not authorized") {
        return "not allowed: the query module only runs read-only SELECT statements over its tables (no PRAGMA, ATTACH, CREATE, INSERT, UPDATE, DELETE or transactions)".into();
    }
    text
}

impl Engine {
    /// Opens a connection, locks it down and registers every table and function; the
    /// budget bounds everything run on it.
    pub fn open(budget: Arc<Budget>) -> Result<Engine, String> {
        let conn = Connection::open_in_memory_with_flags(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_MEMORY,
        )
        .map_err(|e| format!("cannot open the SQL engine: {e}"))?;
        let setup = |r: rusqlite::Result<()>| r.map_err(|e| format!("SQL engine setup: {e}"));
        // No other database may be attached: the query sees the tables and nothing else.
        setup(conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0).map(|_| ()))?;
        setup(
            conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_LENGTH)
                .map(|_| ()),
        )?;
        setup(
            conn.set_limit(Limit::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL as i32)
                .map(|_| ()),
        )?;
        for (option, on) in [
            (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
            (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
            (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
            (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
            // As in osquery's SQLite, a double-quoted word that names no column is a string
            // (`WHERE address != "0.0.0.0"`): real packs are written that way.
            (DbConfig::SQLITE_DBCONFIG_DQS_DML, true),
            (DbConfig::SQLITE_DBCONFIG_DQS_DDL, false),
        ] {
            setup(conn.set_db_config(option, on).map(|_| ()))?;
        }
        // Sorts that outgrow memory would spill to temporary files, which the sandbox's
        // read-only filesystem refuses: keep them in memory, under the heap limit.
        setup(conn.pragma_update(None, "temp_store", "MEMORY"))?;
        let current: i64 = conn
            .query_row("PRAGMA hard_heap_limit", [], |r| r.get(0))
            .unwrap_or(0);
        if current == 0 || current > HEAP_LIMIT {
            setup(conn.pragma_update(None, "hard_heap_limit", HEAP_LIMIT))?;
        }
        functions::register(&conn).map_err(|e| format!("SQL engine setup: {e}"))?;
        let reads: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        for table in tables::all() {
            setup(conn.create_module(
                table.name,
                rusqlite::vtab::eponymous_only_module::<QueryTab>(),
                Some(Aux {
                    table,
                    budget: budget.clone(),
                    referenced: reads.clone(),
                }),
            ))?;
        }
        setup(conn.pragma_update(None, "query_only", true))?;
        let seen = reads.clone();
        setup(conn.authorizer(Some(move |ctx: AuthContext<'_>| authorize(ctx, &seen))))?;
        let stop = budget.clone();
        setup(conn.progress_handler(PROGRESS_STEPS, Some(move || stop.check().is_err())))?;
        Ok(Engine {
            conn,
            budget,
            reads,
        })
    }

    /// The tables `sql` reads, found by preparing it (without running it) on a connection
    /// of its own, where no table was connected before.
    pub fn tables_read(sql: &str) -> Result<Vec<String>, String> {
        let engine = Engine::open(Arc::new(Budget::unlimited()))?;
        engine.tables_referenced(sql)
    }

    fn tables_referenced(&self, sql: &str) -> Result<Vec<String>, String> {
        let stmt = self.prepare(sql)?;
        drop(stmt);
        if let Some(table) = self.unconstrained_table(sql)? {
            return Err(format!("sql: {}", table.missing_required()));
        }
        let reads = self
            .reads
            .lock()
            .map_err(|_| "SQL engine: lock poisoned".to_string())?;
        Ok(reads.iter().cloned().collect())
    }

    /// A table the compiled statement would scan without the constraint it requires (the
    /// plan's `!<table>` marker, in the program's VFilter instructions): the statement would
    /// fail on its first row, so it is refused before anything is signed or run.
    fn unconstrained_table(
        &self,
        sql: &str,
    ) -> Result<Option<&'static super::schema::Table>, String> {
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN {sql}"))
            .map_err(|e| format!("sql: {}", sql_error(e)))?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(|e| format!("sql: {}", sql_error(e)))? {
            let opcode = row.get_ref(1).ok().and_then(|v| v.as_str().ok());
            if opcode != Some("VFilter") {
                continue;
            }
            let plan = row
                .get_ref(5)
                .ok()
                .and_then(|v| v.as_str().ok())
                .unwrap_or("");
            if let Some(name) = plan.split(';').find_map(|part| part.strip_prefix('!')) {
                return Ok(tables::lookup(name));
            }
        }
        Ok(None)
    }

    fn prepare(&self, sql: &str) -> Result<rusqlite::Statement<'_>, String> {
        if sql.len() > MAX_SQL {
            return Err(format!("sql: the statement is longer than {MAX_SQL} bytes"));
        }
        if sql.trim().is_empty() {
            return Err("sql: empty statement, expected a SELECT".into());
        }
        let stmt = self.conn.prepare(sql).map_err(|e| match e {
            rusqlite::Error::MultipleStatement => {
                "sql: only one statement may be given (remove what follows the first ';')".into()
            }
            e => format!("sql: {}", sql_error(e)),
        })?;
        if !stmt.readonly() {
            return Err("sql: only read-only SELECT statements are allowed".into());
        }
        Ok(stmt)
    }

    /// Runs `sql`, keeping at most `maxrows` rows. A query that reaches a cap is not an
    /// error: its rows so far are returned with the reason in `stopped`.
    pub fn run(&self, sql: &str, maxrows: usize) -> Result<Output, String> {
        self.run_with(sql, maxrows, |_| ())
    }

    /// Like [`Engine::run`], calling `each` on every row as it arrives (the shell prints
    /// while a long query runs).
    pub fn run_with(
        &self,
        sql: &str,
        maxrows: usize,
        mut each: impl FnMut(&[Value]),
    ) -> Result<Output, String> {
        let mut stmt = self.prepare(sql)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let width = columns.len();
        let mut out = Output {
            columns,
            ..Default::default()
        };
        let mut bytes = 0usize;
        let mut rows = stmt.raw_query();
        loop {
            match rows.next() {
                Ok(Some(row)) => {
                    if out.rows.len() >= maxrows {
                        out.stopped = Some(format!(
                            "the query returned more than maxrows={maxrows} rows: only the first {maxrows} are kept"
                        ));
                        break;
                    }
                    let mut values = Vec::with_capacity(width);
                    let mut row_bytes = 3;
                    for i in 0..width {
                        let v = row
                            .get_ref(i)
                            .map(super::schema::owned)
                            .map_err(|e| format!("sql: {e}"))?;
                        row_bytes += value_size(&v);
                        values.push(v);
                    }
                    bytes += row_bytes;
                    if bytes > self.budget.max_result_bytes {
                        out.stopped = Some(format!(
                            "the result grew past the {} bytes one result may take: only its first {} rows are kept",
                            self.budget.max_result_bytes,
                            out.rows.len()
                        ));
                        break;
                    }
                    each(&values);
                    out.rows.push(values);
                }
                Ok(None) => break,
                Err(e) => match self.budget.stopped() {
                    Some(reason) => {
                        out.stopped = Some(format!(
                            "{reason}; {} row(s) were read before",
                            out.rows.len()
                        ));
                        break;
                    }
                    None => return Err(format!("sql: {}", sql_error(e))),
                },
            }
        }
        Ok(out)
    }
}

/// About the room a value takes in the result's JSON (text as a string with its escapes,
/// blobs as hex, numbers at their longest).
fn value_size(v: &Value) -> usize {
    match v {
        Value::Text(s) => {
            let escaped = s
                .bytes()
                .filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\')
                .count();
            s.len() + escaped * 5 + 3
        }
        Value::Blob(b) => b.len() * 2 + 3,
        _ => 25,
    }
}

/// Reads and function calls are allowed; anything that would change state, attach a file
/// or set a pragma is refused. Reads are recorded so the ACL can check table permissions.
fn authorize(ctx: AuthContext<'_>, reads: &Mutex<BTreeSet<String>>) -> Authorization {
    match ctx.action {
        AuthAction::Select | AuthAction::Function { .. } | AuthAction::Recursive => {
            Authorization::Allow
        }
        AuthAction::Read { table_name, .. } => {
            if let Ok(mut r) = reads.lock() {
                r.insert(table_name.to_string());
            }
            Authorization::Allow
        }
        _ => Authorization::Deny,
    }
}
