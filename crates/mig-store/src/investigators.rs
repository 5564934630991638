//! Investigators (who may use the API), their API keys, and the nonces of their tokens.

use crate::{get_i64, get_str, id_param, Result, Store, StoreError};
use serde::{Deserialize, Serialize};

/// What an investigator may do through the API, from least to most.
pub mod permission {
    /// Can read everything, launch nothing.
    pub const READONLY: &str = "readonly";
    /// Can create and cancel actions.
    pub const INVESTIGATOR: &str = "investigator";
    /// Can also manage investigators.
    pub const ADMIN: &str = "admin";

    /// Whether `p` is one of the three permissions.
    pub fn is_valid(p: &str) -> bool {
        matches!(p, READONLY | INVESTIGATOR | ADMIN)
    }

    /// Does a holder of `have` get what `need` requires?
    pub fn allows(have: &str, need: &str) -> bool {
        let rank = |p: &str| match p {
            ADMIN => 3,
            INVESTIGATOR => 2,
            READONLY => 1,
            _ => 0,
        };
        rank(have) >= rank(need) && rank(need) > 0
    }
}

/// An investigator who may use the API and sign actions.
pub const STATUS_ACTIVE: &str = "active";
/// An investigator who may no longer use the API, and whose signatures no longer count.
pub const STATUS_DISABLED: &str = "disabled";

/// Someone who may use the API: their key, status and permission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Investigator {
    /// The server's ID for them.
    pub id: u64,
    /// Their name.
    pub name: String,
    /// Their OpenPGP key's fingerprint; one investigator per key.
    pub pgpfingerprint: String,
    /// Their armored public key; empty when a listing leaves keys out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub publickey: String,
    /// [`STATUS_ACTIVE`] or [`STATUS_DISABLED`].
    pub status: String,
    /// One of [`permission`]'s.
    pub permission: String,
    /// When they were created, RFC 3339.
    pub createdat: String,
    /// When their record last changed, RFC 3339.
    pub lastmodified: String,
}

fn from_row(r: &sqlx::any::AnyRow, with_key: bool) -> Result<Investigator> {
    let t =
        |c: &str| -> Result<String> { Ok(crate::actions::ms_to_time(get_i64(r, c)?).to_rfc3339()) };
    Ok(Investigator {
        id: get_i64(r, "id")? as u64,
        name: get_str(r, "name")?,
        pgpfingerprint: get_str(r, "pgpfingerprint")?,
        publickey: if with_key {
            get_str(r, "publickey")?
        } else {
            String::new()
        },
        status: get_str(r, "status")?,
        permission: get_str(r, "permission")?,
        createdat: t("createdat")?,
        lastmodified: t("lastmodified")?,
    })
}

impl Store {
    /// Creates an active investigator with `perm`; a fingerprint already registered is a
    /// conflict.
    pub async fn create_investigator(
        &self,
        name: &str,
        publickey: &str,
        fingerprint: &str,
        perm: &str,
        now_ms: i64,
    ) -> Result<Investigator> {
        if !permission::is_valid(perm) {
            return Err(StoreError::Conflict(format!(
                "permission {perm:?} is not one of readonly, investigator, admin"
            )));
        }
        let id = mig_core::id::generate();
        let res = sqlx::query(
            "INSERT INTO investigators (id, name, pgpfingerprint, publickey, status, permission, createdat, lastmodified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id_param(id))
        .bind(name)
        .bind(fingerprint)
        .bind(publickey)
        .bind(STATUS_ACTIVE)
        .bind(perm)
        .bind(now_ms)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => self.get_investigator(id).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("an investigator with fingerprint {fingerprint} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// One investigator, by ID, with their public key.
    pub async fn get_investigator(&self, id: u64) -> Result<Investigator> {
        let row = sqlx::query("SELECT id, name, pgpfingerprint, publickey, status, permission, createdat, lastmodified FROM investigators WHERE id = $1")
            .bind(id_param(id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound {
                what: "investigator",
                id: id.to_string(),
            })?;
        from_row(&row, true)
    }

    /// The investigator with this key fingerprint, with their public key, if any.
    pub async fn investigator_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<Investigator>> {
        let row = sqlx::query("SELECT id, name, pgpfingerprint, publickey, status, permission, createdat, lastmodified FROM investigators WHERE pgpfingerprint = $1")
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row(&r, true)).transpose()
    }

    /// All investigators; `with_keys` includes the armored public keys.
    pub async fn list_investigators(&self, with_keys: bool) -> Result<Vec<Investigator>> {
        let rows = sqlx::query("SELECT id, name, pgpfingerprint, publickey, status, permission, createdat, lastmodified FROM investigators ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| from_row(r, with_keys)).collect()
    }

    /// When investigators last changed (Unix ms), to know when cached keys are stale.
    pub async fn investigators_changed_at(&self) -> Result<i64> {
        let t: Option<i64> = sqlx::query_scalar("SELECT MAX(lastmodified) FROM investigators")
            .fetch_one(&self.pool)
            .await?;
        Ok(t.unwrap_or(0))
    }

    /// Sets an investigator's status; returns them as they are now.
    pub async fn set_investigator_status(
        &self,
        id: u64,
        status: &str,
        now_ms: i64,
    ) -> Result<Investigator> {
        sqlx::query("UPDATE investigators SET status = $1, lastmodified = $2 WHERE id = $3")
            .bind(status)
            .bind(now_ms)
            .bind(id_param(id))
            .execute(&self.pool)
            .await?;
        self.get_investigator(id).await
    }

    /// Stores an API key's hash under `id` (chosen by the caller: it is part of the key).
    pub async fn create_api_key(
        &self,
        id: u64,
        investigator: u64,
        name: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<u64> {
        sqlx::query("INSERT INTO api_keys (id, investigatorid, name, secret_hash, createdat) VALUES ($1, $2, $3, $4, $5)")
            .bind(id_param(id))
            .bind(id_param(investigator))
            .bind(name)
            .bind(secret_hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// (investigator id, secret hash) of a key that is not revoked.
    pub async fn api_key(&self, id: u64) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT investigatorid, secret_hash FROM api_keys WHERE id = $1 AND revoked = 0",
        )
        .bind(id_param(id))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(i, h)| (i as u64, h)))
    }

    /// Revokes an API key; false if there is no such key.
    pub async fn revoke_api_key(&self, id: u64) -> Result<bool> {
        Ok(sqlx::query("UPDATE api_keys SET revoked = 1 WHERE id = $1")
            .bind(id_param(id))
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }

    /// Records a token nonce; false if it was seen before (a replay). Nonces older than
    /// `keep_ms` are forgotten (their tokens have expired anyway).
    pub async fn use_nonce(
        &self,
        fingerprint: &str,
        nonce: u64,
        now_ms: i64,
        keep_ms: i64,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM auth_nonces WHERE seen < $1")
            .bind(now_ms - keep_ms)
            .execute(&self.pool)
            .await?;
        let res =
            sqlx::query("INSERT INTO auth_nonces (fingerprint, nonce, seen) VALUES ($1, $2, $3)")
                .bind(fingerprint)
                .bind(nonce as i64)
                .bind(now_ms)
                .execute(&self.pool)
                .await;
        match res {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
