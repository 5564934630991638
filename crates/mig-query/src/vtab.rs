//! One SQLite virtual table type serves every table: it declares the table's columns, tells
//! SQLite which `=`, `IN` and `LIKE` constraints the generator can use (xBestIndex), hands
//! them to the generator (xFilter) and streams its rows (xNext).
//!
//! The plan chosen in xBestIndex travels to xFilter in `idx_str`: `u<colUsed hex>` then, for
//! each argument in order, `e<col>` (one value), `i<col>` (every value of an IN list at once),
//! `l<col>` (a LIKE pattern), and `!<table>` when no required column is constrained (the
//! engine finds that marker in the compiled statement to refuse it before it runs).

use super::budget::Budget;
use super::schema::{Constraints, Row, Rows, Table};
use rusqlite::ffi;
use rusqlite::types::Value;
use rusqlite::vtab::{
    Context as VContext, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConfig, VTabConnection,
    VTabCursor,
};
use rusqlite::{Error, Result};
use std::collections::BTreeSet;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// What each registered table carries: its definition and the query's budget.
pub(crate) struct Aux {
    pub table: &'static Table,
    pub budget: Arc<Budget>,
    /// Tables a statement refers to: SQLite connects an eponymous table the first time a
    /// statement names it, so on a fresh connection this is every table the statement reads
    /// (even one only joined with USING, which the authorizer does not see).
    pub referenced: Arc<Mutex<BTreeSet<String>>>,
}

#[repr(C)]
pub(crate) struct QueryTab {
    /// Must come first: SQLite sees this struct as its own `sqlite3_vtab`.
    base: ffi::sqlite3_vtab,
    table: &'static Table,
    budget: Arc<Budget>,
}

fn module_error(msg: impl Into<String>) -> Error {
    Error::ModuleError(msg.into())
}

/// A full scan is assumed to cost this much; a scan pinned by an index column much less.
const FULL_SCAN_COST: f64 = 100_000.0;
const INDEXED_COST: f64 = 10.0;
/// The cost of a plan that would fail for lack of a required constraint: SQLite picks it
/// only when there is no other, and xFilter then explains what is missing.
const MISSING_REQUIRED_COST: f64 = 1e18;

// SAFETY: QueryTab is #[repr(C)] with its sqlite3_vtab first, as rusqlite's VTab requires.
unsafe impl<'vtab> VTab<'vtab> for QueryTab {
    type Aux = Aux;
    type Cursor = QueryCursor;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Aux>,
        _args: &[&[u8]],
    ) -> Result<(String, Self)> {
        let aux =
            aux.ok_or_else(|| module_error("virtual table registered without its definition"))?;
        if let Ok(mut r) = aux.referenced.lock() {
            r.insert(aux.table.name.to_string());
        }
        // Tables read the operating system: never from inside a view or a trigger.
        db.config(VTabConfig::DirectOnly)?;
        Ok((
            aux.table.create_sql(),
            QueryTab {
                base: ffi::sqlite3_vtab::default(),
                table: aux.table,
                budget: aux.budget.clone(),
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> Result<()> {
        let table = self.table;
        let is_index = |col: c_int| {
            usize::try_from(col)
                .ok()
                .and_then(|c| table.columns.get(c))
                .is_some_and(|c| table.index.contains(&c.name))
        };
        let is_like = |col: c_int| {
            usize::try_from(col)
                .ok()
                .and_then(|c| table.columns.get(c))
                .is_some_and(|c| table.like.contains(&c.name))
        };
        let is_required = |col: c_int| {
            usize::try_from(col)
                .ok()
                .and_then(|c| table.columns.get(c))
                .is_some_and(|c| table.required.contains(&c.name))
        };
        // (constraint number, kind, column)
        let mut chosen: Vec<(usize, char, c_int)> = Vec::new();
        let mut required_usable = false;
        let mut required_unusable = false;
        for (n, c) in info.constraints().enumerate() {
            let col = c.column();
            let op = c.operator();
            let pushable = match op {
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ => is_index(col),
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LIKE => is_like(col),
                _ => false,
            };
            if !pushable {
                continue;
            }
            if !c.is_usable() {
                required_unusable |= is_required(col);
                continue;
            }
            // One constraint per column and operator is enough: SQLite re-checks every row.
            let kind = if op == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LIKE {
                'l'
            } else {
                'e'
            };
            if chosen.iter().any(|(_, k, c)| *c == col && *k == kind) {
                continue;
            }
            required_usable |= is_required(col);
            chosen.push((n, kind, col));
        }
        if !table.required.is_empty() && !required_usable && required_unusable {
            // Another join order can feed the required column: ask SQLite to use it.
            return Err(Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_CONSTRAINT),
                None,
            ));
        }
        let mut plan = format!("u{:x}", info.col_used());
        for (argv, (n, kind, col)) in chosen.iter().enumerate() {
            let mut kind = *kind;
            if kind == 'e' && info.is_in_constraint(*n).unwrap_or(false) {
                // All values of `col IN (…)` in one xFilter call, not one call per value.
                if info.set_in_constraint(*n, true).unwrap_or(false) {
                    kind = 'i';
                }
            }
            let mut usage = info.constraint_usage(*n);
            usage.set_argv_index(argv as c_int + 1);
            // SQLite checks every row again, so a generator may return more rows than asked
            // (LIKE's case-insensitivity, types) but never too few. Except `=` and `IN` on
            // required columns, which the generator honours exactly and may normalise
            // (`directory = '/etc/'` lists /etc, whose rows say `/etc`).
            usage.set_omit(kind != 'l' && is_required(*col));
            plan.push_str(&format!(";{kind}{col}"));
        }
        let missing = !table.required.is_empty() && !required_usable;
        if missing {
            plan.push_str(";!");
            plan.push_str(table.name);
            info.set_estimated_cost(MISSING_REQUIRED_COST);
        } else if chosen.iter().any(|(_, k, _)| *k != 'l') {
            info.set_estimated_cost(INDEXED_COST);
            info.set_estimated_rows(10);
        } else if !chosen.is_empty() {
            info.set_estimated_cost(INDEXED_COST * 100.0);
            info.set_estimated_rows(1000);
        } else {
            info.set_estimated_cost(FULL_SCAN_COST);
            info.set_estimated_rows(1000);
        }
        info.set_idx_str(&plan);
        Ok(())
    }

    fn open(&'vtab mut self) -> Result<QueryCursor> {
        Ok(QueryCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            table: self.table,
            budget: self.budget.clone(),
            rows: None,
            row: None,
            rowid: 0,
        })
    }
}

