//! crontab and sudoers: line-parsed system configuration files.

use super::super::row::table_row;
use super::super::schema::*;
use std::path::{Path, PathBuf};

/// The files of a directory, sorted, without editors' and packagers' leftovers.
fn files_in(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter(|p| {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    !name.starts_with('.') && !name.ends_with('~') && !name.contains(".dpkg-")
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

const CRONTABS: &[&str] = &["/etc/crontab"];
const CRON_DIRS: &[&str] = &["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"];

table_row! {
    /// One job of a crontab.
    struct CrontabRow {
        event: text = "The job @event name (rare)",
        minute: text = "The exact minute for the job",
        hour: text = "The hour of the day for the job",
        day_of_month: text = "The day of the month for the job",
        month: text = "The month of the year for the job",
        day_of_week: text = "The day of the week for the job",
        command: text = "Raw command string",
        path: text = "File parsed",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static CRONTAB: Table = Table {
    name: "crontab",
    about: "Line parsed values from system and user cron/tab.",
    columns: CrontabRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_crontab,
    reach: Reach::Host,
    example: "SELECT command, path FROM crontab WHERE event = '@reboot'",
};

/// One line of the crontab at `path`. Comments, blank lines and variable assignments give
/// `None`. In system crontabs the command starts with the user, as osquery shows it.
fn parse_cron_line(line: &str, path: &str) -> Option<CrontabRow> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // minute, hour, day of month, month, day of week: all empty for an @event.
    let mut time: [String; 5] = Default::default();
    let (event, command) = if let Some(rest) = line.strip_prefix('@') {
        let (event, command) = rest.split_once(char::is_whitespace)?;
        (format!("@{event}"), command.trim().to_string())
    } else {
        let first = line.split_whitespace().next()?;
        if first.contains('=') {
            return None;
        }
        let mut fields = line.split_whitespace();
        for field in &mut time {
            *field = fields.next()?.to_string();
        }
        // The command keeps its own spacing: cut after the fifth field.
        let mut rest = line;
        for _ in 0..5 {
            rest = rest.trim_start();
            rest = &rest[rest.find(char::is_whitespace)?..];
        }
        let command = rest.trim().to_string();
        if command.is_empty() {
            return None;
        }
        (String::new(), command)
    };
    let [minute, hour, day_of_month, month, day_of_week] = time;
    Some(CrontabRow {
        event,
        minute,
        hour,
        day_of_month,
        month,
        day_of_week,
        command,
        path: path.to_string(),
    })
}

fn gen_crontab(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut files: Vec<PathBuf> = CRONTABS
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    for d in CRON_DIRS {
        files.extend(files_in(d));
    }
    files.dedup();
    let mut rows = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let path = f.to_string_lossy().into_owned();
        rows.extend(text.lines().filter_map(|line| parse_cron_line(line, &path)));
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One rule (or include) of a sudoers file.
    struct SudoersRow {
        source: text = "Source file containing the given rule",
        header: text = "Symbol for given rule",
        rule_details: text = "Rule definition",
    }
}

pub(crate) static SUDOERS: Table = Table {
    name: "sudoers",
    about: "Rules for running commands as other users via sudo.",
    columns: SudoersRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_sudoers,
    reach: Reach::Host,
    example: "SELECT header, rule_details FROM sudoers WHERE header NOT IN ('Defaults', '#includedir', '@includedir')",
};

const SUDOERS_FILE: &str = "/etc/sudoers";
/// sudo itself stops at this depth of includes; so do we (and an include loop ends).
const MAX_INCLUDE_DEPTH: usize = 128;

/// Rules of one sudoers file, following its includes.
fn sudoers_file(path: &Path, depth: usize, rows: &mut Vec<SudoersRow>) {
    if depth > MAX_INCLUDE_DEPTH {
        return;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let source = path.to_string_lossy().into_owned();
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut logical = String::new();
    for raw in text.lines() {
        // A trailing backslash continues the rule on the next line.
        if let Some(part) = raw.strip_suffix('\\') {
            logical.push_str(part);
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let line = line.trim();
        let is_include = ["#include", "@include"].iter().any(|p| line.starts_with(p));
        if line.is_empty() || (line.starts_with('#') && !is_include) {
            continue;
        }
        let (header, details) = match line.split_once(char::is_whitespace) {
            Some((h, d)) => (h, d.trim()),
            None => (line, ""),
        };
        rows.push(SudoersRow {
            source: source.clone(),
            header: header.to_string(),
            rule_details: details.to_string(),
        });
        if is_include && !details.is_empty() {
            let target = dir.join(details);
            if header.ends_with("includedir") {
                for f in files_in(&target.to_string_lossy()) {
                    // sudo skips names with a dot or ending in ~ in included directories.
                    if f.file_name()
                        .is_some_and(|n| !n.to_string_lossy().contains('.'))
                    {
                        sudoers_file(&f, depth + 1, rows);
                    }
                }
            } else {
                sudoers_file(&target, depth + 1, rows);
            }
        }
    }
}

fn gen_sudoers(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    sudoers_file(Path::new(SUDOERS_FILE), 0, &mut rows);
    Ok(VecRows::boxed(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_lines() {
        let tab = "/etc/crontab";
        let f = parse_cron_line("*/5  *   * * 1-5   root  /usr/bin/run  --x  y", tab).unwrap();
        assert_eq!(f.event, "");
        assert_eq!(f.minute, "*/5");
        assert_eq!(f.hour, "*");
        assert_eq!(f.day_of_week, "1-5");
        assert_eq!(f.command, "root  /usr/bin/run  --x  y");
        assert_eq!(f.path, tab);
        let f = parse_cron_line("@reboot /opt/start.sh", tab).unwrap();
        assert_eq!(
            (f.event.as_str(), f.minute.as_str(), f.command.as_str()),
            ("@reboot", "", "/opt/start.sh")
        );
        assert!(parse_cron_line("SHELL=/bin/sh", tab).is_none());
        assert!(parse_cron_line("# m h dom mon dow", tab).is_none());
        assert!(parse_cron_line("1 2 3", tab).is_none());
    }

    #[test]
    fn sudoers_with_includes_and_a_loop() {
        let d = tempfile::tempdir().unwrap();
        let main = d.path().join("sudoers");
        std::fs::create_dir(d.path().join("sudoers.d")).unwrap();
        std::fs::write(&main, "# comment\nDefaults env_reset\nroot ALL=(ALL:ALL) ALL\n%admin ALL=(ALL) \\\n  NOPASSWD: ALL\n@includedir sudoers.d\n#include sudoers\n").unwrap();
        std::fs::write(
            d.path().join("sudoers.d/bob"),
            "bob ALL=(ALL) /usr/bin/apt\n",
        )
        .unwrap();
        std::fs::write(d.path().join("sudoers.d/skip.me"), "eve ALL=(ALL) ALL\n").unwrap();
        let mut rows = Vec::new();
        sudoers_file(&main, MAX_INCLUDE_DEPTH - 1, &mut rows);
        let text: Vec<String> = rows
            .iter()
            .map(|r| format!("{:?}|{:?}", r.header, r.rule_details))
            .collect();
        assert!(
            text.iter()
                .any(|l| l.contains("%admin") && l.contains("NOPASSWD: ALL")),
            "{text:?}"
        );
        assert!(text.iter().any(|l| l.contains("\"bob\"")), "{text:?}");
        assert!(!text.iter().any(|l| l.contains("eve")), "{text:?}");
        assert!(text.iter().any(|l| l.contains("@includedir")));
    }
}
