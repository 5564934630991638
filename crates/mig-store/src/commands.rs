//! Commands: storing agents' results (idempotently, in batches) and reading them back.

use crate::actions::ms_to_time;
use crate::filter::{Listing, Where};
use crate::render::Param;
use crate::{get_i64, get_opt_str, get_str, id_param, Result, Store, StoreError};
use mig_core::command::status as cmd;
use mig_core::{Action, Agent, Command, ModuleResult};
use sqlx::AssertSqlSafe;

/// A result as an agent sent it.
#[derive(Debug, Clone)]
pub struct IncomingResult {
    /// The command it answers.
    pub command_id: u64,
    /// The agent the result came from: it may only answer its own commands.
    pub agent_id: u64,
    /// The status the agent gave; anything but success, failed, timeout or cancelled is
    /// stored as `failed`.
    pub status: String,
    /// One result per operation, in operation order.
    pub results: Vec<ModuleResult>,
    /// When the agent started the command, Unix ms.
    pub starttime_ms: i64,
    /// When the agent finished it, Unix ms.
    pub finishtime_ms: i64,
}

/// A result that was stored (the first one for its command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    /// The command it answers.
    pub command_id: u64,
    /// That command's action.
    pub action_id: u64,
    /// Whether any operation found something.
    pub found: bool,
    /// The status stored.
    pub status: String,
}

/// Filters for listing commands.
#[derive(Debug, Clone, Default)]
pub struct CommandFilter {
    /// Only the command with this ID.
    pub id: Option<u64>,
    /// Only this action's commands.
    pub action_id: Option<u64>,
    /// Only this agent's commands.
    pub agent_id: Option<u64>,
    /// Only commands that found something (true) or finished without (false).
    pub found: Option<bool>,
    /// Only commands with this status.
    pub status: Option<String>,
    /// Only commands that reached a final status at or after this server time (Unix ms).
    pub done_since: Option<i64>,
    /// At most this many commands, in ID order (clamped to 1..=100,000).
    pub limit: i64,
    /// How many matching commands to skip first.
    pub offset: i64,
}

const COMMAND_COLUMNS: &str =
    "c.id, c.actionid, c.agentid, c.status, c.results, c.createdat, c.starttime, c.finishtime, \
a.name AS agentname, a.queueloc, a.mode, a.version, x.name AS actionname";

/// Results stored per statement, and the values each binds (a statement stays well under
/// SQLite's and PostgreSQL's parameter limits).
const RESULTS_PER_STATEMENT: usize = 250;
const RESULT_COLUMNS: usize = 7;

