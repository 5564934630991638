//! What the exporters ship: schedule runs flattened into events, one per row for queries
//! (osquery's differential log lines: `added` / `removed`, or `snapshot`) and one per
//! operation for other modules. Every event has an `id` that is the same however often it is
//! sent, so a receiver can drop a duplicate (delivery is at least once).

use mig_core::schedule::RowChanges;
use mig_core::ModuleResult;
use mig_store::schedules::StoredRun;
use serde_json::{json, Map, Value};

/// One exported event, and the agent it is about (syslog's HOSTNAME).
pub struct Event {
    /// Stable across retries: `<run id>-<operation>-<row>`.
    pub id: String,
    /// The agent's name.
    pub host: String,
    /// When the run happened (RFC 3339).
    pub time: String,
    /// The event, as one JSON object.
    pub body: Value,
}

/// A `query` result sent whole (a schedule with `differential` off): its table.
#[derive(serde::Deserialize)]
struct QueryTable {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

/// A row as an object of its columns.
fn row_object(columns: &[String], row: &[Value]) -> Value {
    let mut o = Map::new();
    for (c, v) in columns.iter().zip(row) {
        o.insert(c.clone(), v.clone());
    }
    Value::Object(o)
}

/// The events of one run; `modules` are the schedule's operations' modules, in order.
pub fn events(run: &StoredRun, modules: &[String]) -> Vec<Event> {
    let time = chrono::DateTime::from_timestamp_millis(run.ranat_ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (op, result) in run.results.iter().enumerate() {
        let module = modules.get(op).map_or("", String::as_str);
        let base = |n: usize, extra: Value| {
            let mut body = json!({
                "type": if run.alert { "alert" } else { "schedule" },
                "schedule": run.schedule,
                "name": run.name,
                "run": run.id,
                "seq": run.seq,
                "agent": run.agent_name,
                "agentid": run.agent_id,
                "time": time,
                "operation": op,
                "module": module,
            });
            let id = format!("{}-{op}-{n}", run.id);
            if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
                b.insert("id".into(), Value::String(id.clone()));
                b.extend(e);
            }
            Event {
                id,
                host: run.agent_name.clone(),
                time: time.clone(),
                body,
            }
        };
        for (n, extra) in operation_events(result).into_iter().enumerate() {
            out.push(base(n, extra));
        }
    }
    out
}

/// What one operation's result becomes: rows (added, removed, snapshot), or the result whole.
fn operation_events(result: &ModuleResult) -> Vec<Value> {
    if !result.success {
        return vec![json!({"action": "error", "errors": result.errors})];
    }
    if let Ok(changes) = serde_json::from_value::<RowChanges>(result.elements.clone()) {
        let kind = if changes.snapshot {
            "snapshot"
        } else {
            "added"
        };
        return changes
            .added
            .iter()
            .map(|r| json!({"action": kind, "row": row_object(&changes.columns, r)}))
            .chain(
                changes
                    .removed
                    .iter()
                    .map(|r| json!({"action": "removed", "row": row_object(&changes.columns, r)})),
            )
            .collect();
    }
    if let Ok(table) = serde_json::from_value::<QueryTable>(result.elements.clone()) {
        return table
            .rows
            .iter()
            .map(|r| json!({"action": "snapshot", "row": row_object(&table.columns, r)}))
            .collect();
    }
    vec![json!({"action": "result", "foundanything": result.foundanything, "result": result})]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(results: Vec<ModuleResult>) -> StoredRun {
        StoredRun {
            id: 77,
            schedule: 5,
            name: "watch".into(),
            agent_id: 3,
            agent_name: "host1".into(),
            seq: 2,
            ranat_ms: 1_700_000_000_000,
            status: "success".into(),
            results,
            added: 0,
            removed: 0,
            stored_ms: 0,
            alert: false,
        }
    }

    fn ok(elements: Value) -> ModuleResult {
        ModuleResult {
            success: true,
            elements,
            ..Default::default()
        }
    }

    #[test]
    fn rows_become_events_with_stable_ids() {
        let diff = ok(
            json!({"columns": ["pid", "name"], "added": [[9, "nc"]], "removed": [[7, "sshd"]], "rowcount": 1, "snapshot": false}),
        );
        let other = ok(json!({"whatever": true}));
        let failed = ModuleResult::failure("boom");
        let r = run(vec![diff, other, failed]);
        let modules = vec!["query".to_string(), "file".into(), "netstat".into()];
        let ev = events(&r, &modules);
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0].id, "77-0-0");
        assert_eq!(ev[0].body["id"], "77-0-0");
        assert_eq!(ev[0].body["action"], "added");
        assert_eq!(ev[0].body["row"], json!({"pid": 9, "name": "nc"}));
        assert_eq!(ev[1].body["action"], "removed");
        assert_eq!(ev[1].id, "77-0-1");
        assert_eq!(ev[2].body["module"], "file");
        assert_eq!(ev[2].body["action"], "result");
        assert_eq!(ev[3].body["action"], "error");
        assert_eq!(ev[3].body["errors"][0], "boom");
        assert_eq!(ev[0].host, "host1");
        assert_eq!(ev[0].time, "2023-11-14T22:13:20+00:00");
    }
}
