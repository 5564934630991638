//! Persistence for mig-server: one schema and one migration set on SQLite (the embedded
//! default) and PostgreSQL (scale-out), through sqlx's `Any` driver.
//!
//! Every query is written once, with `$N` placeholders (both drivers accept them); the only
//! dialect-specific SQL is in [`render`] (JSON fields, LIKE) and row locking.

#![warn(missing_docs, unreachable_pub)]

pub mod actions;
pub mod agent_stats;
pub mod agents;
pub mod commands;
mod error;
mod filter;
pub mod investigators;
mod migrate;
mod nodelay;
pub mod notify;
pub mod queue;
pub mod render;
pub mod schedules;

pub use error::StoreError;
/// The store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, the embedded default: one writer at a time.
    Sqlite,
    /// PostgreSQL, for scale-out: several server processes share it.
    Postgres,
}

/// A connection pool to the server's database.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Which database it is, from the URL's scheme.
    pub dialect: Dialect,
    /// Kept to open PostgreSQL's LISTEN connection (see `notify`).
    pub(crate) url: String,
}

/// Numbered placeholders for a multi-row statement: `rows` groups of `columns`, so
/// `value_rows(2, 2)` is `($1, $2), ($3, $4)`.
pub(crate) fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, …, $n`, for an `IN (…)` list.
pub(crate) fn sql_param_list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file of a `sqlite:` URL, unless it is an in-memory database.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// An existing database file must be a whole SQLite database: an empty file (a failed copy,
/// a full disk) or a truncated one is refused with what is wrong, instead of silently
/// becoming a new, empty database or failing later as "pool timed out".
fn check_sqlite_file(url: &str) -> Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    let refuse = |what: String| {
        Err(StoreError::Config(format!(
            "database {}: {what}; restore it from a backup, or move it away to start a new one",
            path.display()
        )))
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return refuse(format!("cannot be read: {e}")),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        return refuse("the file is empty (0 bytes), not a database".into());
    }
    let mut header = [0u8; 100];
    use std::io::Read;
    if size < 100 || file.read_exact(&mut header).is_err() {
        return refuse(format!("{size} bytes: too short to be a SQLite database"));
    }
    if &header[..16] != b"SQLite format 3\0" {
        return refuse("not a SQLite database (its header is wrong)".into());
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    // The page count in the header is valid when its "version valid for" matches the change
    // counter (SQLite's file format, section 1.3.7). With a write-ahead log beside it, the
    // file may rightly be shorter (a checkpoint interrupted by a crash: the log still holds
    // the pages, and SQLite's recovery writes them back): only the log can tell.
    let pages = u64::from(be32(28));
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let has_wal = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if be32(92) == be32(24) && pages > 0 && size < pages * page_size && !has_wal {
        return refuse(format!(
            "truncated: its header says {} bytes, the file has {size}",
            pages * page_size
        ));
    }
    Ok(())
}

impl Store {
    /// Connects to `url` (`sqlite:///var/lib/mig/mig.db`, `sqlite::memory:`,
    /// `postgres://user@host/db`) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(StoreError::Config(format!(
                "database URL {url:?}: expected sqlite:… or postgres://…"
            )));
        };
        if dialect == Dialect::Sqlite {
            check_sqlite_file(url)?;
        }
        let url = match dialect {
            // Create the file if needed.
            Dialect::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
            }
            _ => url.to_string(),
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        options = match dialect {
            Dialect::Sqlite => options
                // One writer at a time is SQLite's model; a few readers alongside.
                .max_connections(if url.contains(":memory:") { 1 } else { 4 })
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        Ok(())
                    })
                }),
            Dialect::Postgres => options
                .max_connections(16)
                .after_connect(|conn, _| Box::pin(nodelay::set(conn))),
        };
        let pool = options.connect(&url).await.map_err(|e| {
            StoreError::Config(format!(
                "cannot open database {}: {e}",
                mig_core::redact::url_password(&url)
            ))
        })?;
        let store = Store {
            pool,
            dialect,
            url: url.clone(),
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The connection pool, for what the store's methods do not do (tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (BEGIN
    /// IMMEDIATE): a deferred transaction that reads and then writes fails with
    /// SQLITE_BUSY_SNAPSHOT when another writer committed in between, and busy_timeout cannot
    /// help it.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// `FOR UPDATE SKIP LOCKED` where the database has row locks (PostgreSQL); SQLite
    /// serialises writers instead.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// Removes every row (tests and benchmarks only).
    pub async fn truncate_all(&self) -> Result<()> {
        for table in [
            "schedule_runs",
            "export_cursors",
            "relay_queue",
            "commands",
            "signatures",
            "actions",
            "api_keys",
            "investigators",
            "agents",
            "auth_nonces",
        ] {
            // Table names are the constants above.
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

/// Ids are u64 in the protocol and BIGINT in the database; MIG's fit in 53 bits.
pub(crate) fn id_param(id: u64) -> i64 {
    id as i64
}

#[cfg(test)]
mod tests {
    #[test]
    fn sql_params_number_every_value_once() {
        assert_eq!(super::value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::value_rows(1, 1), "($1)");
        assert_eq!(super::sql_param_list(3), "$1, $2, $3");
    }

    #[tokio::test]
    async fn an_empty_or_truncated_database_file_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mig.db");
        let url = format!("sqlite://{}", path.display());
        // A real database, with some pages.
        let store = super::Store::connect(&url).await.unwrap();
        store.pool().close().await;
        let whole = std::fs::read(&path).unwrap();
        assert!(whole.len() > 8192, "{}", whole.len());
        super::Store::connect(&url)
            .await
            .unwrap()
            .pool()
            .close()
            .await;

        for (bytes, why) in [
            (Vec::new(), "the file is empty"),
            (whole[..50].to_vec(), "too short"),
            ([b'x'; 4096].to_vec(), "not a SQLite database"),
            (whole[..whole.len() - 4096].to_vec(), "truncated"),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let _ = std::fs::remove_file(path.with_extension("db-wal"));
            let err = super::Store::connect(&url)
                .await
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains(why), "{why}: {err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "the file was left alone"
            );
        }
        // Shorter than its header says, but with a write-ahead log beside it (a checkpoint a
        // crash interrupted): the log holds the pages, so the file is not called truncated.
        std::fs::write(&path, &whole[..whole.len() - 4096]).unwrap();
        std::fs::write(path.with_extension("db-wal"), b"a log").unwrap();
        assert!(super::check_sqlite_file(&url).is_ok());
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        assert!(super::check_sqlite_file(&url).is_err());
    }
}
