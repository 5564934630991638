//! Waking the other server processes. In the scale-out shape the API and the schedulers are
//! separate processes sharing PostgreSQL: when the API stores an action, it says so on a
//! PostgreSQL channel, and every scheduler listening starts on it at once instead of at its
//! next tick. SQLite has a single process, which wakes its scheduler in memory.

use crate::{Dialect, Result, Store};
use sqlx::postgres::PgListener;

const NEW_ACTION: &str = "mig_new_action";

/// Notifications that an action was created, as a scheduler receives them.
pub struct ActionListener {
    listener: PgListener,
}

impl ActionListener {
    /// Waits for the next notification. An error means the connection was lost: listen again.
    pub async fn next(&mut self) -> Result<()> {
        self.listener.recv().await?;
        Ok(())
    }
}

impl Store {
    /// Tells the listening schedulers that an action is waiting (PostgreSQL; nothing to do on
    /// SQLite).
    pub async fn announce_new_action(&self) -> Result<()> {
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(NEW_ACTION)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Listens for new actions (`None` on SQLite, where there is no other process).
    pub async fn listen_new_actions(&self) -> Result<Option<ActionListener>> {
        if self.dialect != Dialect::Postgres {
            return Ok(None);
        }
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(NEW_ACTION).await?;
        Ok(Some(ActionListener { listener }))
    }
}
