//! `mig-agent shell`: the query module's tables at a prompt, as osqueryi offers them. SQL
//! statements end with `;` and may span lines; dot-commands (`.tables`, `.schema`, `.mode`…)
//! stand alone. History is kept in `~/.mig_agent_history`. Without a terminal on stdin the
//! same input is read as a script.
//!
//! The shell runs with the privileges of whoever starts it, unsandboxed (that person already
//! has a shell on the machine); queries are read-only and capped as in the module.

use mig_modules::query::{json_value, parse_timeout};
use mig_query::budget::{Budget, Parent};
use mig_query::engine::{Engine, Output};
use mig_query::{all_tables, format, lookup_table};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Editor, Helper, Highlighter, Hinter, Validator};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

const PROMPT: &str = "mig> ";
const CONTINUE: &str = "...> ";
const DOT_COMMANDS: &[&str] = &[
    ".help", ".tables", ".schema", ".mode", ".timeout", ".maxrows", ".quit", ".exit",
];
const HELP: &str = "Enter SQL statements terminated with a \";\"
.help                 this text
.tables [TEXT]        list the tables (whose name contains TEXT)
.schema [TABLE]       show a table's columns and types (every table without TABLE)
.mode MODE            output as: table (default), line, csv, json
.timeout DURATION     stop queries after this long (default 60s)
.maxrows N            keep at most N rows (default 10000)
.quit, .exit          leave (Ctrl-D too)";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Table,
    Line,
    Csv,
    Json,
}

struct Settings {
    mode: Mode,
    timeout: Duration,
    maxrows: usize,
}

#[derive(Helper, Highlighter, Hinter, Validator)]
struct Completion;

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || c == '(' || c == ',')
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let candidates: Vec<&str> = if start == 0 && word.starts_with('.') {
            DOT_COMMANDS.to_vec()
        } else {
            all_tables().iter().map(|t| t.name).collect()
        };
        Ok((
            start,
            candidates
                .into_iter()
                .filter(|c| c.starts_with(word) && !word.is_empty())
                .map(|c| Pair {
                    display: c.to_string(),
                    replacement: c.to_string(),
                })
                .collect(),
        ))
    }
}

fn history_path() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("."))
        .join(".mig_agent_history")
}

/// Runs the shell: one statement given on the command line, or a session.
pub fn run(statement: Option<String>) -> anyhow::Result<()> {
    let mut settings = Settings {
        mode: Mode::Table,
        timeout: parse_timeout(mig_modules::query::DEFAULT_TIMEOUT).map_err(anyhow::Error::msg)?,
        maxrows: mig_modules::query::DEFAULT_MAXROWS as usize,
    };
    let mut out = std::io::stdout().lock();
    if let Some(sql) = statement {
        let failed = !handle(&sql, &mut settings, &mut out)?;
        anyhow::ensure!(!failed, "the statement failed");
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return script(&mut settings, &mut out);
    }
    let path = history_path();
    let mut rl: Editor<Completion, FileHistory> = Editor::new()?;
    rl.set_helper(Some(Completion));
    let _ = rl.load_history(&path);
    writeln!(
        out,
        "mig-agent shell: osquery-compatible SQL over this machine. \".help\" for help, Ctrl-D to leave."
    )?;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { PROMPT } else { CONTINUE };
        let line = match rl.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let Some(entry) = next_entry(&mut buffer, &line) else {
            continue;
        };
        let _ = rl.add_history_entry(entry.as_str());
        let _ = rl.save_history(&path);
        if is_quit(&entry) {
            break;
        }
        handle(&entry, &mut settings, &mut out)?;
    }
    let _ = rl.save_history(&path);
    Ok(())
}

/// Adds a typed line to the statement being built; returns a whole entry (a dot-command,
/// or SQL up to its `;`) once there is one.
fn next_entry(buffer: &mut String, line: &str) -> Option<String> {
    let trimmed = line.trim();
    if buffer.is_empty() && (trimmed.starts_with('.') || trimmed.is_empty()) {
        return (!trimmed.is_empty()).then(|| trimmed.to_string());
    }
    if !buffer.is_empty() {
        buffer.push('\n');
    }
    buffer.push_str(line);
    if buffer.trim_end().ends_with(';') {
        Some(std::mem::take(buffer).trim().to_string())
    } else {
        None
    }
}

fn is_quit(entry: &str) -> bool {
    matches!(entry.split_whitespace().next(), Some(".quit" | ".exit"))
}

/// Standard input as a script: the same entries, without a prompt. Fails if one did.
fn script(settings: &mut Settings, out: &mut impl Write) -> anyhow::Result<()> {
    let mut buffer = String::new();
    let mut failed = false;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if let Some(entry) = next_entry(&mut buffer, &line) {
            if is_quit(&entry) {
                break;
            }
            failed |= !handle(&entry, settings, out)?;
        }
    }
    if !buffer.trim().is_empty() {
        failed |= !handle(buffer.trim(), settings, out)?;
    }
    anyhow::ensure!(!failed, "a statement failed");
    Ok(())
}

