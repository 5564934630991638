//! Actions: creation, the scheduler's lifecycle transitions, counters and searches.

use crate::agents::AgentRef;
use crate::filter::{Listing, Where};
use crate::render::Param;
use crate::{get_i64, get_str, id_param, sql_param_list, Result, Store, StoreError};
use mig_core::action::status;
use mig_core::command::status as cmd;
use mig_core::{Action, Counters, GoTime};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// A command ready to be delivered: who it is for, and its JSON as the agent receives it.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The command's ID.
    pub command_id: u64,
    /// Its action's ID.
    pub action_id: u64,
    /// The agent it is for.
    pub agent_id: u64,
    /// That agent's queueloc: where AMQP delivers it.
    pub queueloc: String,
    /// Unix ms after which the command must not be delivered.
    pub expireafter: i64,
    /// The command's JSON, as the agent receives it.
    pub payload: String,
}

/// A command's JSON as the agent receives it, around the action exactly as it was signed.
pub(crate) fn command_json(
    id: u64,
    action_json: &str,
    agent_json: &str,
    created_ms: i64,
) -> String {
    format!(
        r#"{{"id":{id},"action":{action_json},"agent":{agent_json},"status":"sent","results":null,"starttime":"{}","finishtime":"0001-01-01T00:00:00Z"}}"#,
        ms_to_time(created_ms).to_rfc3339()
    )
}

/// Filters for searching actions.
#[derive(Debug, Clone, Default)]
pub struct ActionFilter {
    /// Only the action with this ID.
    pub id: Option<u64>,
    /// Only actions with this status.
    pub status: Option<String>,
    /// LIKE pattern on the name (case-insensitive).
    pub name: Option<String>,
    /// Created (validfrom) after / before, Unix ms.
    pub after: Option<i64>,
    /// Only actions whose validfrom is before this, Unix ms.
    pub before: Option<i64>,
    /// Only actions this investigator signed.
    pub investigator: Option<u64>,
    /// At most this many actions, newest first (clamped to 1..=10,000).
    pub limit: i64,
    /// How many matching actions to skip first.
    pub offset: i64,
}

const ACTION_COLUMNS: &str =
    "id, status, reason, starttime, finishtime, lastupdatetime, action_json";

pub(crate) fn ms_to_time(ms: i64) -> GoTime {
    if ms == 0 {
        GoTime::zero()
    } else {
        GoTime::from_unix_millis(ms).unwrap_or_default()
    }
}

