//! Schedules: the runs agents send for the signed schedules they hold, summaries for
//! investigators, and the exporters' cursors.

use crate::{get_i64, get_str, id_param, Result, Store, StoreError};
use mig_core::schedule::RowChanges;
use mig_core::{ModuleResult, ScheduledRun};
use sqlx::Row;

/// What became of a run an agent sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStored {
    /// Stored, under this server ID.
    New(u64),
    /// Already stored (delivered twice): nothing changed.
    Duplicate,
    /// The agent was never sent that schedule: dropped.
    NotSent,
}

/// A run as stored, with its agent.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// The server's ID for the run (increasing: the exporters' cursor).
    pub id: u64,
    /// The schedule (its action's ID).
    pub schedule: u64,
    /// The schedule's name.
    pub name: String,
    /// The agent's ID.
    pub agent_id: u64,
    /// The agent's name.
    pub agent_name: String,
    /// The run's number on that agent.
    pub seq: u64,
    /// When it ran, Unix ms.
    pub ranat_ms: i64,
    /// `success`, `failed`, `timeout`.
    pub status: String,
    /// One result per operation of the schedule.
    pub results: Vec<ModuleResult>,
    /// Rows added across its differential queries.
    pub added: i64,
    /// Rows removed across its differential queries.
    pub removed: i64,
    /// When the server stored it, Unix ms.
    pub stored_ms: i64,
    /// An alert: run at once because events arrived, and found something.
    pub alert: bool,
}

/// A schedule as investigators see it: its action, and what its agents sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSummary {
    /// The action's ID.
    pub id: u64,
    /// The action's name.
    pub name: String,
    /// The action's target.
    pub target: String,
    /// Until when it runs, Unix ms.
    pub expireafter_ms: i64,
    /// Agents that registered it (their command found something).
    pub agents: i64,
    /// Runs stored.
    pub runs: i64,
    /// The last run's time, Unix ms (0: none yet).
    pub last_run_ms: i64,
    /// Rows added and removed, over every run.
    pub added: i64,
    /// See `added`.
    pub removed: i64,
    /// Whether an unschedule naming it was launched.
    pub cancelled: bool,
    /// Alerts among the runs.
    pub alerts: i64,
}

/// The rows a run's differential queries added and removed.
fn changes(results: &[ModuleResult]) -> (i64, i64) {
    results
        .iter()
        .filter_map(|r| serde_json::from_value::<RowChanges>(r.elements.clone()).ok())
        .fold((0, 0), |(a, r), c| {
            (a + c.added.len() as i64, r + c.removed.len() as i64)
        })
}

const RUN_COLUMNS: &str =
    "r.id, r.scheduleid, x.name AS schedulename, r.agentid, a.name AS agentname, \
r.seq, r.ranat, r.status, r.results, r.added, r.removed, r.storedat, r.alert";

fn run_from_row(row: &sqlx::any::AnyRow) -> Result<StoredRun> {
    let results: Vec<ModuleResult> = serde_json::from_str(&get_str(row, "results")?)
        .map_err(|e| StoreError::Corrupt(format!("schedule run results: {e}")))?;
    Ok(StoredRun {
        id: get_i64(row, "id")? as u64,
        schedule: get_i64(row, "scheduleid")? as u64,
        name: get_str(row, "schedulename")?,
        agent_id: get_i64(row, "agentid")? as u64,
        agent_name: get_str(row, "agentname")?,
        seq: get_i64(row, "seq")? as u64,
        ranat_ms: get_i64(row, "ranat")?,
        status: get_str(row, "status")?,
        results,
        added: get_i64(row, "added")?,
        removed: get_i64(row, "removed")?,
        stored_ms: get_i64(row, "storedat")?,
        alert: get_i64(row, "alert")? != 0,
    })
}

impl Store {
    /// Stores a run `agent_id` sent, once: the agent must have been sent the schedule (a
    /// command of that action), and a run delivered again is recognised by the agent's ID for
    /// it.
    pub async fn store_run(&self, agent_id: u64, run: &ScheduledRun) -> Result<RunStored> {
        let sent: Option<i64> =
            sqlx::query_scalar("SELECT id FROM commands WHERE actionid = $1 AND agentid = $2")
                .bind(id_param(run.schedule))
                .bind(id_param(agent_id))
                .fetch_optional(&self.pool)
                .await?;
        if sent.is_none() {
            return Ok(RunStored::NotSent);
        }
        let (added, removed) = changes(&run.results);
        let json =
            serde_json::to_string(&run.results).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let status = match run.status.as_str() {
            "success" | "failed" | "timeout" => run.status.as_str(),
            _ => "failed",
        };
        let id = mig_core::id::generate();
        let inserted = sqlx::query(
            "INSERT INTO schedule_runs (id, agentid, runid, scheduleid, seq, ranat, status, results, added, removed, storedat, alert) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (agentid, runid) DO NOTHING",
        )
        .bind(id_param(id))
        .bind(id_param(agent_id))
        .bind(id_param(run.id))
        .bind(id_param(run.schedule))
        .bind(run.seq.min(i64::MAX as u64) as i64)
        .bind(if run.ranat.is_zero() { 0 } else { run.ranat.unix_millis() })
        .bind(status.to_string())
        .bind(json)
        .bind(added)
        .bind(removed)
        .bind(crate::migrate::now_ms())
        .bind(i64::from(run.alert))
        .execute(&self.pool)
        .await?;
        Ok(if inserted.rows_affected() == 1 {
            RunStored::New(id)
        } else {
            RunStored::Duplicate
        })
    }

