//! yara_file (also called `yara`, its name before osquery 5.23) and yara_process: one-off
//! YARA scans of files and of process memory, with the rules given in the query (`sigrule`)
//! or read from a file on the host (`sigfile`). The engine is the one the yara module scans
//! with (see crate::yara).

use super::super::row::table_row;
use super::super::schema::*;
use super::file_contents::files;
use crate::yara::{self, CompiledRules, RuleMatch};
use std::path::Path;
use std::time::Duration;

/// The largest rules file read for `sigfile`.
const MAX_RULES_FILE: u64 = 16 << 20;
/// How long one file or process may be scanned when the query has no deadline.
const SCAN_TIMEOUT: Duration = Duration::from_secs(60);

table_row! {
    /// One file scanned with one set of rules.
    struct YaraFileRow {
        path: text = "The path scanned",
        matches: text = "List of YARA matches",
        count: integer = "Number of YARA matches",
        sig_group: text = "Signature group used",
        sigfile: text = "Signature file used",
        #[hidden]
        sigrule: text = "Signature strings used",
        strings: text = "Matching strings",
        tags: text = "Matching tags",
        #[hidden]
        sigurl: text = "Signature url",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

table_row! {
    /// One process scanned with one set of rules.
    struct YaraProcessRow {
        pid: integer = "The pid scanned (process memory)",
        matches: text = "List of YARA matches",
        count: integer = "Number of YARA matches",
        sig_group: text = "Signature group used",
        sigfile: text = "Signature file used",
        #[hidden]
        sigrule: text = "Signature strings used",
        strings: text = "Matching strings",
        tags: text = "Matching tags",
        #[hidden]
        sigurl: text = "Signature url",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

const FILE_ABOUT: &str = "Triggers one-off YARA query for files at the specified path (`=`, `IN` or LIKE), with the rules in `sigrule` or in the file `sigfile` (each `=` or `IN`; one row per file and rule set). Files that cannot be scanned are left out.";

pub(crate) static YARA_FILE: Table = Table {
    name: "yara_file",
    about: FILE_ABOUT,
    columns: YaraFileRow::COLUMNS,
    index: &["path", "sigfile", "sigrule", "sig_group", "sigurl"],
    required: &["path"],
    like: &["path"],
    generate: gen_yara_file,
    reach: Reach::Host,
    example: "SELECT path, matches, strings FROM yara_file WHERE path LIKE '/etc/%' AND sigrule = 'rule root_entry { strings: $a = \"root:\" condition: $a }'",
};

pub(crate) static YARA: Table = Table {
    name: "yara",
    example: "SELECT path, matches, count FROM yara WHERE path = '/etc/passwd' AND sigrule = 'rule always_true { condition: true }'",
    ..YARA_FILE
};

pub(crate) static YARA_PROCESS: Table = Table {
    name: "yara_process",
    about: "Triggers one-off YARA query for process memory of the specified pid (`=` or `IN`), with the rules in `sigrule` or in the file `sigfile`. Processes that cannot be read are left out.",
    columns: YaraProcessRow::COLUMNS,
    index: &["pid", "sigfile", "sigrule", "sig_group", "sigurl"],
    required: &["pid"],
    like: &[],
    generate: gen_yara_process,
    reach: Reach::Host,
    example: "SELECT pid, matches FROM yara_process WHERE pid IN (SELECT pid FROM processes WHERE name = 'sshd') AND sigrule = 'rule ssh { strings: $a = \"OpenSSH\" condition: $a }'",
};

/// One compiled rule set and the column that names it.
struct RuleSet {
    sigfile: String,
    sigrule: String,
    rules: Box<dyn CompiledRules>,
}

/// The rule sets the query names: each `sigfile` and each `sigrule`, compiled.
fn rule_sets(q: &Constraints) -> Result<Vec<RuleSet>, String> {
    let table = q.table.name;
    if q.texts("sig_group").is_some() {
        return Err(format!("{table}: sig_group names rule groups of osquery's configuration, which this agent does not have: give the rules in sigrule or sigfile"));
    }
    if q.texts("sigurl").is_some() {
        return Err(format!("{table}: sigurl would fetch rules over the network, which the query module does not do: give the rules in sigrule or sigfile"));
    }
    let engine = yara::engine().map_err(|e| format!("{table}: {e}"))?;
    let mut sets = Vec::new();
    for file in q.texts("sigfile").unwrap_or_default() {
        let source = read_rules(&file).map_err(|e| format!("{table}: sigfile {file}: {e}"))?;
        let rules = engine
            .compile(&source)
            .map_err(|e| format!("{table}: sigfile {file}: {e}"))?;
        sets.push(RuleSet {
            sigfile: file,
            sigrule: String::new(),
            rules,
        });
    }
    for rule in q.texts("sigrule").unwrap_or_default() {
        let rules = engine
            .compile(&rule)
            .map_err(|e| format!("{table}: sigrule: {e}"))?;
        sets.push(RuleSet {
            sigfile: String::new(),
            sigrule: rule,
            rules,
        });
    }
    if sets.is_empty() {
        return Err(format!(
            "{table}: needs rules: a constraint on sigrule or sigfile (`=` or `IN`)"
        ));
    }
    Ok(sets)
}

fn read_rules(path: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| mig_host::error_text(&e))?;
    if meta.len() > MAX_RULES_FILE {
        return Err(format!(
            "{} bytes is more than the {} MiB a rules file may have",
            meta.len(),
            MAX_RULES_FILE >> 20
        ));
    }
    std::fs::read_to_string(path).map_err(|e| mig_host::error_text(&e))
}

/// The matches as osquery writes them: rule names, `$string:hex offset` pairs and tags, each
/// list comma-separated.
struct Summary {
    matches: String,
    count: i64,
    strings: String,
    tags: String,
}

fn summary(found: &[RuleMatch]) -> Summary {
    let join = |items: Vec<String>| items.join(",");
    Summary {
        matches: join(found.iter().map(|m| m.rule.clone()).collect()),
        count: found.len() as i64,
        strings: join(
            found
                .iter()
                .flat_map(|m| m.strings.iter().map(|(id, at)| format!("{id}:{at:x}")))
                .collect(),
        ),
        tags: join(found.iter().flat_map(|m| m.tags.iter().cloned()).collect()),
    }
}

fn timeout(q: &Constraints) -> Duration {
    q.budget
        .remaining()
        .map_or(SCAN_TIMEOUT, |left| left.min(SCAN_TIMEOUT))
}

fn gen_yara_file(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let sets = rule_sets(q)?;
    let mut rows = Vec::new();
    for found in files(q)? {
        let path = Path::new(&found.path);
        if !path.is_file() {
            continue;
        }
        for set in &sets {
            q.check()?;
            let Ok(matched) = set.rules.scan_file(path, timeout(q)) else {
                continue;
            };
            let s = summary(&matched);
            rows.push(YaraFileRow {
                path: found.path.clone(),
                matches: s.matches,
                count: s.count,
                sig_group: String::new(),
                sigfile: set.sigfile.clone(),
                sigrule: set.sigrule.clone(),
                strings: s.strings,
                tags: s.tags,
                sigurl: String::new(),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

fn gen_yara_process(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let sets = rule_sets(q)?;
    let pids = q.ints("pid").ok_or_else(|| q.table.missing_required())?;
    let mut rows = Vec::new();
    for pid in pids {
        let Ok(id) = u32::try_from(pid) else {
            continue;
        };
        for set in &sets {
            q.check()?;
            let Ok(matched) = set.rules.scan_process(id, timeout(q)) else {
                continue;
            };
            let s = summary(&matched);
            rows.push(YaraProcessRow {
                pid,
                matches: s.matches,
                count: s.count,
                sig_group: String::new(),
                sigfile: set.sigfile.clone(),
                sigrule: set.sigrule.clone(),
                strings: s.strings,
                tags: s.tags,
                sigurl: String::new(),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_written_as_osquery_writes_them() {
        let found = [
            RuleMatch {
                rule: "a".into(),
                tags: vec!["t1".into(), "t2".into()],
                strings: vec![("$x".into(), 0), ("$x".into(), 0x1f)],
            },
            RuleMatch {
                rule: "b".into(),
                tags: vec![],
                strings: vec![("$y".into(), 16)],
            },
        ];
        let s = summary(&found);
        assert_eq!(
            (
                s.matches.as_str(),
                s.count,
                s.strings.as_str(),
                s.tags.as_str()
            ),
            ("a,b", 2, "$x:0,$x:1f,$y:10", "t1,t2")
        );
        let none = summary(&[]);
        assert_eq!((none.matches.as_str(), none.count), ("", 0));
    }
}