impl Store {
    /// Stores a new action (status pending). `signers` are (investigator id, signature).
    pub async fn insert_action(
        &self,
        action: &Action,
        signers: &[(u64, String)],
        createdby: u64,
        now_ms: i64,
    ) -> Result<()> {
        let json = serde_json::to_string(action).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO actions (id, name, target, validfrom, expireafter, status, lastupdatetime, action_json, createdby) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id_param(action.id))
        .bind(&action.name)
        .bind(&action.target)
        .bind(action.validfrom.unix_millis())
        .bind(action.expireafter.unix_millis())
        .bind(status::PENDING)
        .bind(now_ms)
        .bind(&json)
        .bind(id_param(createdby))
        .execute(&mut *tx)
        .await?;
        for (inv, sig) in signers {
            sqlx::query("INSERT INTO signatures (actionid, investigatorid, pgpsignature) VALUES ($1, $2, $3)")
                .bind(id_param(action.id))
                .bind(id_param(*inv))
                .bind(sig)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The action with its current status, times, signers and counters.
    pub async fn get_action(&self, id: u64) -> Result<Action> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE id = $1"
        )))
        .bind(id_param(id))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "action",
            id: id.to_string(),
        })?;
        let mut a = self.readable_action_from_row(&row)?;
        a.counters = self.counters(id).await?;
        a.investigators = self
            .signers_of(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(a)
    }

    /// An action to show: one whose stored JSON cannot be read still shows its id, status
    /// and reason (and its name says it is unreadable), so that one damaged row does not
    /// make every listing fail.
    fn readable_action_from_row(&self, row: &sqlx::any::AnyRow) -> Result<Action> {
        match self.action_from_row(row) {
            Err(StoreError::Corrupt(e)) => Ok(Action {
                id: get_i64(row, "id")? as u64,
                name: format!("(unreadable: {e})"),
                status: get_str(row, "status")?.into(),
                reason: get_str(row, "reason")?,
                starttime: ms_to_time(get_i64(row, "starttime")?),
                finishtime: ms_to_time(get_i64(row, "finishtime")?),
                lastupdatetime: ms_to_time(get_i64(row, "lastupdatetime")?),
                ..Default::default()
            }),
            other => other,
        }
    }

    /// An action to run: its stored JSON must read back as the action that was signed.
    fn action_from_row(&self, row: &sqlx::any::AnyRow) -> Result<Action> {
        let json = get_str(row, "action_json")?;
        let mut a = Action::from_json(json.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("action: {e}")))?;
        a.id = get_i64(row, "id")? as u64;
        a.status = get_str(row, "status")?.into();
        a.reason = get_str(row, "reason")?;
        a.starttime = ms_to_time(get_i64(row, "starttime")?);
        a.finishtime = ms_to_time(get_i64(row, "finishtime")?);
        a.lastupdatetime = ms_to_time(get_i64(row, "lastupdatetime")?);
        Ok(a)
    }

    /// Who signed each of the actions, by name.
    async fn signers_of(
        &self,
        ids: &[u64],
    ) -> Result<HashMap<u64, Vec<mig_core::action::InvestigatorRef>>> {
        let mut out: HashMap<u64, Vec<_>> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT s.actionid, i.id, i.name, i.pgpfingerprint, i.status FROM signatures s \
                 JOIN investigators i ON i.id = s.investigatorid WHERE s.actionid IN ({}) ORDER BY i.name",
                sql_param_list(chunk.len())
            );
            let mut q = sqlx::query_as::<_, (i64, i64, String, String, String)>(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id_param(*id));
            }
            for (action, id, name, fp, st) in q.fetch_all(&self.pool).await? {
                out.entry(action as u64)
                    .or_default()
                    .push(mig_core::action::InvestigatorRef {
                        id: id as u64,
                        name,
                        pgpfingerprint: fp,
                        status: st,
                    });
            }
        }
        Ok(out)
    }

    /// Exact counters, computed from the commands themselves.
    pub async fn counters(&self, action_id: u64) -> Result<Counters> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM commands WHERE actionid = $1 GROUP BY status",
        )
        .bind(id_param(action_id))
        .fetch_all(&self.pool)
        .await?;
        let mut c = Counters::default();
        for (s, n) in rows {
            tally(&mut c, &s, n);
        }
        Ok(c)
    }

    /// The counters of several actions, a few hundred actions per statement (a listing of
    /// thousands would otherwise be thousands of round trips).
    async fn counters_of(&self, ids: &[u64]) -> Result<HashMap<u64, Counters>> {
        let mut out: HashMap<u64, Counters> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT actionid, status, COUNT(*) FROM commands WHERE actionid IN ({}) GROUP BY actionid, status",
                sql_param_list(chunk.len())
            );
            let mut q = sqlx::query_as::<_, (i64, String, i64)>(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id_param(*id));
            }
            for (id, s, n) in q.fetch_all(&self.pool).await? {
                tally(out.entry(id as u64).or_default(), &s, n);
            }
        }
        Ok(out)
    }

    /// The actions the filter selects, newest first, with their counters and signers.
    pub async fn list_actions(&self, f: &ActionFilter) -> Result<Vec<Action>> {
        let mut w = Where::default();
        w.id("id", f.id);
        w.equals("status", f.status.as_deref());
        w.like("name", f.name.as_deref());
        w.between("validfrom", f.after, f.before);
        w.param(f.investigator.map(|i| Param::Int(i as i64)), |ph| {
            format!("id IN (SELECT actionid FROM signatures WHERE investigatorid = {ph})")
        });
        let rows = self
            .listing_rows(Listing {
                select: &format!("{ACTION_COLUMNS} FROM actions"),
                filter: w,
                order_by: "id DESC",
                limit: f.limit,
                offset: f.offset,
                max_limit: 10_000,
            })
            .await?;
        let mut out = rows
            .iter()
            .map(|row| self.readable_action_from_row(row))
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<u64> = out.iter().map(|a| a.id).collect();
        let mut counters = self.counters_of(&ids).await?;
        let mut signers = self.signers_of(&ids).await?;
        for a in &mut out {
            a.counters = counters.remove(&a.id).unwrap_or_default();
            a.investigators = signers.remove(&a.id).unwrap_or_default();
        }
        Ok(out)
    }

    /// pending → scheduled for actions whose validity window has opened.
    pub async fn schedule_due_actions(&self, now_ms: i64) -> Result<u64> {
        Ok(sqlx::query("UPDATE actions SET status = $1, lastupdatetime = $2 WHERE status = $3 AND validfrom <= $2 AND expireafter >= $2")
            .bind(status::SCHEDULED)
            .bind(now_ms)
            .bind(status::PENDING)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// scheduled → preparing, under a lease held by `owner` until `now + lease_ms`. Actions
    /// left in preparing by a scheduler whose lease ran out are taken over.
    pub async fn claim_actions(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Action>> {
        let sql = format!(
            "UPDATE actions SET status = $1, claimed_by = $2, claim_until = $3, lastupdatetime = $4 WHERE id IN \
             (SELECT id FROM actions WHERE (status = $5 OR (status = $1 AND claim_until < $4)) AND expireafter >= $4 \
              ORDER BY validfrom LIMIT $6{}) RETURNING {ACTION_COLUMNS}",
            self.skip_locked()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(status::PREPARING)
            .bind(owner)
            .bind(now_ms + lease_ms)
            .bind(now_ms)
            .bind(status::SCHEDULED)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        // A row that cannot be read is that action's problem: it becomes invalid, with the
        // reason, and the others claimed with it are launched.
        let mut actions = Vec::with_capacity(rows.len());
        for row in &rows {
            match self.action_from_row(row) {
                Ok(a) => actions.push(a),
                Err(e) => {
                    let id = get_i64(row, "id")? as u64;
                    tracing::warn!("action {id} is invalid: {e}");
                    self.set_action_invalid(id, &e.to_string(), now_ms).await?;
                }
            }
        }
        Ok(actions)
    }

    /// Creates one command per agent and queues it, and moves the action to inflight: one
    /// transaction, and only if `owner` still holds the action's lease. Returns what to deliver
    /// (empty if the lease was lost).
    ///
    /// `dispatch_claimed_until` is 0 when the commands wait for whichever AMQP publisher claims
    /// them (`claim_dispatch`), or the end of a dispatch lease the caller takes at once because
    /// it publishes them itself: no other publisher claims them before then.
    pub async fn launch_action(
        &self,
        action_id: u64,
        owner: &str,
        agents: &[AgentRef],
        now_ms: i64,
        dispatch_claimed_until: i64,
    ) -> Result<Vec<Envelope>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT action_json, expireafter FROM actions WHERE id = $1 AND status = $2 AND claimed_by = $3")
            .bind(id_param(action_id))
            .bind(status::PREPARING)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(Vec::new());
        };
        let action_json: String = row.try_get("action_json")?;
        let expireafter: i64 = row.try_get("expireafter")?;
        let mut envelopes = Vec::with_capacity(agents.len());
        // Multi-row inserts: a fan-out to 10,000 agents is 25 statements, not 20,000.
        for chunk in agents.chunks(500) {
            let sql = format!(
                "INSERT INTO commands (id, actionid, agentid, status, createdat) VALUES {}",
                crate::value_rows(chunk.len(), 5)
            );
            let qsql = format!(
                "INSERT INTO relay_queue (commandid, agentid, expireafter, dispatched) VALUES {}",
                crate::value_rows(chunk.len(), 4)
            );
            let ids: Vec<u64> = chunk.iter().map(|_| mig_core::id::generate()).collect();
            let mut insert = sqlx::query(AssertSqlSafe(sql));
            let mut queue = sqlx::query(AssertSqlSafe(qsql));
            for (agent, id) in chunk.iter().zip(&ids) {
                insert = insert
                    .bind(id_param(*id))
                    .bind(id_param(action_id))
                    .bind(id_param(agent.id))
                    .bind(cmd::SENT)
                    .bind(now_ms);
                queue = queue
                    .bind(id_param(*id))
                    .bind(id_param(agent.id))
                    .bind(expireafter)
                    .bind(dispatch_claimed_until);
            }
            insert.execute(&mut *tx).await?;
            queue.execute(&mut *tx).await?;
            for (agent, id) in chunk.iter().zip(ids) {
                envelopes.push(Envelope {
                    command_id: id,
                    action_id,
                    agent_id: agent.id,
                    queueloc: agent.queueloc.clone(),
                    expireafter,
                    payload: command_json(id, &action_json, &agent.to_json(), now_ms),
                });
            }
        }
        sqlx::query("UPDATE actions SET status = $1, starttime = $2, lastupdatetime = $2, claimed_by = '' WHERE id = $3")
            .bind(status::INFLIGHT)
            .bind(now_ms)
            .bind(id_param(action_id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(envelopes)
    }

    /// Marks an action that cannot run (its target selects no agent, or it is malformed).
    pub async fn set_action_status(
        &self,
        action_id: u64,
        new_status: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE actions SET status = $1, finishtime = $2, lastupdatetime = $2, claimed_by = '' WHERE id = $3")
            .bind(new_status)
            .bind(now_ms)
            .bind(id_param(action_id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks an action invalid, saying why (for the investigator who launched it).
    pub async fn set_action_invalid(
        &self,
        action_id: u64,
        reason: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE actions SET status = $1, reason = $2, finishtime = $3, lastupdatetime = $3, claimed_by = '' WHERE id = $4")
            .bind(status::INVALID)
            .bind(reason)
            .bind(now_ms)
            .bind(id_param(action_id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Cancels an action: commands not yet answered become cancelled and leave the queues.
    /// Returns how many commands were cancelled.
    pub async fn cancel_action(&self, action_id: u64, now_ms: i64) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let changed = sqlx::query(
            "UPDATE actions SET status = $1, finishtime = $2, lastupdatetime = $2 WHERE id = $3 AND status IN ($4, $5, $6, $7)",
        )
        .bind(status::CANCELLED)
        .bind(now_ms)
        .bind(id_param(action_id))
        .bind(status::PENDING)
        .bind(status::SCHEDULED)
        .bind(status::PREPARING)
        .bind(status::INFLIGHT)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT status FROM actions WHERE id = $1")
                    .bind(id_param(action_id))
                    .fetch_optional(&mut *tx)
                    .await?;
            return match exists {
                None => Err(StoreError::NotFound {
                    what: "action",
                    id: action_id.to_string(),
                }),
                Some(s) => Err(StoreError::Conflict(format!(
                    "action {action_id} is already {s}"
                ))),
            };
        }
        sqlx::query("DELETE FROM relay_queue WHERE commandid IN (SELECT id FROM commands WHERE actionid = $1)")
            .bind(id_param(action_id))
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("UPDATE commands SET status = $1, finishtime = $2, doneat = $2 WHERE actionid = $3 AND status = $4")
            .bind(cmd::CANCELLED)
            .bind(now_ms)
            .bind(id_param(action_id))
            .bind(cmd::SENT)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Ends what has ended: commands past their action's expiry become expired; inflight
    /// actions with no command left outstanding become completed (or expired when some
    /// command expired); actions never launched before their expiry become expired.
    /// Returns the (id, new status) of actions that finished.
    pub async fn finish_actions(&self, now_ms: i64) -> Result<Vec<(u64, String)>> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE commands SET status = $1, finishtime = $2, doneat = $2 WHERE status = $3 AND actionid IN \
             (SELECT id FROM actions WHERE status = $4 AND expireafter < $2)",
        )
        .bind(cmd::EXPIRED)
        .bind(now_ms)
        .bind(cmd::SENT)
        .bind(status::INFLIGHT)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM relay_queue WHERE expireafter < $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let mut done: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE actions SET status = CASE WHEN EXISTS (SELECT 1 FROM commands c WHERE c.actionid = actions.id AND c.status = $1) \
             THEN $1 ELSE $2 END, finishtime = $3, lastupdatetime = $3 \
             WHERE status = $4 AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.actionid = actions.id AND c.status = $5) \
             RETURNING id, status",
        )
        .bind(status::EXPIRED)
        .bind(status::COMPLETED)
        .bind(now_ms)
        .bind(status::INFLIGHT)
        .bind(cmd::SENT)
        .fetch_all(&mut *tx)
        .await?;
        let never_ran: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE actions SET status = $1, finishtime = $2, lastupdatetime = $2 WHERE status IN ($3, $4, $5) AND expireafter < $2 RETURNING id, status",
        )
        .bind(status::EXPIRED)
        .bind(now_ms)
        .bind(status::PENDING)
        .bind(status::SCHEDULED)
        .bind(status::PREPARING)
        .fetch_all(&mut *tx)
        .await?;
        done.extend(never_ran);
        tx.commit().await?;
        Ok(done.into_iter().map(|(id, s)| (id as u64, s)).collect())
    }

    /// Actions per status, for the dashboard and metrics.
    pub async fn action_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM actions GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// Adds `n` commands in status `s` to an action's counters.
fn tally(c: &mut Counters, s: &str, n: i64) {
    c.sent += n;
    match s {
        cmd::SENT => c.inflight += n,
        cmd::SUCCESS => c.success += n,
        cmd::CANCELLED => c.cancelled += n,
        cmd::EXPIRED => c.expired += n,
        cmd::FAILED => c.failed += n,
        cmd::TIMEOUT => c.timeout += n,
        _ => {}
    }
    c.done = c.sent - c.inflight;
}
