//! Agents: registration from heartbeats, status upkeep, listing and target resolution.

use crate::filter::{Listing, Where};
use crate::render::{render, Param};
use crate::{get_i64, get_str, id_param, Result, Store, StoreError};
use mig_core::agent::status;
use mig_core::target::Target;
use mig_core::{Agent, GoTime};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

const AGENT_COLUMNS: &str = "agents.id, agents.name, agents.queueloc, agents.mode, agents.version, agents.pid, \
agents.os, agents.arch, agents.starttime, agents.heartbeattime, agents.destructiontime, agents.status, \
agents.environment, agents.tags, agents.authorized";

/// Filters for listing agents.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    /// Only the agent with this ID.
    pub id: Option<u64>,
    /// A LIKE pattern on the version.
    pub version: Option<String>,
    /// Only agents with this status.
    pub status: Option<String>,
    /// A LIKE pattern on the name.
    pub name: Option<String>,
    /// Only the agents this target selects.
    pub target: Option<Target>,
    /// Heartbeat after / before (Unix ms).
    pub after: Option<i64>,
    /// Only agents whose last heartbeat is before this, Unix ms.
    pub before: Option<i64>,
    /// At most this many agents, latest heartbeat first (clamped to 1..=100,000).
    pub limit: i64,
    /// How many matching agents to skip first.
    pub offset: i64,
}

/// The agent fields a command carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRef {
    /// The agent's ID.
    pub id: u64,
    /// Its host's name.
    pub name: String,
    /// Where its commands go.
    pub queueloc: String,
    /// `daemon` or `checkin`.
    pub mode: String,
    /// The agent's version.
    pub version: String,
}

impl AgentRef {
    /// The `agent` object of a command, as MIG writes it.
    pub fn to_json(&self) -> String {
        serde_json::json!({"id": self.id, "name": self.name, "queueloc": self.queueloc, "mode": self.mode, "version": self.version})
            .to_string()
    }
}

/// What registering a heartbeat did.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The agent's ID.
    pub id: u64,
    /// Whether the agent was seen for the first time (its queueloc was unknown).
    pub new: bool,
}

pub(crate) fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments>,
    params: &[Param],
) -> Query<'q, Any, AnyArguments> {
    for p in params {
        q = match p {
            Param::Int(n) => q.bind(*n),
            Param::Text(s) => q.bind(s.clone()),
        };
    }
    q
}

pub(crate) fn agent_ref_from_row(r: &AnyRow) -> Result<AgentRef> {
    Ok(AgentRef {
        id: get_i64(r, "id")? as u64,
        name: get_str(r, "name")?,
        queueloc: get_str(r, "queueloc")?,
        mode: get_str(r, "mode")?,
        version: get_str(r, "version")?,
    })
}

pub(crate) fn agent_from_row(row: &AnyRow) -> Result<Agent> {
    let env = get_str(row, "environment")?;
    let tags = get_str(row, "tags")?;
    let time = |col: &str| -> Result<GoTime> {
        let ms = get_i64(row, col)?;
        Ok(if ms == 0 {
            GoTime::zero()
        } else {
            GoTime::from_unix_millis(ms).unwrap_or_default()
        })
    };
    let os = get_str(row, "os")?;
    let mut environment: mig_core::AgentEnv = serde_json::from_str(&env)
        .map_err(|e| StoreError::Corrupt(format!("agent environment: {e}")))?;
    if environment.os.is_empty() {
        environment.os = os.clone();
    }
    Ok(Agent {
        id: get_i64(row, "id")? as u64,
        name: get_str(row, "name")?,
        queueloc: get_str(row, "queueloc")?,
        mode: get_str(row, "mode")?.into(),
        os,
        version: get_str(row, "version")?,
        pid: get_i64(row, "pid")?,
        loadername: String::new(),
        starttime: time("starttime")?,
        destructiontime: time("destructiontime")?,
        heartbeatts: time("heartbeattime")?,
        refreshts: GoTime::zero(),
        status: get_str(row, "status")?.into(),
        authorized: get_i64(row, "authorized")? != 0,
        environment,
        tags: serde_json::from_str(&tags)
            .map_err(|e| StoreError::Corrupt(format!("agent tags: {e}")))?,
    })
}

