//! How results are shown: MIG's human form per module, JSON, or NDJSON for jq.

use mig_core::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Ndjson,
}

impl Format {
    pub fn parse(s: &str) -> anyhow::Result<Format> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "ndjson" => Ok(Format::Ndjson),
            _ => anyhow::bail!("-o {s:?}: expected text, json or ndjson"),
        }
    }
}

/// MIG's `-show`: which agents' results to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Found,
    NotFound,
    All,
}

impl Show {
    pub fn parse(s: &str) -> anyhow::Result<Show> {
        match s {
            "found" => Ok(Show::Found),
            "notfound" => Ok(Show::NotFound),
            "all" => Ok(Show::All),
            _ => anyhow::bail!("-show {s:?}: expected found, notfound or all"),
        }
    }
}

/// Prints commands as they come, and keeps the tally. Each command is counted and printed
/// once, however often a reconnected stream sends it.
pub struct Printer {
    format: Format,
    /// The action's modules, in operation order (results come in the same order).
    modules: Vec<String>,
    /// The action, as the server has it: what JSON output embeds in each command (agents
    /// send back only its id and name).
    action: mig_core::Action,
    show: Show,
    collected: Vec<Command>,
    seen: std::collections::HashSet<u64>,
    found: usize,
    notfound: usize,
    failed: usize,
}

impl Printer {
    pub fn new(format: Format, show: Show, action: &mig_core::Action) -> Printer {
        Printer {
            format,
            modules: action.operations.iter().map(|o| o.module.clone()).collect(),
            action: action.clone(),
            show,
            collected: Vec::new(),
            seen: Default::default(),
            found: 0,
            notfound: 0,
            failed: 0,
        }
    }

    pub fn command(&mut self, cmd: &Command) {
        if cmd.id != 0 && !self.seen.insert(cmd.id) {
            return;
        }
        let found = cmd.found_anything();
        let ok = cmd.status == mig_core::command::status::SUCCESS;
        if found {
            self.found += 1;
        } else if ok {
            self.notfound += 1;
        } else {
            self.failed += 1;
        }
        if !self.shows(found, ok) {
            return;
        }
        match self.format {
            Format::Json => self.collected.push(self.with_action(cmd)),
            Format::Ndjson => println!(
                "{}",
                serde_json::to_string(&self.with_action(cmd)).unwrap_or_default()
            ),
            Format::Text => {
                for line in text_lines(cmd, &self.modules, self.show) {
                    println!("{line}");
                }
                if ok && self.show == Show::Found {
                    if let Some(line) = error_line(cmd) {
                        println!("{line}");
                    }
                }
            }
        }
    }

    /// The command with the whole action in it, when the action is known.
    fn with_action(&self, cmd: &Command) -> Command {
        let mut full = cmd.clone();
        if self.action.id == cmd.action.id && self.action.id != 0 {
            full.action = self.action.clone();
        }
        full
    }

    /// Whether -show lets a command through. In text, a failure always is: why an agent
    /// refused or failed is never hidden behind "found" (JSON keeps to the filter, for scripts);
    /// so is, as one line, an answer that found nothing but had errors.
    fn shows(&self, found: bool, ok: bool) -> bool {
        match self.show {
            _ if !ok && self.format == Format::Text => true,
            Show::Found if self.format == Format::Text => true,
            Show::Found => found,
            Show::NotFound => !found,
            Show::All => true,
        }
    }

    pub fn finish(&mut self) {
        if self.format == Format::Json {
            println!(
                "{}",
                serde_json::to_string_pretty(&self.collected).unwrap_or_default()
            );
        }
    }

    pub fn found_any(&self) -> bool {
        self.found > 0
    }

    pub fn summary(&self) -> String {
        format!(
            "{} agent(s) found something, {} found nothing, {} failed",
            self.found, self.notfound, self.failed
        )
    }
}

/// One short line for the errors of an answer (`lstat /nonexistent: no such file`), shown
/// with the default `-show found`, where the module's own lines leave errors out.
pub fn error_line(cmd: &Command) -> Option<String> {
    let errors: Vec<&String> = cmd.results.iter().flat_map(|r| r.errors.iter()).collect();
    let first = errors.first()?;
    let more = match errors.len() {
        1 => String::new(),
        n => format!(" (and {} more: -show all lists them)", n - 1),
    };
    Some(format!("{} error: {first}{more}", cmd.agent.name))
}

/// Rows as aligned columns under a header line, as `ps` and `kubectl get` print them.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.to_string()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}

/// A time as a person reads it (UTC, to the second), or `-` for Go's zero time.
pub fn when(t: &mig_core::GoTime) -> String {
    if t.is_zero() {
        "-".into()
    } else {
        t.0.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// MIG's form: each result line prefixed by the agent's name.
pub fn text_lines(cmd: &Command, modules: &[String], show: Show) -> Vec<String> {
    let agent = &cmd.agent.name;
    if cmd.status != mig_core::command::status::SUCCESS {
        let why = cmd
            .results
            .iter()
            .flat_map(|r| r.errors.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        return vec![format!("{agent} command {} {}: {why}", cmd.id, cmd.status)];
    }
    let mut lines = Vec::new();
    for (i, result) in cmd.results.iter().enumerate() {
        let module = modules.get(i).map(String::as_str).unwrap_or("");
        let printed = match mig_modules::lookup(module) {
            Some(m) => m.pretty(result, show == Show::Found),
            None => vec![serde_json::to_string(&result.elements).unwrap_or_default()],
        };
        for l in printed {
            lines.push(format!("{agent} {l}"));
        }
    }
    if lines.is_empty() && show != Show::Found {
        lines.push(format!("{agent} found nothing"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_under_their_header() {
        let lines = columns(
            &["ID", "STATUS", "NAME"],
            &[
                vec!["1".into(), "online".into(), "web-1".into()],
                vec!["123456".into(), "idle".into(), "db".into()],
            ],
        );
        assert_eq!(
            lines,
            [
                "ID      STATUS  NAME",
                "1       online  web-1",
                "123456  idle    db"
            ]
        );
    }

    #[test]
    fn an_answer_with_errors_gets_one_short_line() {
        let mut cmd = Command::default();
        cmd.agent.name = "web-1".into();
        assert_eq!(error_line(&cmd), None);
        cmd.results = vec![mig_core::ModuleResult {
            errors: vec![
                "lstat /nonexistent: no such file or directory".into(),
                "x".into(),
            ],
            ..Default::default()
        }];
        assert_eq!(
            error_line(&cmd).unwrap(),
            "web-1 error: lstat /nonexistent: no such file or directory (and 1 more: -show all lists them)"
        );
    }

    #[test]
    fn failures_are_shown_in_text_whatever_the_filter() {
        let action = mig_core::Action::default();
        let printer = |format, show| Printer::new(format, show, &action);
        let text_found = printer(Format::Text, Show::Found);
        assert!(text_found.shows(true, true));
        assert!(
            text_found.shows(false, true),
            "nothing found: looked at, for its error line"
        );
        assert!(text_found.shows(false, false), "a failure is printed");
        let json_found = printer(Format::Json, Show::Found);
        assert!(!json_found.shows(false, false), "JSON keeps to the filter");
        assert!(!json_found.shows(false, true), "JSON keeps to the filter");
        let text_notfound = printer(Format::Text, Show::NotFound);
        assert!(!text_notfound.shows(true, true));
        assert!(text_notfound.shows(false, true));
    }
}
