//! query: osquery-compatible SQL over the operating system. `SELECT pid, name FROM processes
//! JOIN users USING (uid) WHERE uid != 0` on every matching host at once, signed like any
//! other action. The tables are osquery's (names, columns, types); the engine is SQLite, read
//! only, with a row cap and a time cap. See docs/modules/query.md.

pub use mig_query::{budget, engine, format, schema, version};

use crate::flags::{self, Flag};
use crate::{gofmt, Context, ExecTime, Module, ModuleError, Report, SandboxNeeds};
use budget::Budget;
use engine::Engine;
use rusqlite::types::Value as SqlValue;
use schema::Reach;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use mig_query::{all_tables, lookup_table};

/// Rows kept when the parameters do not say.
pub const DEFAULT_MAXROWS: u64 = 10_000;
/// How long a query may run when the parameters do not say.
pub const DEFAULT_TIMEOUT: &str = "60s";
/// The longest a query may be allowed to run.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

fn default_maxrows() -> u64 {
    DEFAULT_MAXROWS
}

fn default_timeout() -> String {
    DEFAULT_TIMEOUT.into()
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
/// query's parameters.
pub struct Params {
    /// One SELECT statement.
    pub sql: String,
    /// Rows kept at most; the query stops at the next one and says so.
    #[serde(default = "default_maxrows")]
    pub maxrows: u64,
    /// How long the query may run, as a Go duration (`30s`, `2m`).
    #[serde(default = "default_timeout")]
    pub timeout: String,
}

/// Columns masked in privacy mode (by name, in any table or alias): paths and what users
/// typed or stored.
const PRIVATE_COLUMNS: &[&str] = &[
    "path",
    "directory",
    "filename",
    "cwd",
    "root",
    "cmdline",
    "command",
    "history_file",
    "key_file",
    "key",
    "comment",
    "target_path",
    "source",
    "line",
    "home",
    "description",
];

/// `30s`, `1m30s`, `500ms`, `1h` (Go durations, as MIG writes them).
pub fn parse_timeout(s: &str) -> Result<Duration, ModuleError> {
    let d = mig_core::gotime::parse_duration(s)
        .map_err(|e| ModuleError::invalid("timeout", e.to_string()))?;
    if d.is_zero() {
        return Err(ModuleError::invalid(
            "timeout",
            format!("{s:?} must be longer than zero"),
        ));
    }
    if d > MAX_TIMEOUT {
        return Err(ModuleError::invalid(
            "timeout",
            format!(
                "{s:?} is longer than the maximum of {}",
                gofmt::duration(MAX_TIMEOUT)
            ),
        ));
    }
    Ok(d)
}

/// Gives the SQL engine what mig-modules builds for it: the YARA engine of the yara tables.
/// Called before any query runs here, and by other programs that open the engine (the
/// agent's shell).
pub fn register_engines() {
    crate::yara::engine::register_for_queries();
}

/// A query ready to run: its SQL (known to prepare), caps, and the sandbox its tables need.
pub struct Plan {
    sql: String,
    maxrows: usize,
    timeout: Duration,
    sandbox: SandboxNeeds,
}

/// What the query module's process may do for any query. Tables read other processes' /proc
/// entries (exe, cwd, fd, maps), which landlock would hide: the sandbox keeps the filesystem
/// read-only with seccomp instead.
const QUERY_SANDBOX: SandboxNeeds = SandboxNeeds {
    netlink: true,
    ptrace: true,
    ..SandboxNeeds::READ_ONLY
};

/// The sandbox a query reading `tables` needs: the module's own, plus Unix sockets for the
/// docker tables and the network for tables that reach other machines.
fn sandbox_for_tables(tables: &[String]) -> SandboxNeeds {
    let reaches = |r: Reach| {
        tables
            .iter()
            .any(|t| lookup_table(t).is_some_and(|t| t.reach == r))
    };
    SandboxNeeds {
        unix_sockets: reaches(Reach::DockerDaemon),
        network: reaches(Reach::Network),
        ..QUERY_SANDBOX
    }
}

/// Checks the parameters, including that the SQL prepares (so that a typo is reported by
/// `mig query` before anything is signed or sent).
fn check(p: &Params) -> Result<Plan, ModuleError> {
    let max = crate::context::Limits::default().max_elements as u64;
    if p.maxrows == 0 || p.maxrows > max {
        return Err(ModuleError::invalid(
            "maxrows",
            format!("expected between 1 and {max}, got {}", p.maxrows),
        ));
    }
    let timeout = parse_timeout(&p.timeout)?;
    let tables = Engine::tables_read(&p.sql).map_err(|e| ModuleError::invalid("sql", e))?;
    Ok(Plan {
        sql: p.sql.clone(),
        maxrows: usize::try_from(p.maxrows).unwrap_or(usize::MAX),
        timeout,
        sandbox: sandbox_for_tables(&tables),
    })
}

/// What a query reports, its `elements`: a table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Elements {
    /// The result's column names, in order.
    pub columns: Vec<String>,
    /// The rows, each value in its column's place (numbers, strings, null).
    pub rows: Vec<Vec<Value>>,
    /// How many rows there are.
    pub rowcount: usize,
}

