//! Schema migrations: numbered SQL files applied once each, in order, in one transaction.
//! The same files run on SQLite and PostgreSQL.

use crate::{Result, Store, StoreError};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_action_reason.sql")),
    (3, include_str!("../migrations/0003_schedules.sql")),
];

/// Applies the migrations the database has not had yet.
pub(crate) async fn run(store: &Store) -> Result<()> {
    // Several server processes may start at once against one PostgreSQL: they take turns,
    // holding a lock for the whole transaction (even CREATE TABLE IF NOT EXISTS races there).
    // On SQLite the write transaction is the lock.
    let mut tx = store.write_tx().await?;
    if store.dialect == crate::Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7165495727085431)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if applied.is_some() {
            continue;
        }
        for statement in statements(sql) {
            // Migration SQL is compiled into the binary.
            sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::Config(format!("migration {version} failed at `{statement}`: {e}"))
                })?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Splits a migration file into statements (no semicolons inside our statements).
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
