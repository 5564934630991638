//! MIG's agent statistics (its dashboard's summary): how many agents and endpoints are online,
//! idle, new, doubled, flapping or gone.
//!
//! MIG's scheduler keeps one database row per agent process and calls the agent's queue
//! location its endpoint. Here a queue location is one agent, so an endpoint is a host name
//! (as [`Store::duplicate_agents`] counts them); the definitions are otherwise MIG's
//! (`database/agents.go`), computed when asked rather than every few minutes.

use crate::{Result, Store};
use mig_core::agent::status;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How far back an endpoint that stopped answering still counts as disappeared, and the
/// window before which a new endpoint must not have been seen (MIG: 7 days).
const LOOKBACK_MS: i64 = 7 * 24 * 3600 * 1000;
/// An endpoint is new when its first agent started within this (MIG: 24 hours).
const NEW_WITHIN_MS: i64 = 24 * 3600 * 1000;

/// Agents of one version, as MIG counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionCount {
    /// The agents' version.
    pub version: String,
    /// How many.
    pub count: u64,
}

/// MIG's `AgentsStats`, with its field names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AgentsStats {
    /// Agents whose last heartbeat is recent.
    pub onlineagents: u64,
    /// The same, by version.
    pub onlineagentsbyversion: Vec<VersionCount>,
    /// Hosts with at least one online agent.
    pub onlineendpoints: u64,
    /// Idle agents on hosts with no online agent.
    pub idleagents: u64,
    /// The same, by version.
    pub idleagentsbyversion: Vec<VersionCount>,
    /// Hosts with idle agents and no online one.
    pub idleendpoints: u64,
    /// Hosts whose first agent started in the last 24 hours.
    pub newendpoints: u64,
    /// Hosts running two or more online agents.
    pub multiagentsendpoints: u64,
    /// Hosts seen in the last 7 days with no agent online or idle now.
    pub disappearedendpoints: u64,
    /// Hosts with more than one agent online or idle (agents restarting or cloned).
    pub flappingendpoints: u64,
}

struct AgentRow {
    name: String,
    version: String,
    status: String,
    starttime: i64,
    heartbeattime: i64,
}

impl Store {
    /// MIG's agent statistics at `now_ms`.
    pub async fn agents_stats(&self, now_ms: i64) -> Result<AgentsStats> {
        let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT name, version, status, starttime, heartbeattime FROM agents \
             WHERE status IN ($1, $2) OR heartbeattime >= $3",
        )
        .bind(status::ONLINE)
        .bind(status::IDLE)
        .bind(now_ms - LOOKBACK_MS)
        .fetch_all(&self.pool)
        .await?;
        let rows: Vec<AgentRow> = rows
            .into_iter()
            .map(
                |(name, version, status, starttime, heartbeattime)| AgentRow {
                    name,
                    version,
                    status,
                    starttime,
                    heartbeattime,
                },
            )
            .collect();
        Ok(compute(&rows, now_ms))
    }
}

fn compute(rows: &[AgentRow], now_ms: i64) -> AgentsStats {
    let is = |r: &AgentRow, s: &str| r.status == s;
    let online_hosts: BTreeSet<&str> = rows
        .iter()
        .filter(|r| is(r, status::ONLINE))
        .map(|r| r.name.as_str())
        .collect();
    let idle_only: Vec<&AgentRow> = rows
        .iter()
        .filter(|r| is(r, status::IDLE) && !online_hosts.contains(r.name.as_str()))
        .collect();
    let per_host = |keep: &dyn Fn(&AgentRow) -> bool| {
        let mut n: BTreeMap<&str, u64> = BTreeMap::new();
        for r in rows.iter().filter(|r| keep(r)) {
            *n.entry(r.name.as_str()).or_default() += 1;
        }
        n
    };
    let online_per_host = per_host(&|r| is(r, status::ONLINE));
    let live_per_host = per_host(&|r| is(r, status::ONLINE) || is(r, status::IDLE));
    let mut first_start: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rows {
        let t = first_start.entry(r.name.as_str()).or_insert(r.starttime);
        *t = (*t).min(r.starttime);
    }
    let seen_hosts: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.heartbeattime >= now_ms - LOOKBACK_MS)
        .map(|r| r.name.as_str())
        .collect();
    AgentsStats {
        onlineagents: online_per_host.values().sum(),
        onlineagentsbyversion: by_version(rows.iter().filter(|r| is(r, status::ONLINE))),
        onlineendpoints: online_hosts.len() as u64,
        idleagents: idle_only.len() as u64,
        idleagentsbyversion: by_version(idle_only.iter().copied()),
        idleendpoints: idle_only
            .iter()
            .map(|r| r.name.as_str())
            .collect::<BTreeSet<_>>()
            .len() as u64,
        newendpoints: first_start
            .values()
            .filter(|&&t| t > now_ms - NEW_WITHIN_MS)
            .count() as u64,
        multiagentsendpoints: online_per_host.values().filter(|&&n| n > 1).count() as u64,
        disappearedendpoints: seen_hosts
            .iter()
            .filter(|h| !live_per_host.contains_key(*h))
            .count() as u64,
        flappingendpoints: live_per_host.values().filter(|&&n| n > 1).count() as u64,
    }
}

fn by_version<'a>(rows: impl Iterator<Item = &'a AgentRow>) -> Vec<VersionCount> {
    let mut n: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        *n.entry(r.version.as_str()).or_default() += 1;
    }
    n.into_iter()
        .map(|(version, count)| VersionCount {
            version: version.to_string(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3600 * 1000;

    fn row(name: &str, version: &str, status: &str, started_h: i64, heard_h: i64) -> AgentRow {
        AgentRow {
            name: name.into(),
            version: version.into(),
            status: status.into(),
            starttime: NOW - started_h * HOUR,
            heartbeattime: NOW - heard_h * HOUR,
        }
    }

    #[test]
    fn counts_hosts_as_mig_counts_endpoints() {
        let rows = [
            // web1 runs two online agents (an upgrade in progress): one endpoint, doubled.
            row("web1", "1.0", "online", 100, 0),
            row("web1", "2.0", "online", 1, 0),
            // db1 is idle only; cache1 has an idle agent but also an online one.
            row("db1", "1.0", "idle", 100, 2),
            row("cache1", "2.0", "online", 100, 0),
            row("cache1", "1.0", "idle", 200, 3),
            // new1 started an hour ago; gone1 was last heard two days ago.
            row("new1", "2.0", "online", 1, 0),
            row("gone1", "1.0", "offline", 300, 48),
        ];
        let s = compute(&rows, NOW);
        assert_eq!(s.onlineagents, 4);
        assert_eq!(
            s.onlineagentsbyversion,
            vec![
                VersionCount {
                    version: "1.0".into(),
                    count: 1
                },
                VersionCount {
                    version: "2.0".into(),
                    count: 3
                }
            ]
        );
        assert_eq!(s.onlineendpoints, 3);
        assert_eq!((s.idleagents, s.idleendpoints), (1, 1), "cache1 is online");
        assert_eq!(s.newendpoints, 1, "web1's first agent is old");
        assert_eq!(s.multiagentsendpoints, 1);
        assert_eq!(s.disappearedendpoints, 1);
        assert_eq!(s.flappingendpoints, 2, "web1 and cache1");
    }
}
