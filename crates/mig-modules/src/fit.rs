//! The result budget: a module's result must fit in its share of one relay message. Cut
//! where the result is made, at its largest lists, with a line saying what was dropped.

use crate::ModuleResult;
use serde_json::Value;

/// Makes a result fit in `max_bytes` of JSON, where it is made: entries are dropped from the
/// end of the largest arrays of `elements` (rows, files, matches), then whole elements and
/// errors if that is not enough, and an error line says what was dropped. The result stays
/// successful: what is left is true, and the line says it is not all. Returns whether
/// anything was dropped.
pub fn fit_result(result: &mut ModuleResult, max_bytes: usize) -> bool {
    let size = |r: &ModuleResult| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
    let original = size(result);
    if original <= max_bytes {
        return false;
    }
    // Room for the line that says so.
    let target = max_bytes.saturating_sub(512);
    let mut dropped: Vec<String> = Vec::new();
    for _ in 0..64 {
        let now = size(result);
        if now <= target {
            break;
        }
        let Some((path, array)) = largest_array(&mut result.elements, String::from("elements"))
        else {
            break;
        };
        let total = array.len();
        let mut over = now - target;
        let mut keep = total;
        while keep > 0 && over > 0 {
            keep -= 1;
            let entry = serde_json::to_vec(&array[keep]).map_or(0, |v| v.len()) + 1;
            over = over.saturating_sub(entry);
        }
        array.truncate(keep);
        dropped.push(format!("{} of {total} entries of {path}", total - keep));
    }
    if size(result) > target && !result.elements.is_null() {
        result.elements = Value::Null;
        dropped.push("every element".into());
    }
    while size(result) > target && !result.errors.is_empty() {
        let n = result.errors.len().div_ceil(2);
        result.errors.truncate(result.errors.len() - n);
        dropped.push(format!("{n} error lines"));
    }
    result.errors.push(format!(
        "result truncated: {original} bytes is more than the {max_bytes} one result may take; dropped {}",
        dropped.join(", ")
    ));
    true
}

/// One step down a JSON value.
enum Step {
    Key(String),
    Index(usize),
}

/// The array under `value` to cut: the one whose entries take the most room, or, when an
/// array inside it holds at least half of that, the deepest such (cutting `[{"files": […]}]`
/// should drop files, not the search). With its path (`elements.rows`,
/// `elements.s1[0].files`); None when there is no non-empty array.
fn largest_array(value: &mut Value, root: String) -> Option<(String, &mut Vec<Value>)> {
    /// Every non-empty array: (weight, path).
    fn collect(value: &Value, path: &mut Vec<Step>, found: &mut Vec<(usize, Vec<Step>)>) {
        let copy = |path: &Vec<Step>| -> Vec<Step> {
            path.iter()
                .map(|s| match s {
                    Step::Key(k) => Step::Key(k.clone()),
                    Step::Index(i) => Step::Index(*i),
                })
                .collect()
        };
        match value {
            Value::Array(a) if !a.is_empty() => {
                found.push((serde_json::to_vec(value).map_or(0, |b| b.len()), copy(path)));
                for (i, v) in a.iter().enumerate() {
                    path.push(Step::Index(i));
                    collect(v, path, found);
                    path.pop();
                }
            }
            Value::Object(o) => {
                for (k, v) in o {
                    path.push(Step::Key(k.clone()));
                    collect(v, path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    collect(value, &mut Vec::new(), &mut found);
    let heaviest = found.iter().map(|(w, _)| *w).max()?;
    let (_, steps) = found
        .into_iter()
        .filter(|(w, _)| w * 2 >= heaviest)
        .max_by_key(|(w, p)| (p.len(), *w))?;
    let mut name = root;
    let mut at = value;
    for step in steps {
        match step {
            Step::Key(k) => {
                name.push('.');
                name.push_str(&k);
                at = at.get_mut(&k)?;
            }
            Step::Index(i) => {
                name.push_str(&format!("[{i}]"));
                at = at.get_mut(i)?;
            }
        }
    }
    match at {
        Value::Array(a) => Some((name, a)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn size(r: &ModuleResult) -> usize {
        serde_json::to_vec(r).unwrap().len()
    }

    #[test]
    fn a_result_over_its_budget_is_cut_where_it_is_largest_and_says_so() {
        let rows: Vec<Value> = (0..10_000).map(|i| json!([i, "x".repeat(100)])).collect();
        let mut r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"columns": ["n", "pad"], "rows": rows, "rowcount": 10_000}),
            statistics: json!({}),
            errors: vec![],
        };
        let before = size(&r);
        assert!(
            !fit_result(&mut r, before),
            "a result within budget is untouched"
        );
        assert!(fit_result(&mut r, 100_000));
        assert!(size(&r) <= 100_000, "{}", size(&r));
        assert!(r.success && r.foundanything);
        let kept = r.elements["rows"].as_array().unwrap().len();
        assert!(kept > 500 && kept < 1_000, "{kept}");
        assert_eq!(r.elements["rows"][0][0], 0, "the first rows are kept");
        assert_eq!(r.elements["columns"][1], "pad");
        let line = r.errors.last().unwrap();
        assert!(line.starts_with("result truncated"), "{line}");
        assert!(
            line.contains(&format!(
                "{} of 10000 entries of elements.rows",
                10_000 - kept
            )),
            "{line}"
        );
    }

    #[test]
    fn nested_arrays_and_keys_with_dots_are_found() {
        let files: Vec<Value> = (0..2_000)
            .map(|i| json!({"file": format!("/f/{i:06}")}))
            .collect();
        let mut r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"my.search": [{"files": files}], "other": [1, 2, 3]}),
            statistics: Value::Null,
            errors: vec![],
        };
        assert!(fit_result(&mut r, 10_000));
        assert!(size(&r) <= 10_000);
        assert_eq!(r.elements["other"], json!([1, 2, 3]));
        assert!(
            r.errors[0].contains("elements.my.search[0].files"),
            "{:?}",
            r.errors
        );
        // Nothing to cut but one huge string: the elements go, the line stays.
        let mut r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"blob": "y".repeat(50_000)}),
            statistics: Value::Null,
            errors: vec!["e".repeat(20_000); 4],
        };
        assert!(fit_result(&mut r, 10_000));
        assert!(size(&r) <= 10_000, "{}", size(&r));
        assert!(r.elements.is_null());
        assert!(r.errors.last().unwrap().contains("every element"));
    }
}
