//! The durable per-agent queues: commands wait here until their agent answers or their action
//! expires. The built-in relay reads an agent's queue when it connects; the AMQP publisher
//! claims what was not yet handed to RabbitMQ.

use crate::actions::{command_json, Envelope};
use crate::agents::{agent_ref_from_row, AgentRef};
use crate::{get_i64, get_str, id_param, Result, Store};

impl Store {
    /// Commands waiting for `agent_id` (not expired), oldest first, ready to send.
    pub async fn pending_for_agent(&self, agent_id: u64, now_ms: i64) -> Result<Vec<Envelope>> {
        let sql = format!(
            "{ENVELOPE_SELECT} WHERE q.agentid = $1 AND q.expireafter >= $2 ORDER BY q.commandid"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_param(agent_id))
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(envelope_from_row).collect()
    }

    /// Claims up to `limit` commands for publishing to the AMQP relay: not yet published, or
    /// claimed by a scheduler whose lease ran out before the broker confirmed them. Two
    /// schedulers never claim the same command at once (row locks on PostgreSQL, one writer on
    /// SQLite).
    pub async fn claim_dispatch(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Envelope>> {
        let sql = format!(
            "UPDATE relay_queue SET dispatched = $1 WHERE commandid IN \
             (SELECT commandid FROM relay_queue WHERE (dispatched = 0 OR (dispatched > 0 AND dispatched < $2)) \
              AND expireafter >= $2 ORDER BY commandid LIMIT $3{}) RETURNING commandid",
            self.skip_locked()
        );
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(now_ms + lease_ms)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        self.envelopes(&ids).await
    }

    /// The broker confirmed these commands: they are not published again. Rows another
    /// transaction holds are skipped: only storing a result locks a queued command, and that
    /// deletes it (waiting for it could deadlock with a batch of results).
    pub async fn mark_dispatched(&self, command_ids: &[u64]) -> Result<()> {
        for chunk in command_ids.chunks(500) {
            let sql = format!(
                "UPDATE relay_queue SET dispatched = -1 WHERE commandid IN \
                 (SELECT commandid FROM relay_queue WHERE commandid IN ({}) ORDER BY commandid{})",
                crate::sql_param_list(chunk.len()),
                self.skip_locked()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id_param(*id));
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn envelopes(&self, ids: &[i64]) -> Result<Vec<Envelope>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "{ENVELOPE_SELECT} WHERE q.commandid IN ({}) ORDER BY q.commandid",
                crate::sql_param_list(chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(envelope_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// How many commands wait in all queues (for metrics).
    pub async fn queued_commands(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM relay_queue")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// A queued command with what it takes to send it: relay_queue ⋈ commands ⋈ actions ⋈ agents.
const ENVELOPE_SELECT: &str =
    "SELECT q.commandid, q.expireafter, c.actionid, c.createdat, x.action_json, \
     a.id, a.name, a.queueloc, a.mode, a.version \
     FROM relay_queue q JOIN commands c ON c.id = q.commandid JOIN actions x ON x.id = c.actionid \
     JOIN agents a ON a.id = q.agentid";

/// A queued command's row (relay_queue ⋈ commands ⋈ actions ⋈ agents) as something to send.
fn envelope_from_row(r: &sqlx::any::AnyRow) -> Result<Envelope> {
    let agent: AgentRef = agent_ref_from_row(r)?;
    let command_id = get_i64(r, "commandid")? as u64;
    Ok(Envelope {
        command_id,
        action_id: get_i64(r, "actionid")? as u64,
        agent_id: agent.id,
        queueloc: agent.queueloc.clone(),
        expireafter: get_i64(r, "expireafter")?,
        payload: command_json(
            command_id,
            &get_str(r, "action_json")?,
            &agent.to_json(),
            get_i64(r, "createdat")?,
        ),
    })
}