/// Runs one entry and prints what it gives; `Ok(false)` when it failed (and said why).
fn handle(entry: &str, settings: &mut Settings, out: &mut impl Write) -> anyhow::Result<bool> {
    let result = if entry.starts_with('.') {
        dot_command(entry, settings)
    } else {
        query(entry, settings)
    };
    match result {
        Ok(lines) => {
            for l in lines {
                writeln!(out, "{l}")?;
            }
            out.flush()?;
            Ok(true)
        }
        Err(e) => {
            writeln!(out, "Error: {e}")?;
            out.flush()?;
            Ok(false)
        }
    }
}

fn query(sql: &str, settings: &Settings) -> Result<Vec<String>, String> {
    mig_modules::query::register_engines();
    let budget = Arc::new(Budget::new(Parent::unlimited(), Some(settings.timeout)));
    let output: Output = Engine::open(budget)?.run(sql, settings.maxrows)?;
    let rows: Vec<Vec<serde_json::Value>> = output
        .rows
        .iter()
        .map(|r| r.iter().map(json_value).collect())
        .collect();
    let mut lines = if rows.is_empty() && settings.mode != Mode::Json {
        Vec::new()
    } else {
        match settings.mode {
            Mode::Table => format::table(&output.columns, &rows),
            Mode::Line => format::lines(&output.columns, &rows),
            Mode::Csv => format::csv(&output.columns, &rows),
            Mode::Json => vec![format::json(&output.columns, &rows)],
        }
    };
    if let Some(why) = output.stopped {
        lines.push(format!("Warning: {why}"));
    }
    Ok(lines)
}

fn dot_command(entry: &str, settings: &mut Settings) -> Result<Vec<String>, String> {
    let mut words = entry.split_whitespace();
    let command = words.next().unwrap_or_default();
    let arg = words.next();
    match command {
        ".help" => Ok(HELP.lines().map(str::to_string).collect()),
        ".tables" => Ok(all_tables()
            .iter()
            .map(|t| t.name)
            .filter(|n| arg.is_none_or(|a| n.contains(a)))
            .map(|n| format!("  => {n}"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()),
        ".schema" => match arg {
            Some(name) => {
                let t = lookup_table(name).ok_or_else(|| format!("no such table: {name}"))?;
                Ok(vec![format!("{};", t.create_sql())])
            }
            None => {
                let mut all: Vec<String> = all_tables()
                    .iter()
                    .map(|t| format!("{};", t.create_sql()))
                    .collect();
                all.sort();
                Ok(all)
            }
        },
        ".mode" => {
            settings.mode = match arg {
                Some("table" | "pretty") => Mode::Table,
                Some("line") => Mode::Line,
                Some("csv") => Mode::Csv,
                Some("json") => Mode::Json,
                Some(other) => {
                    return Err(format!(
                        "unknown mode {other:?}: expected table, line, csv or json"
                    ))
                }
                None => {
                    return Ok(vec![
                        format!("current output mode: {:?}", settings.mode).to_lowercase()
                    ])
                }
            };
            Ok(Vec::new())
        }
        ".timeout" => {
            let d = arg.ok_or("usage: .timeout DURATION (e.g. 30s)")?;
            settings.timeout = parse_timeout(d).map_err(|e| e.to_string())?;
            Ok(Vec::new())
        }
        ".maxrows" => {
            let n = arg.ok_or("usage: .maxrows N")?;
            settings.maxrows = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{n:?} is not a positive number"))?;
            Ok(Vec::new())
        }
        other => Err(format!("unknown command {other:?}: .help lists them")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            mode: Mode::Table,
            timeout: Duration::from_secs(10),
            maxrows: 100,
        }
    }

    #[test]
    fn statements_end_with_a_semicolon() {
        let mut b = String::new();
        assert_eq!(next_entry(&mut b, "SELECT 1"), None);
        assert_eq!(
            next_entry(&mut b, "  AS one;"),
            Some("SELECT 1\n  AS one;".into())
        );
        assert!(b.is_empty());
        assert_eq!(next_entry(&mut b, " .tables "), Some(".tables".into()));
        assert_eq!(next_entry(&mut b, ""), None);
    }

    #[test]
    fn dot_commands_and_modes() {
        let mut s = settings();
        let tables = dot_command(".tables proc", &mut s).unwrap();
        assert!(tables.contains(&"  => processes".to_string()), "{tables:?}");
        let schema = dot_command(".schema users", &mut s).unwrap();
        assert!(
            schema[0].starts_with("CREATE TABLE \"users\"(\"uid\" BIGINT"),
            "{schema:?}"
        );
        assert!(dot_command(".schema nope", &mut s)
            .unwrap_err()
            .contains("no such table"));
        dot_command(".mode csv", &mut s).unwrap();
        assert_eq!(
            query("SELECT 1 AS a, 'x,y' AS b;", &s).unwrap(),
            vec!["a,b", "1,\"x,y\""]
        );
        dot_command(".mode line", &mut s).unwrap();
        assert_eq!(query("SELECT 1 AS a;", &s).unwrap(), vec!["a = 1"]);
        assert!(dot_command(".mode nope", &mut s).is_err());
        assert!(dot_command(".timeout soon", &mut s).is_err());
        assert!(dot_command(".frobnicate", &mut s).is_err());
        let mut out = Vec::new();
        assert!(!handle("SELEC 1;", &mut s, &mut out).unwrap());
        assert!(String::from_utf8_lossy(&out).starts_with("Error: sql:"));
    }
}