impl Store {
    /// Registers or refreshes an agent from its heartbeat. `identity` is the agent's public
    /// key: the first heartbeat of a queueloc pins it, and a different key is refused.
    pub async fn register_heartbeat(
        &self,
        hb: &Agent,
        identity: &str,
        now_ms: i64,
    ) -> Result<Registration> {
        self.register_heartbeat_admitting(hb, identity, now_ms, || Ok(()))
            .await
    }

    /// [`Store::register_heartbeat`], asking `admit_new` before registering an agent never
    /// seen before (its error is the refusal's reason).
    pub async fn register_heartbeat_admitting(
        &self,
        hb: &Agent,
        identity: &str,
        now_ms: i64,
        admit_new: impl FnOnce() -> std::result::Result<(), String>,
    ) -> Result<Registration> {
        let mut tx = self.write_tx().await?;
        let existing: Option<(i64, String)> =
            sqlx::query_as("SELECT id, identity FROM agents WHERE queueloc = $1")
                .bind(&hb.queueloc)
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_none() {
            admit_new().map_err(StoreError::Refused)?;
        }
        let env = serde_json::to_string(&hb.environment).unwrap_or_else(|_| "{}".into());
        let tags = serde_json::to_string(&hb.tags).unwrap_or_else(|_| "{}".into());
        let starttime = if hb.starttime.is_zero() {
            0
        } else {
            hb.starttime.unix_millis()
        };
        let os = hb.os_family().to_string();
        let reg = match existing {
            Some((id, pinned)) => {
                if !pinned.is_empty() && !identity.is_empty() && pinned != identity {
                    return Err(StoreError::Conflict(format!(
                        "queueloc {} is registered to another agent key",
                        hb.queueloc
                    )));
                }
                sqlx::query(
                    "UPDATE agents SET name = $1, mode = $2, version = $3, pid = $4, os = $5, arch = $6, \
                     starttime = $7, heartbeattime = $8, status = $9, environment = $10, tags = $11, \
                     identity = CASE WHEN identity = '' THEN $12 ELSE identity END WHERE id = $13",
                )
                .bind(&hb.name)
                .bind(hb.mode.as_str())
                .bind(&hb.version)
                .bind(hb.pid)
                .bind(&os)
                .bind(&hb.environment.arch)
                .bind(starttime)
                .bind(now_ms)
                .bind(status::ONLINE)
                .bind(&env)
                .bind(&tags)
                .bind(identity)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Registration {
                    id: id as u64,
                    new: false,
                }
            }
            None => {
                let id = mig_core::id::generate();
                sqlx::query(
                    "INSERT INTO agents (id, name, queueloc, mode, version, pid, os, arch, starttime, \
                     heartbeattime, status, environment, tags, identity) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(id_param(id))
                .bind(&hb.name)
                .bind(&hb.queueloc)
                .bind(hb.mode.as_str())
                .bind(&hb.version)
                .bind(hb.pid)
                .bind(&os)
                .bind(&hb.environment.arch)
                .bind(starttime)
                .bind(now_ms)
                .bind(status::ONLINE)
                .bind(&env)
                .bind(&tags)
                .bind(identity)
                .execute(&mut *tx)
                .await?;
                Registration { id, new: true }
            }
        };
        tx.commit().await?;
        Ok(reg)
    }

    /// online → idle after `idle_after_ms` without heartbeat; → offline after `offline_after_ms`.
    pub async fn refresh_agent_statuses(
        &self,
        now_ms: i64,
        idle_after_ms: i64,
        offline_after_ms: i64,
    ) -> Result<(u64, u64)> {
        let offline = sqlx::query(
            "UPDATE agents SET status = $1 WHERE status IN ($2, $3) AND heartbeattime < $4",
        )
        .bind(status::OFFLINE)
        .bind(status::ONLINE)
        .bind(status::IDLE)
        .bind(now_ms - offline_after_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let idle =
            sqlx::query("UPDATE agents SET status = $1 WHERE status = $2 AND heartbeattime < $3")
                .bind(status::IDLE)
                .bind(status::ONLINE)
                .bind(now_ms - idle_after_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok((idle, offline))
    }

    /// One agent, by ID.
    pub async fn get_agent(&self, id: u64) -> Result<Agent> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"
        )))
        .bind(id_param(id))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "agent",
            id: id.to_string(),
        })?;
        agent_from_row(&row)
    }

    /// (agent id, pinned identity key) for a queueloc, if registered.
    pub async fn agent_identity(&self, queueloc: &str) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, identity FROM agents WHERE queueloc = $1")
                .bind(queueloc)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, key)| (id as u64, key)))
    }

    /// Every registered agent's (queueloc, id, pinned key): a scheduler loads them at once
    /// rather than one query per agent when a wave of results comes in.
    pub async fn agent_identities(&self) -> Result<Vec<(String, u64, String)>> {
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT queueloc, id, identity FROM agents WHERE identity <> ''")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(q, id, key)| (q, id as u64, key))
            .collect())
    }

    /// The agent id registered for a queueloc, if any.
    pub async fn agent_id_by_queueloc(&self, queueloc: &str) -> Result<Option<u64>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM agents WHERE queueloc = $1")
            .bind(queueloc)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(|i| i as u64))
    }

    /// The agents the filter selects, latest heartbeat first; `now_ms` resolves the
    /// target's `NOW()`.
    pub async fn list_agents(&self, f: &AgentFilter, now_ms: i64) -> Result<Vec<Agent>> {
        let mut w = Where::default();
        w.id("agents.id", f.id);
        w.equals("agents.status", f.status.as_deref());
        w.like("agents.name", f.name.as_deref());
        w.like("agents.version", f.version.as_deref());
        w.between("agents.heartbeattime", f.after, f.before);
        if let Some(t) = &f.target {
            w.target(t, self.dialect, now_ms);
        }
        let rows = self
            .listing_rows(Listing {
                select: &format!("{AGENT_COLUMNS} FROM agents"),
                filter: w,
                order_by: "agents.heartbeattime DESC, agents.id",
                limit: f.limit,
                offset: f.offset,
                max_limit: 100_000,
            })
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// The agents a target selects, for the scheduler.
    pub async fn resolve_target(&self, target: &Target, now_ms: i64) -> Result<Vec<AgentRef>> {
        let c = render(target, self.dialect, now_ms, 1);
        let sql = format!(
            "SELECT agents.id, agents.name, agents.queueloc, agents.mode, agents.version FROM agents WHERE {} ORDER BY agents.id",
            c.sql
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &c.params)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agent_ref_from_row).collect()
    }

    /// How many agents a target selects, and a sample of them (the API's preview).
    pub async fn preview_target(
        &self,
        target: &Target,
        now_ms: i64,
        sample: i64,
    ) -> Result<(i64, Vec<Agent>)> {
        let c = render(target, self.dialect, now_ms, 1);
        let sql = format!("SELECT COUNT(*) AS n FROM agents WHERE {}", c.sql);
        let count: i64 = bind_all(sqlx::query(AssertSqlSafe(sql)), &c.params)
            .fetch_one(&self.pool)
            .await
            .and_then(|r| sqlx::Row::try_get(&r, "n"))?;
        if sample <= 0 {
            // The count alone (a listing's limit is at least one).
            return Ok((count, Vec::new()));
        }
        let filter = AgentFilter {
            target: Some(target.clone()),
            limit: sample,
            ..Default::default()
        };
        Ok((count, self.list_agents(&filter, now_ms).await?))
    }

    /// Online agents that share a name with another online agent: two agents on one
    /// endpoint (an upgrade in progress, or a clone). Name → queuelocs.
    pub async fn duplicate_agents(&self) -> Result<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, queueloc FROM agents WHERE status = 'online' AND name IN \
             (SELECT name FROM agents WHERE status = 'online' GROUP BY name HAVING COUNT(*) > 1) ORDER BY name, queueloc",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (name, q) in rows {
            match out.last_mut() {
                Some((n, qs)) if *n == name => qs.push(q),
                _ => out.push((name, vec![q])),
            }
        }
        Ok(out)
    }

    /// Agents per status, for the dashboard and metrics.
    pub async fn agent_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM agents GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
