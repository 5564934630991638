//! file_lines and parse_json: the tables of Fleet's agent (fleetd, from the macadmins and
//! Kolide extensions) that real detection queries read files with. Not osquery's own tables;
//! their columns are Fleet's (schema/tables/*.yml in fleetdm/fleet).

use super::super::paths::Source;
use super::super::row::table_row;
use super::super::schema::*;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read};

/// A line, or a JSON document, longer than this is refused with its path: SQLite's own cap on
/// a value is 64 MiB, and a document is parsed whole.
const MAX_BYTES: u64 = 32 << 20;

/// The files a `path` constraint names: `=`/`IN`, or a LIKE pattern (`%` within a component,
/// a trailing `%%` below), as the `file` table reads them.
pub(super) fn files(q: &Constraints) -> Result<Source, String> {
    if let Some(paths) = q.texts("path") {
        return Ok(Source::exact(paths));
    }
    let likes = q.likes("path");
    if likes.is_empty() {
        return Err(q.table.missing_required());
    }
    Source::patterns(&likes)
}

table_row! {
    /// One line of a file.
    struct LineRow {
        line: text = "Output of the file, line by line.",
        path: text = "Path of the file to read.",
    }
}

pub(crate) static FILE_LINES: Table = Table {
    name: "file_lines",
    about: "Allows reading an arbitrary file, line by line (Fleet's agent table, from the macadmins extension). Needs a path: `=`, `IN` or LIKE.",
    columns: LineRow::COLUMNS,
    index: &["path"],
    required: &["path"],
    like: &["path"],
    generate: gen_file_lines,
    reach: Reach::Host,
    example: "SELECT line FROM file_lines WHERE path = '/etc/hosts'",
};

fn gen_file_lines(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut files = files(q)?;
    let budget = q.budget.clone();
    let mut current: Option<(String, BufReader<std::fs::File>)> = None;
    Ok(Box::new(FnRows(move || loop {
        budget.check().map_err(|s| s.to_string())?;
        if let Some((path, reader)) = current.as_mut() {
            let mut line = Vec::new();
            let n = reader
                .by_ref()
                .take(MAX_BYTES + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("file_lines: {path}: {e}"))?;
            if n == 0 {
                current = None;
                continue;
            }
            if line.len() as u64 > MAX_BYTES {
                return Err(format!(
                    "file_lines: {path}: a line is longer than {} MiB",
                    MAX_BYTES >> 20
                ));
            }
            let text = String::from_utf8_lossy(&line);
            return Ok(Some(LineRow {
                line: text.trim_end_matches(['\n', '\r']).to_string(),
                path: path.clone(),
            }));
        }
        let Some(found) = files.next() else {
            return Ok(None);
        };
        // Directories, devices and unreadable files have no lines.
        let is_file = std::fs::metadata(&found.path).is_ok_and(|m| m.is_file());
        if let (true, Ok(f)) = (is_file, std::fs::File::open(&found.path)) {
            current = Some((found.path, BufReader::new(f)));
        }
    })))
}

table_row! {
    /// One value of a JSON document.
    struct JsonRow {
        path: text = "Path of the file to read.",
        fullkey: text = "Same as `key` in this table. See `parse_jsonl` where multiple JSON documents are supported.",
        parent: text = "Parent key when keys are nested in the document.",
        key: text = "JSON key or array index.",
        value: text = "JSON value",
    }
}

pub(crate) static PARSE_JSON: Table = Table {
    name: "parse_json",
    about: "Parses an entire file as JSON, one row per value, nested keys joined with `/` (Fleet's agent table). Needs a path: `=`, `IN` or LIKE.",
    columns: JsonRow::COLUMNS,
    index: &["path"],
    required: &["path"],
    like: &["path"],
    generate: gen_parse_json,
    reach: Reach::Host,
    example: "SELECT fullkey, value FROM parse_json WHERE path = '/etc/docker/daemon.json'",
};

fn gen_parse_json(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for found in files(q)? {
        q.check()?;
        let Ok(meta) = std::fs::metadata(&found.path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if meta.len() > MAX_BYTES {
            return Err(format!(
                "parse_json: {}: larger than {} MiB",
                found.path,
                MAX_BYTES >> 20
            ));
        }
        let Ok(text) = std::fs::read(&found.path) else {
            continue;
        };
        let doc: Json = serde_json::from_slice(&text)
            .map_err(|e| format!("parse_json: {}: not JSON: {e}", found.path))?;
        flatten(&doc, &mut Vec::new(), &found.path, &mut rows);
    }
    Ok(VecRows::boxed(rows))
}

/// One row per scalar (an empty object or array is a row with an empty value), keyed by its
/// path from the root: `fullkey` `a/b/0`, `parent` `a/b`, `key` `0`.
fn flatten(v: &Json, at: &mut Vec<String>, path: &str, out: &mut Vec<JsonRow>) {
    let children: Vec<(String, &Json)> = match v {
        Json::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Json::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    if children.is_empty() {
        let value = match v {
            Json::String(s) => s.clone(),
            Json::Null | Json::Object(_) | Json::Array(_) => String::new(),
            other => other.to_string(),
        };
        out.push(JsonRow {
            path: path.to_string(),
            fullkey: at.join("/"),
            parent: at[..at.len().saturating_sub(1)].join("/"),
            key: at.last().cloned().unwrap_or_default(),
            value,
        });
        return;
    }
    for (k, child) in children {
        at.push(k);
        flatten(child, at, path, out);
        at.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_flattens_to_keys_parents_and_values() {
        let doc: Json = serde_json::from_str(
            r#"{"a": {"b": [10, {"c": true}]}, "s": "x", "n": null, "e": {}}"#,
        )
        .unwrap();
        let mut rows = Vec::new();
        flatten(&doc, &mut Vec::new(), "/f.json", &mut rows);
        // In the document's order where serde_json keeps it (a feature another crate of the
        // workspace turns on), else sorted: compared sorted.
        let mut got: Vec<(&str, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.fullkey.as_str(),
                    r.parent.as_str(),
                    r.key.as_str(),
                    r.value.as_str(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("a/b/0", "a/b", "0", "10"),
                ("a/b/1/c", "a/b/1", "c", "true"),
                ("e", "", "e", ""),
                ("n", "", "n", ""),
                ("s", "", "s", "x"),
            ]
        );
    }
}
