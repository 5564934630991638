//! The built-in relay's durable per-agent queues: commands wait here until their agent
//! connects and answers, or until their action expires.

use crate::actions::{command_json, Envelope};
use crate::agents::{agent_ref_from_row, AgentRef};
use crate::{get_i64, get_str, id_param, Result, Store};

impl Store {
    /// Commands waiting for `agent_id` (not expired), oldest first, ready to send.
    pub async fn pending_for_agent(&self, agent_id: u64, now_ms: i64) -> Result<Vec<Envelope>> {
        let rows = sqlx::query(
            "SELECT q.commandid, q.expireafter, c.actionid, c.createdat, x.action_json, \
             a.id, a.name, a.queueloc, a.mode, a.version \
             FROM relay_queue q JOIN commands c ON c.id = q.commandid JOIN actions x ON x.id = c.actionid \
             JOIN agents a ON a.id = q.agentid \
             WHERE q.agentid = $1 AND q.expireafter >= $2 ORDER BY q.commandid",
        )
        .bind(id_param(agent_id))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let agent: AgentRef = agent_ref_from_row(r)?;
                let command_id = get_i64(r, "commandid")? as u64;
                Ok(Envelope {
                    command_id,
                    action_id: get_i64(r, "actionid")? as u64,
                    agent_id,
                    queueloc: agent.queueloc.clone(),
                    expireafter: get_i64(r, "expireafter")?,
                    payload: command_json(
                        command_id,
                        &get_str(r, "action_json")?,
                        &agent.to_json(),
                        get_i64(r, "createdat")?,
                    ),
                })
            })
            .collect()
    }

    /// How many commands wait in all queues (for metrics).
    pub async fn queued_commands(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM relay_queue")
            .fetch_one(&self.pool)
            .await?)
    }
}
