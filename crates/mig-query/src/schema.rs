//! What a table is: osquery's name, columns and types, which columns its generator can use
//! as input, and the generator itself.

use super::budget::Budget;
use rusqlite::types::Value;
use std::sync::Arc;

/// osquery's column types. Declared as such in the virtual table, so SQLite gives BIGINT and
/// INTEGER columns integer affinity and `pid = '1'` still matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// A UTF-8 string.
    Text,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer: sizes, times, inodes.
    Bigint,
    /// An unsigned 64-bit integer (SQLite stores it signed).
    UnsignedBigint,
    /// A floating-point number.
    Double,
}

impl ColType {
    /// The type as declared in the virtual table's `CREATE TABLE`, osquery's spelling.
    pub fn sql(self) -> &'static str {
        match self {
            ColType::Text => "TEXT",
            ColType::Integer => "INTEGER",
            ColType::Bigint => "BIGINT",
            ColType::UnsignedBigint => "UNSIGNED BIGINT",
            ColType::Double => "DOUBLE",
        }
    }
}

/// A column of a table, as osquery declares it.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// osquery's column name.
    pub name: &'static str,
    /// osquery's column type.
    pub kind: ColType,
    /// osquery's one-line description of the column.
    pub about: &'static str,
    /// Hidden, as osquery declares it: `SELECT *` leaves it out; naming it reads it.
    pub hidden: bool,
}

impl Column {
    /// The same column, hidden.
    pub const fn hidden(self) -> Column {
        Column {
            hidden: true,
            ..self
        }
    }
}

/// A TEXT column, as `table_row!` declares it (see crate::row).
pub const fn text(name: &'static str, about: &'static str) -> Column {
    Column {
        name,
        kind: ColType::Text,
        about,
        hidden: false,
    }
}
/// An INTEGER column, as `table_row!` declares it (see crate::row).
pub const fn integer(name: &'static str, about: &'static str) -> Column {
    Column {
        name,
        kind: ColType::Integer,
        about,
        hidden: false,
    }
}
/// A BIGINT column, as `table_row!` declares it (see crate::row).
pub const fn bigint(name: &'static str, about: &'static str) -> Column {
    Column {
        name,
        kind: ColType::Bigint,
        about,
        hidden: false,
    }
}
/// A DOUBLE column, as `table_row!` declares it (see crate::row).
pub const fn double(name: &'static str, about: &'static str) -> Column {
    Column {
        name,
        kind: ColType::Double,
        about,
        hidden: false,
    }
}

/// One row, in the table's column order.
pub type Row = Vec<Value>;

/// A source of rows, pulled one at a time so that large sources (a file tree, every process)
/// never sit in memory whole.
pub trait Rows {
    /// The next row; `None` after the last. An error ends the scan and the query.
    fn next_row(&mut self) -> Result<Option<Row>, String>;
}

/// Rows already in memory: for the small tables (one file, one row). Each becomes a [`Row`]
/// as it is read, so a table's typed rows (see crate::row) are kept as such until then.
pub struct VecRows<R>(std::vec::IntoIter<R>);

impl<R: Into<Row> + 'static> VecRows<R> {
    /// The rows as a [`Rows`] source, in order.
    pub fn boxed(rows: Vec<R>) -> Box<dyn Rows> {
        Box::new(VecRows(rows.into_iter()))
    }
}

impl<R: Into<Row>> Rows for VecRows<R> {
    fn next_row(&mut self) -> Result<Option<Row>, String> {
        Ok(self.0.next().map(Into::into))
    }
}

/// Rows from a closure called until it returns `None`.
pub struct FnRows<F>(pub F);

impl<F, R> Rows for FnRows<F>
where
    F: FnMut() -> Result<Option<R>, String>,
    R: Into<Row>,
{
    fn next_row(&mut self) -> Result<Option<Row>, String> {
        Ok((self.0)()?.map(Into::into))
    }
}

/// Makes the rows of one scan, given what the WHERE clause pinned down.
pub type Generator = fn(&Constraints) -> Result<Box<dyn Rows>, String>;

/// What a table's generator talks to, past the host's files and kernel. A table that reaches
/// further needs more from the module's sandbox, and runs only where the ACL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Files, /proc, /sys and netlink: what every table reads.
    Host,
    /// The Docker daemon, over its Unix socket (which could start a container: the module
    /// only sends GET requests, and the sandbox lets it open Unix sockets only for these).
    DockerDaemon,
    /// Other machines, over the network.
    Network,
}

/// An osquery table: its schema, what its generator can push down, and the generator.
pub struct Table {
    /// osquery's table name, which is also the virtual table's name in SQL.
    pub name: &'static str,
    /// A one-line description of what the table lists and where it is read from.
    pub about: &'static str,
    /// osquery's columns, in osquery's order: its row struct's `COLUMNS` (see crate::row).
    pub columns: &'static [Column],
    /// Columns whose `=` and `IN` values the generator uses to produce fewer rows (osquery's
    /// `index` and `additional` columns). Only these are pushed down.
    pub index: &'static [&'static str],
    /// At least one of these columns must be constrained (osquery's `required`), or the scan
    /// fails with an error saying so: `file` without a path would walk every disk.
    pub required: &'static [&'static str],
    /// Columns whose `LIKE` pattern the generator expands (osquery's `%` and `%%` paths).
    pub like: &'static [&'static str],
    /// Makes the rows of a scan.
    pub generate: Generator,
    /// What the generator talks to.
    pub reach: Reach,
    /// A query that shows the table at work, for the documentation and `.schema`.
    pub example: &'static str,
}