#[repr(C)]
pub(crate) struct QueryCursor {
    /// Must come first: SQLite sees this struct as its own `sqlite3_vtab_cursor`.
    base: ffi::sqlite3_vtab_cursor,
    table: &'static Table,
    budget: Arc<Budget>,
    rows: Option<Box<dyn Rows>>,
    row: Option<Row>,
    rowid: i64,
}

impl QueryCursor {
    fn advance(&mut self) -> Result<()> {
        let Some(rows) = self.rows.as_mut() else {
            self.row = None;
            return Ok(());
        };
        if let Err(stop) = self.budget.check() {
            return Err(module_error(stop.to_string()));
        }
        // A panic must not cross SQLite's C frames (that would abort the process): it
        // becomes this table's error.
        let next = catch_unwind(AssertUnwindSafe(|| rows.next_row()))
            .unwrap_or_else(|_| Err("internal error while reading the table".into()));
        match next {
            Ok(Some(row)) if row.len() == self.table.columns.len() => {
                self.rowid += 1;
                self.row = Some(row);
                Ok(())
            }
            Ok(Some(row)) => Err(module_error(format!(
                "table {}: a row of {} values for {} columns",
                self.table.name,
                row.len(),
                self.table.columns.len()
            ))),
            Ok(None) => {
                self.row = None;
                self.rows = None;
                Ok(())
            }
            Err(e) => Err(module_error(format!("table {}: {e}", self.table.name))),
        }
    }
}

/// Reads xFilter's arguments back into constraints, following the plan.
fn constraints(
    table: &'static Table,
    budget: &Arc<Budget>,
    plan: &str,
    args: &Filters<'_>,
) -> Result<(Constraints, bool)> {
    let mut c = Constraints {
        table,
        eq: Vec::new(),
        like: Vec::new(),
        used: u64::MAX,
        budget: budget.clone(),
    };
    let mut missing = false;
    let mut argv = 0usize;
    for part in plan.split(';') {
        let (kind, rest) = part.split_at(part.len().min(1));
        match kind {
            "u" => c.used = u64::from_str_radix(rest, 16).unwrap_or(u64::MAX),
            "!" => missing = true,
            "e" | "i" | "l" => {
                let col: usize = rest
                    .parse()
                    .map_err(|_| module_error(format!("bad query plan {plan:?}")))?;
                let values: Vec<Value> = if kind == "i" {
                    let mut list = args.in_values(argv)?;
                    let mut out = Vec::new();
                    while let Some(v) =
                        rusqlite::fallible_iterator::FallibleIterator::next(&mut list)?
                    {
                        out.push(super::schema::owned(v));
                    }
                    out
                } else {
                    vec![args.get::<Value>(argv)?]
                };
                argv += 1;
                if kind == "l" {
                    for v in values {
                        if let Value::Text(p) = v {
                            c.like.push((col, p));
                        }
                    }
                } else {
                    c.eq.push((col, values));
                }
            }
            _ => return Err(module_error(format!("bad query plan {plan:?}"))),
        }
    }
    Ok((c, missing))
}

// SAFETY: QueryCursor is #[repr(C)] with its sqlite3_vtab_cursor first, as VTabCursor
// requires.
unsafe impl VTabCursor for QueryCursor {
    fn filter(&mut self, _idx_num: c_int, idx_str: Option<&str>, args: &Filters<'_>) -> Result<()> {
        let (c, missing) = constraints(self.table, &self.budget, idx_str.unwrap_or("u0"), args)?;
        if missing {
            return Err(module_error(self.table.missing_required()));
        }
        self.rowid = 0;
        let generate = self.table.generate;
        let rows = catch_unwind(AssertUnwindSafe(|| generate(&c)))
            .unwrap_or_else(|_| Err("internal error while reading the table".into()));
        self.rows =
            Some(rows.map_err(|e| module_error(format!("table {}: {e}", self.table.name)))?);
        self.advance()
    }

    fn next(&mut self) -> Result<()> {
        self.advance()
    }

    fn eof(&self) -> bool {
        self.row.is_none()
    }

    fn column(&self, ctx: &mut VContext, i: c_int) -> Result<()> {
        let value = self
            .row
            .as_ref()
            .and_then(|r| usize::try_from(i).ok().and_then(|i| r.get(i)));
        match value {
            Some(v) => ctx.set_result(v),
            None => ctx.set_result(&Value::Null),
        }
    }

    fn rowid(&self) -> Result<i64> {
        Ok(self.rowid)
    }
}
