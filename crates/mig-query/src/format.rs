//! Query results as a person reads them: an aligned table (the default, as osqueryi), one
//! `column = value` line per cell, CSV or JSON. Shared by the module's printer and
//! `mig-agent shell`.

use serde_json::Value;

/// How a cell is shown: NULL as nothing, text as is (control characters escaped so that a
/// value cannot break the table or the terminal), numbers as JSON writes them.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c if c.is_control() => out.extend(c.escape_unicode()),
                    c => out.push(c),
                }
            }
            out
        }
        other => other.to_string(),
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// osqueryi's table: a ruled header, one line per row, columns padded to their widest cell.
pub fn table(columns: &[String], rows: &[Vec<Value>]) -> Vec<String> {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| width(c)).collect();
    for r in &cells {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let rule = format!(
        "+{}+",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!(" {v}{} ", " ".repeat(w - width(v))))
            .collect();
        format!("|{}|", padded.join("|"))
    };
    let mut out = vec![rule.clone(), line(columns), rule.clone()];
    out.extend(cells.iter().map(|r| line(r)));
    out.push(rule);
    out
}

/// `column = value`, names right-aligned, a blank line between rows (osqueryi's `.mode line`).
pub fn lines(columns: &[String], rows: &[Vec<Value>]) -> Vec<String> {
    let w = columns.iter().map(|c| width(c)).max().unwrap_or(0);
    let mut out = Vec::new();
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(String::new());
        }
        for (c, v) in columns.iter().zip(r) {
            out.push(format!("{}{c} = {}", " ".repeat(w - width(c)), cell(v)));
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// RFC 4180 CSV with a header line.
pub fn csv(columns: &[String], rows: &[Vec<Value>]) -> Vec<String> {
    let mut out = vec![columns
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",")];
    for r in rows {
        out.push(
            r.iter()
                .map(|v| match v {
                    Value::String(s) => csv_field(s),
                    other => csv_field(&cell(other)),
                })
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    out
}

/// A JSON array of objects, one per row (osqueryi's `.mode json`).
pub fn json(columns: &[String], rows: &[Vec<Value>]) -> String {
    let objects: Vec<Value> = rows
        .iter()
        .map(|r| Value::Object(columns.iter().cloned().zip(r.iter().cloned()).collect()))
        .collect();
    serde_json::to_string_pretty(&Value::Array(objects)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn aligned_table() {
        let t = table(
            &cols(&["pid", "name"]),
            &[
                vec![json!(1), json!("systemd")],
                vec![json!(12345), json!(null)],
            ],
        );
        assert_eq!(
            t,
            vec![
                "+-------+---------+",
                "| pid   | name    |",
                "+-------+---------+",
                "| 1     | systemd |",
                "| 12345 |         |",
                "+-------+---------+",
            ]
        );
        // A newline inside a value cannot break the layout.
        let t = table(&cols(&["x"]), &[vec![json!("a\nb")]]);
        assert_eq!(t[3], "| a\\nb |");
    }

    #[test]
    fn other_modes() {
        let c = cols(&["path", "size"]);
        let r = vec![vec![json!("/etc/a,b"), json!(3)]];
        assert_eq!(csv(&c, &r), vec!["path,size", "\"/etc/a,b\",3"]);
        assert_eq!(lines(&c, &r), vec!["path = /etc/a,b", "size = 3"]);
        let j: serde_json::Value = serde_json::from_str(&json(&c, &r)).unwrap();
        assert_eq!(j[0]["size"], 3);
    }
}