    /// The runs of `schedule` (every schedule when None) after run `after`, oldest first, at
    /// most `limit` (1..=10,000); only runs stored at or before `stored_before` (Unix ms), so
    /// that a reader following the runs does not pass one still being written.
    pub async fn runs_after(
        &self,
        schedule: Option<u64>,
        after: u64,
        limit: i64,
        stored_before: i64,
    ) -> Result<Vec<StoredRun>> {
        let only = if schedule.is_some() {
            " AND r.scheduleid = $4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM schedule_runs r JOIN agents a ON a.id = r.agentid \
             JOIN actions x ON x.id = r.scheduleid \
             WHERE r.id > $1 AND r.storedat <= $2{only} ORDER BY r.id LIMIT $3"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_param(after))
            .bind(stored_before)
            .bind(limit.clamp(1, 10_000));
        if let Some(id) = schedule {
            query = query.bind(id_param(id));
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Every schedule action (newest first, at most `limit`), with what its agents sent.
    pub async fn schedule_summaries(&self, limit: i64) -> Result<Vec<ScheduleSummary>> {
        // Schedules are the actions whose first operation is `schedule`; the JSON is read
        // here rather than in SQL (the same code on SQLite and PostgreSQL). PostgreSQL's SUM
        // of a BIGINT is a NUMERIC: the sums are cast back.
        let rows = sqlx::query(
            "SELECT id, name, target, expireafter, action_json FROM actions \
             WHERE action_json LIKE '%\"schedule\"%' ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 10_000) * 4)
        .fetch_all(&self.pool)
        .await?;
        let mut actions = Vec::new();
        let mut cancels = Vec::new();
        for row in &rows {
            let Ok(action) = mig_core::Action::from_json(get_str(row, "action_json")?.as_bytes())
            else {
                continue;
            };
            let mut action = action;
            if action.decompress_operations().is_err() {
                continue;
            }
            match action.operations.first().map(|o| o.module.as_str()) {
                Some(mig_core::schedule::SCHEDULE_MODULE) => actions.push(row),
                Some(mig_core::schedule::UNSCHEDULE_MODULE) => {
                    if let Some(id) = action.operations[0].parameters["schedule"].as_u64() {
                        cancels.push(id);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for row in actions.into_iter().take(limit.clamp(1, 10_000) as usize) {
            let id = get_i64(row, "id")?;
            let agents: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM commands WHERE actionid = $1 AND found = 1",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
            let totals = sqlx::query(
                "SELECT COUNT(*) AS runs, COALESCE(MAX(ranat), 0) AS last, \
                 CAST(COALESCE(SUM(added), 0) AS BIGINT) AS added, CAST(COALESCE(SUM(removed), 0) AS BIGINT) AS removed, \
                 CAST(COALESCE(SUM(alert), 0) AS BIGINT) AS alerts \
                 FROM schedule_runs WHERE scheduleid = $1",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
            out.push(ScheduleSummary {
                id: id as u64,
                name: get_str(row, "name")?,
                target: get_str(row, "target")?,
                expireafter_ms: get_i64(row, "expireafter")?,
                agents,
                runs: totals.try_get::<i64, _>("runs")?,
                last_run_ms: totals.try_get::<i64, _>("last")?,
                added: totals.try_get::<i64, _>("added")?,
                removed: totals.try_get::<i64, _>("removed")?,
                cancelled: cancels.contains(&(id as u64)),
                alerts: totals.try_get::<i64, _>("alerts")?,
            });
        }
        Ok(out)
    }

    /// Where exporter `sink` got to: the last run it delivered (0: none yet).
    pub async fn export_cursor(&self, sink: &str) -> Result<u64> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT lastid FROM export_cursors WHERE sink = $1")
                .bind(sink.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(last.unwrap_or(0) as u64)
    }

    /// Moves exporter `sink`'s cursor to run `last` (never backwards).
    pub async fn set_export_cursor(&self, sink: &str, last: u64) -> Result<()> {
        let now = crate::migrate::now_ms();
        sqlx::query(
            "INSERT INTO export_cursors (sink, lastid, updatedat) VALUES ($1, $2, $3) \
             ON CONFLICT (sink) DO UPDATE SET lastid = excluded.lastid, updatedat = excluded.updatedat \
             WHERE export_cursors.lastid < excluded.lastid",
        )
        .bind(sink.to_string())
        .bind(id_param(last))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
