//! Signed schedules: one action, verified once by the agent, that runs its operations on the
//! agent at every interval until it expires or is cancelled. What a run sends back is a
//! [`ScheduledRun`]; a differential query's result is a [`RowChanges`].

use crate::action::null_as_default;
use crate::gotime::GoTime;
use crate::module_result::ModuleResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The module whose operation makes an action a schedule.
pub const SCHEDULE_MODULE: &str = "schedule";
/// The module whose operation cancels a schedule on the agents that hold it.
pub const UNSCHEDULE_MODULE: &str = "unschedule";

/// The modules a schedule operation's parameters run (`operations[].module`), as written; the
/// `schedule` module's own checks (mig-modules) say whether they are valid.
pub fn inner_modules(parameters: &Value) -> Vec<String> {
    parameters["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["module"].as_str().map(str::to_string))
        .collect()
}

/// One run of a schedule on one agent: what the agent sends the server (and the server hands
/// its exporters).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ScheduledRun {
    /// The agent's own number for this message, unique on the agent and increasing: what the
    /// server acknowledges, and how it recognises a run delivered twice.
    pub id: u64,
    /// The schedule: the ID of the action that created it.
    pub schedule: u64,
    /// The schedule's name (the action's).
    #[serde(default)]
    pub name: String,
    /// The run's number on this agent, from 1.
    pub seq: u64,
    /// When the run started.
    pub ranat: GoTime,
    /// `success`, or the first operation's other status (`failed`, `timeout`).
    pub status: String,
    /// One result per operation of the schedule, in order. A differential query's elements
    /// are a [`RowChanges`].
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<ModuleResult>,
    /// The run was made at once because events arrived (an alerting schedule), and found
    /// something.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert: bool,
}

/// A differential query's elements: the rows that appeared and disappeared since the
/// previous run (osquery's differential results). The first run, and any run after the
/// agent lost its previous rows, is a snapshot: every row is `added` and `snapshot` is true.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RowChanges {
    /// The result's column names, in order.
    pub columns: Vec<String>,
    /// Rows present now and not in the previous run.
    #[serde(default)]
    pub added: Vec<Vec<Value>>,
    /// Rows present in the previous run and not now.
    #[serde(default)]
    pub removed: Vec<Vec<Value>>,
    /// How many rows the query returned this time.
    pub rowcount: usize,
    /// Every row is in `added` (no previous run to compare with).
    #[serde(default)]
    pub snapshot: bool,
}

impl RowChanges {
    /// The changes between `previous` rows (None: no previous run) and `current` ones. A row
    /// is compared whole; a row present twice counts twice.
    pub fn between(
        columns: Vec<String>,
        previous: Option<&[Vec<Value>]>,
        current: &[Vec<Value>],
    ) -> RowChanges {
        let Some(previous) = previous else {
            return RowChanges {
                columns,
                added: current.to_vec(),
                removed: Vec::new(),
                rowcount: current.len(),
                snapshot: true,
            };
        };
        let key = |row: &Vec<Value>| serde_json::to_string(row).unwrap_or_default();
        let mut before: std::collections::HashMap<String, usize> = Default::default();
        for row in previous {
            *before.entry(key(row)).or_default() += 1;
        }
        let mut added = Vec::new();
        for row in current {
            match before.get_mut(&key(row)) {
                Some(n) if *n > 0 => *n -= 1,
                _ => added.push(row.clone()),
            }
        }
        // What is left of the previous rows did not match a current one.
        let removed = previous
            .iter()
            .filter(|row| match before.get_mut(&key(row)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            })
            .cloned()
            .collect();
        RowChanges {
            columns,
            added,
            removed,
            rowcount: current.len(),
            snapshot: false,
        }
    }

    /// Did anything change (or is this a snapshot with rows)?
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// The rows a differential query holds now, rebuilt from its runs in order: a snapshot
/// replaces them, changes apply to them. What the server answers when asked for a full
/// snapshot, without asking the agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// The columns of the last run applied.
    pub columns: Vec<String>,
    /// The rows now, in the order they appeared.
    pub rows: Vec<Vec<Value>>,
    /// Runs applied.
    pub runs: u64,
    /// Whether a snapshot was among them: without one, the rows held before the first
    /// change are unknown.
    pub from_snapshot: bool,
}

impl Replay {
    /// Applies the next run's changes.
    pub fn apply(&mut self, changes: &RowChanges) {
        if changes.snapshot {
            self.rows.clear();
            self.from_snapshot = true;
        }
        for gone in &changes.removed {
            if let Some(i) = self.rows.iter().position(|r| r == gone) {
                self.rows.remove(i);
            }
        }
        self.rows.extend(changes.added.iter().cloned());
        self.columns = changes.columns.clone();
        self.runs += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(v: Value) -> Vec<Vec<Value>> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn changes_are_rows_added_and_removed_counting_duplicates() {
        let cols = vec!["pid".to_string(), "name".to_string()];
        let first = rows(json!([[1, "init"], [7, "sshd"], [7, "sshd"]]));
        let snapshot = RowChanges::between(cols.clone(), None, &first);
        assert!(snapshot.snapshot && snapshot.changed());
        assert_eq!(snapshot.added, first);

        let unchanged = RowChanges::between(cols.clone(), Some(&first), &first);
        assert!(!unchanged.changed() && !unchanged.snapshot);
        assert_eq!(unchanged.rowcount, 3);

        let second = rows(json!([[7, "sshd"], [1, "init"], [9, "nc"]]));
        let diff = RowChanges::between(cols, Some(&first), &second);
        assert_eq!(diff.added, rows(json!([[9, "nc"]])));
        assert_eq!(
            diff.removed,
            rows(json!([[7, "sshd"]])),
            "one of two copies went"
        );
    }

    #[test]
    fn a_replay_of_the_changes_is_the_table_now() {
        let cols = vec!["pid".to_string()];
        let first = rows(json!([[1], [2], [2]]));
        let second = rows(json!([[2], [3]]));
        let mut replay = Replay::default();
        replay.apply(&RowChanges::between(cols.clone(), None, &first));
        replay.apply(&RowChanges::between(cols.clone(), Some(&first), &second));
        let mut now = replay.rows.clone();
        now.sort_by_key(|r| r[0].as_i64());
        assert_eq!(now, second);
        assert!(replay.from_snapshot);
        assert_eq!(replay.runs, 2);
    }

    #[test]
    fn a_run_round_trips() {
        let run = ScheduledRun {
            id: 3,
            schedule: 12,
            name: "watch".into(),
            seq: 1,
            ranat: GoTime::now(),
            status: "success".into(),
            results: vec![ModuleResult::failure("x")],
            alert: true,
        };
        let back: ScheduledRun =
            serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(back, run);
    }
}