impl Store {
    /// Stores a batch of results in one transaction. A command already final keeps its first
    /// result (a result delivered twice is stored once), and an agent can only answer a
    /// command that was sent to it. Returns the results that were new.
    pub async fn store_results(&self, batch: &[IncomingResult]) -> Result<Vec<StoredResult>> {
        let mut stored = Vec::with_capacity(batch.len());
        // Rows are locked in command order, the same order for every writer: two schedulers
        // storing overlapping batches wait for each other instead of deadlocking.
        let mut ordered: Vec<&IncomingResult> = batch.iter().collect();
        ordered.sort_by_key(|r| (r.command_id, r.agent_id));
        // The same result twice in one batch is stored once (a result for another agent's
        // command stays: the agent check below refuses it, and must not shadow the real one).
        ordered.dedup_by_key(|r| (r.command_id, r.agent_id));
        let doneat = crate::migrate::now_ms();
        let mut tx = self.write_tx().await?;
        for chunk in ordered.chunks(RESULTS_PER_STATEMENT) {
            if self.dialect == crate::Dialect::Postgres {
                // Lock in command order first: UPDATE … FROM locks in whatever order its
                // plan visits rows, and two schedulers must not deadlock on a shared result.
                let sql = format!(
                    "SELECT id FROM commands WHERE id IN ({}) ORDER BY id FOR UPDATE",
                    crate::sql_param_list(chunk.len())
                );
                let mut lock = sqlx::query(AssertSqlSafe(sql));
                for r in chunk {
                    lock = lock.bind(id_param(r.command_id));
                }
                lock.execute(&mut *tx).await?;
            }
            let n = chunk.len() * RESULT_COLUMNS;
            // VALUES columns are named column1, column2, … in SQLite and PostgreSQL alike.
            let sql = format!(
                "UPDATE commands SET status = v.column3, results = v.column4, found = v.column5, \
                 starttime = v.column6, finishtime = v.column7, doneat = ${} \
                 FROM (VALUES {}) AS v \
                 WHERE commands.id = v.column1 AND commands.agentid = v.column2 AND commands.status = ${} \
                 RETURNING commands.id, commands.actionid, commands.status, commands.found",
                n + 1,
                crate::value_rows(chunk.len(), RESULT_COLUMNS),
                n + 2,
            );
            let mut update = sqlx::query_as::<_, (i64, i64, String, i64)>(AssertSqlSafe(sql));
            for r in chunk {
                let status = match r.status.as_str() {
                    cmd::SUCCESS | cmd::FAILED | cmd::TIMEOUT | cmd::CANCELLED => r.status.as_str(),
                    _ => cmd::FAILED,
                };
                let found = r.results.iter().any(|m| m.foundanything);
                let json = serde_json::to_string(&r.results)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                update = update
                    .bind(id_param(r.command_id))
                    .bind(id_param(r.agent_id))
                    .bind(status.to_string())
                    .bind(json)
                    .bind(found as i64)
                    .bind(r.starttime_ms)
                    .bind(r.finishtime_ms);
            }
            let rows = update
                .bind(doneat)
                .bind(cmd::SENT)
                .fetch_all(&mut *tx)
                .await?;
            stored.extend(
                rows.into_iter()
                    .map(|(id, action, status, found)| StoredResult {
                        command_id: id as u64,
                        action_id: action as u64,
                        found: found != 0,
                        status,
                    }),
            );
        }
        stored.sort_by_key(|r| r.command_id);
        // Answered: out of the queues, a few hundred rows a statement (only the answering
        // agent's own command: the pair must match).
        for chunk in batch.chunks(500) {
            let sql = format!(
                "DELETE FROM relay_queue WHERE (commandid, agentid) IN (VALUES {})",
                crate::value_rows(chunk.len(), 2)
            );
            let mut delete = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                delete = delete
                    .bind(id_param(r.command_id))
                    .bind(id_param(r.agent_id));
            }
            delete.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Commands with their results; `action` carries only the action's id and name.
    pub async fn list_commands(&self, f: &CommandFilter) -> Result<Vec<Command>> {
        let mut w = Where::default();
        w.id("c.id", f.id);
        w.id("c.actionid", f.action_id);
        w.id("c.agentid", f.agent_id);
        match f.found {
            Some(true) => w.raw("c.found = 1"),
            Some(false) => w.raw("c.found = 0 AND c.results IS NOT NULL"),
            None => {}
        }
        w.equals("c.status", f.status.as_deref());
        w.param(f.done_since.map(Param::Int), |ph| {
            format!("c.doneat >= {ph} AND c.doneat > 0")
        });
        let rows = self
            .listing_rows(Listing {
                select: &format!(
                    "{COMMAND_COLUMNS} FROM commands c JOIN agents a ON a.id = c.agentid JOIN actions x ON x.id = c.actionid"
                ),
                filter: w,
                order_by: "c.id",
                limit: f.limit,
                offset: f.offset,
                max_limit: 100_000,
            })
            .await?;
        rows.iter().map(command_from_row).collect()
    }

    /// Every command of `action_id` that reached a final status at or after `since_ms`, read
    /// `page` rows at a time: a wave of answers larger than one page is still returned whole
    /// (the action's result stream must not skip any).
    pub async fn commands_done_since(
        &self,
        action_id: u64,
        since_ms: i64,
        page: i64,
    ) -> Result<Vec<Command>> {
        let mut filter = CommandFilter {
            action_id: Some(action_id),
            done_since: Some(since_ms),
            limit: page.max(1),
            ..Default::default()
        };
        let mut out = Vec::new();
        loop {
            let rows = self.list_commands(&filter).await?;
            let full = rows.len() as i64 >= filter.limit;
            out.extend(rows);
            if !full {
                return Ok(out);
            }
            filter.offset += filter.limit;
        }
    }

    /// One command, with the full action.
    pub async fn get_command(&self, id: u64) -> Result<Command> {
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands c JOIN agents a ON a.id = c.agentid JOIN actions x ON x.id = c.actionid WHERE c.id = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id_param(id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound {
                what: "command",
                id: id.to_string(),
            })?;
        let mut c = command_from_row(&row)?;
        c.action = self.get_action(c.action.id).await?;
        Ok(c)
    }
}

fn command_from_row(row: &sqlx::any::AnyRow) -> Result<Command> {
    let results = match get_opt_str(row, "results")? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("command results: {e}")))?,
        None => Vec::new(),
    };
    let finish = get_i64(row, "finishtime")?;
    let start = match get_i64(row, "starttime")? {
        0 => get_i64(row, "createdat")?,
        t => t,
    };
    Ok(Command {
        id: get_i64(row, "id")? as u64,
        action: Action {
            id: get_i64(row, "actionid")? as u64,
            name: get_str(row, "actionname")?,
            ..Default::default()
        },
        agent: Agent {
            id: get_i64(row, "agentid")? as u64,
            name: get_str(row, "agentname")?,
            queueloc: get_str(row, "queueloc")?,
            mode: get_str(row, "mode")?.into(),
            version: get_str(row, "version")?,
            ..Default::default()
        },
        status: get_str(row, "status")?.into(),
        results,
        starttime: ms_to_time(start),
        finishtime: ms_to_time(finish),
    })
}