impl Table {
    /// The position of the column named `name`; `None` when the table has no such column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The first name in `index`, `required` or `like` that is not one of the table's
    /// columns; `None` when they all are. A const fn, so the tables are checked as the crate
    /// compiles (tables/mod.rs).
    pub(crate) const fn undeclared_column(&self) -> Option<&'static str> {
        let lists = [self.index, self.required, self.like];
        let mut l = 0;
        while l < lists.len() {
            let mut n = 0;
            while n < lists[l].len() {
                if !self.declares(lists[l][n]) {
                    return Some(lists[l][n]);
                }
                n += 1;
            }
            l += 1;
        }
        None
    }

    /// Is `name` one of the columns? [`Table::column_index`], usable in a const fn.
    const fn declares(&self, name: &str) -> bool {
        let mut c = 0;
        while c < self.columns.len() {
            if same(self.columns[c].name, name) {
                return true;
            }
            c += 1;
        }
        false
    }

    /// The `CREATE TABLE` statement SQLite is given for the virtual table.
    pub fn create_sql(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let hidden = if c.hidden { " HIDDEN" } else { "" };
                format!("\"{}\" {}{hidden}", c.name, c.kind.sql())
            })
            .collect();
        format!("CREATE TABLE \"{}\"({})", self.name, cols.join(", "))
    }

    /// The error when no required column is constrained, with osquery-style advice.
    pub fn missing_required(&self) -> String {
        let names: Vec<String> = self.required.iter().map(|c| format!("'{c}'")).collect();
        let example = self.example;
        format!(
            "table {} needs a constraint on {} (an = , IN or LIKE in the WHERE clause), e.g. {example}",
            self.name,
            names.join(" or ")
        )
    }
}

/// `a == b`, which const fns cannot write for strings yet.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut n = 0;
    while n < a.len() {
        if a[n] != b[n] {
            return false;
        }
        n += 1;
    }
    true
}

/// What the WHERE clause fixed for one scan, and which columns the statement reads.
pub struct Constraints {
    /// The table being scanned.
    pub table: &'static Table,
    /// Column index → the values it must equal (from `=` or `IN`).
    pub eq: Vec<(usize, Vec<Value>)>,
    /// Column index → LIKE patterns.
    pub like: Vec<(usize, String)>,
    /// SQLite's colUsed mask: bit N set when column N is read (bit 63: column 63 or later).
    pub used: u64,
    /// The running query's time budget, which [`Constraints::check`] consults.
    pub budget: Arc<Budget>,
}

impl Constraints {
    /// A scan with no constraints that reads every column (tests, generators that call each
    /// other).
    pub fn all(table: &'static Table, budget: Arc<Budget>) -> Constraints {
        Constraints {
            table,
            eq: Vec::new(),
            like: Vec::new(),
            used: u64::MAX,
            budget,
        }
    }

    /// A column's position; `None` for a column this table does not have (helpers shared
    /// by several tables ask for columns only some of them have).
    fn index(&self, column: &str) -> Option<usize> {
        self.table.column_index(column)
    }

    /// The values `column` must take, as text; `None` when it is not constrained.
    pub fn texts(&self, column: &str) -> Option<Vec<String>> {
        let i = self.index(column)?;
        let values = &self.eq.iter().find(|(c, _)| *c == i)?.1;
        Some(values.iter().filter_map(value_text).collect())
    }

    /// The values `column` must take, as integers; values that are not integers are left
    /// out (they match no row).
    pub fn ints(&self, column: &str) -> Option<Vec<i64>> {
        let i = self.index(column)?;
        let values = &self.eq.iter().find(|(c, _)| *c == i)?.1;
        Some(values.iter().filter_map(value_int).collect())
    }

    /// LIKE patterns given for `column`.
    pub fn likes(&self, column: &str) -> Vec<String> {
        let Some(i) = self.index(column) else {
            return Vec::new();
        };
        self.like
            .iter()
            .filter(|(c, _)| *c == i)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Does the statement read `column`? Generators skip expensive columns nobody reads.
    pub fn uses(&self, column: &str) -> bool {
        match self.index(column) {
            Some(i) if i < 63 => self.used & (1 << i) != 0,
            Some(_) => self.used & (1 << 63) != 0,
            None => false,
        }
    }

    /// `Err` once the query ran out of time or was cancelled: long generators call it.
    pub fn check(&self) -> Result<(), String> {
        self.budget.check().map_err(|stop| stop.to_string())
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Blob(b) => String::from_utf8(b.clone()).ok(),
        Value::Null => None,
    }
}

fn value_int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Real(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// An SQLite value, copied out of SQLite's memory.
pub fn owned(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}
