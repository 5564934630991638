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

/// Prints commands as they come, and keeps the tally.
pub struct Printer {
    format: Format,
    /// The action's modules, in operation order (results come in the same order).
    modules: Vec<String>,
    show: Show,
    collected: Vec<Command>,
    found: usize,
    notfound: usize,
    failed: usize,
}

impl Printer {
    pub fn new(format: Format, show: Show, modules: Vec<String>) -> Printer {
        Printer {
            format,
            modules,
            show,
            collected: Vec::new(),
            found: 0,
            notfound: 0,
            failed: 0,
        }
    }

    pub fn command(&mut self, cmd: &Command) {
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
            Format::Json => self.collected.push(cmd.clone()),
            Format::Ndjson => println!("{}", serde_json::to_string(cmd).unwrap_or_default()),
            Format::Text => {
                for line in text_lines(cmd, &self.modules, self.show) {
                    println!("{line}");
                }
            }
        }
    }

    /// Whether -show lets a command through. In text, a failure always is: why an agent
    /// refused or failed is never hidden behind "found" (JSON keeps to the filter, for scripts).
    fn shows(&self, found: bool, ok: bool) -> bool {
        match self.show {
            _ if !ok && self.format == Format::Text => true,
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
    fn failures_are_shown_in_text_whatever_the_filter() {
        let printer = |format, show| Printer::new(format, show, Vec::new());
        let text_found = printer(Format::Text, Show::Found);
        assert!(text_found.shows(true, true));
        assert!(
            !text_found.shows(false, true),
            "nothing found: filtered out"
        );
        assert!(text_found.shows(false, false), "a failure is printed");
        let json_found = printer(Format::Json, Show::Found);
        assert!(!json_found.shows(false, false), "JSON keeps to the filter");
        let text_notfound = printer(Format::Text, Show::NotFound);
        assert!(!text_notfound.shows(true, true));
        assert!(text_notfound.shows(false, true));
    }
}