/// The tables an SQL statement reads, from the `query` module's parameters: the agent's gate
/// checks `query:<table>` ACL permissions with it before anything runs.
pub fn tables_read(params: &Value) -> Result<Vec<String>, String> {
    let p: Params = serde_json::from_value(params.clone())
        .map_err(|e| format!("invalid query parameters: {e}"))?;
    Engine::tables_read(&p.sql)
}

/// An SQL value as JSON: integers and reals as numbers, text as strings, blobs as hex.
pub fn json_value(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(n) => json!(n),
        SqlValue::Real(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        SqlValue::Text(s) => Value::String(s.clone()),
        SqlValue::Blob(b) => Value::String(crate::file::hash::hex(b)),
    }
}

const FLAGS: &[Flag] = &[
    Flag::value(
        "maxrows",
        "<n>",
        "keep at most n rows (default 10000; the query stops and says so)",
    ),
    Flag::value(
        "timeout",
        "<duration>",
        "stop the query after this long (default 60s)",
    ),
];

/// The query module.
pub struct Query;

impl Module for Query {
    const NAME: &'static str = "query";
    const ABOUT: &'static str =
        "osquery-compatible SQL over the operating system: mig query \"SELECT …\"";
    const SANDBOX: SandboxNeeds = QUERY_SANDBOX;
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = ExecTime;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        check(p)
    }

    fn sandbox(plan: &Plan) -> SandboxNeeds {
        plan.sandbox
    }

    fn run(p: &Plan, ctx: &Context) -> Result<Report<Elements, ExecTime>, ModuleError> {
        let start = Instant::now();
        register_engines();
        let budget = Arc::new(Budget::new(ctx.query_parent(), Some(p.timeout)));
        let output = Engine::open(budget)
            .and_then(|e| e.run(&p.sql, p.maxrows))
            .map_err(ModuleError::Failed)?;
        let rows: Vec<Vec<Value>> = output
            .rows
            .iter()
            .map(|r| r.iter().map(json_value).collect())
            .collect();
        let rowcount = rows.len();
        Ok(Report {
            foundanything: rowcount > 0,
            elements: Elements {
                columns: output.columns,
                rows,
                rowcount,
            },
            statistics: ExecTime::since(start),
            errors: output.stopped.into_iter().collect(),
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        let sql = f.positional.join(" ");
        if sql.trim().is_empty() {
            return Err(ModuleError::Flag(
                "expected an SQL statement, e.g. mig query \"SELECT * FROM os_version\"".into(),
            ));
        }
        let maxrows = match f.int("maxrows")? {
            Some(n) => u64::try_from(n).map_err(|_| {
                ModuleError::Flag(format!(
                    "invalid value {n} for flag -maxrows: expected a positive integer"
                ))
            })?,
            None => DEFAULT_MAXROWS,
        };
        Ok(Params {
            sql,
            maxrows,
            timeout: f.value("timeout").unwrap_or(DEFAULT_TIMEOUT).to_string(),
        })
    }

    /// Privacy mode: the columns that name the user's files or hold what they typed are
    /// masked, whatever the table; counts and the other columns stay.
    fn mask(report: &mut Report<Elements, ExecTime>) {
        crate::mask_errors(&mut report.errors);
        let masked: Vec<usize> = report
            .elements
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| PRIVATE_COLUMNS.contains(&c.as_str()))
            .map(|(i, _)| i)
            .collect();
        for row in &mut report.elements.rows {
            for i in &masked {
                if let Some(v) = row.get_mut(*i) {
                    *v = Value::String("[masked]".into());
                }
            }
        }
    }

    fn pretty(report: &Report<Elements, ExecTime>, found_only: bool) -> Vec<String> {
        let Elements { columns, rows, .. } = &report.elements;
        let mut lines = Vec::new();
        if !rows.is_empty() {
            lines.extend(format::table(columns, rows));
            // A cap that cut the rows qualifies them: said even when only answers are shown.
            if found_only {
                lines.extend(report.errors.iter().cloned());
            }
        }
        if !found_only {
            lines.push(format!("{} row(s)", rows.len()));
            lines.extend(report.errors.iter().cloned());
        }
        lines
    }
}

#[cfg(test)]
mod tests;
