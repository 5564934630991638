//! The verification gate: nothing runs unless the agent's own keyring and ACL allow it.
//! Checks, in order: the command parses, the action is valid and inside its validity window,
//! every signature is good and from a key that may sign, the signers weigh enough for every
//! module, and the action was not run before (replay).

use anyhow::Context;
use mig_core::{Acl, Action, Command, GoTime};
use mig_pgp::{verify_action, Keyring, VerifiedAction, Window};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

pub struct Gate {
    keyring: Keyring,
    acl: Acl,
    replay: Mutex<ReplayMemory>,
}

/// What to do with a command.
pub enum Decision {
    /// Verified: run this action (parameters decompressed).
    Run {
        action: Box<Action>,
        verified: VerifiedAction,
    },
    /// Refused: report why, run nothing. `signers` are those whose signatures verified (for
    /// the audit log), when the refusal came after the signatures were checked.
    Refuse {
        reason: String,
        kind: &'static str,
        signers: Vec<mig_pgp::Verified>,
    },
    /// The same command arrived again (redelivery): nothing to do.
    AlreadySeen,
}

/// Signed actions already run, by the digest of what was signed plus the signatures: the
/// action id is not signed, so a replayed action under a new id is still recognised.
#[derive(Serialize, Deserialize, Default)]
struct ReplayMemory {
    #[serde(skip)]
    path: PathBuf,
    seen: HashMap<String, Seen>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Seen {
    command_id: u64,
    expire_ms: i64,
}

impl ReplayMemory {
    fn load(path: PathBuf) -> ReplayMemory {
        let mut m: ReplayMemory = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        m.path = path;
        m
    }

    fn save(&self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    /// Forget actions expired for a day: the validity window refuses them anyway.
    fn prune(&mut self, now_ms: i64) {
        self.seen.retain(|_, s| s.expire_ms + 86_400_000 > now_ms);
    }
}

pub fn action_digest(a: &Action) -> String {
    let mut h = Sha256::new();
    h.update(a.signing_text().as_bytes());
    for s in &a.pgpsignatures {
        h.update(b"\n");
        h.update(s.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Gate {
    pub fn new(keyring: Keyring, acl: Acl, state_dir: &std::path::Path) -> Gate {
        Gate {
            keyring,
            acl,
            replay: Mutex::new(ReplayMemory::load(state_dir.join("replay.json"))),
        }
    }

    pub fn check(&self, command: &Command, now: GoTime) -> Decision {
        let action = &command.action;
        let verified =
            match verify_action(action, &self.keyring, Some(&self.acl), now, Window::Enforce) {
                Ok(v) => v,
                Err(e) => {
                    let (kind, reason) = (e.kind(), e.to_string());
                    let signers = match e {
                        mig_pgp::Refusal::Acl { signers, .. } => signers,
                        _ => Vec::new(),
                    };
                    return Decision::Refuse {
                        kind,
                        reason,
                        signers,
                    };
                }
            };
        let mut decompressed = action.clone();
        if let Err(e) = decompressed.decompress_operations() {
            return Decision::Refuse {
                kind: "invalid",
                reason: format!("invalid action: {e}"),
                signers: verified.signers,
            };
        }
        let mut verified = verified;
        let fingerprints: Vec<String> = verified
            .signers
            .iter()
            .map(|s| s.fingerprint.clone())
            .collect();
        match query_table_grants(&self.acl, &fingerprints, &decompressed.operations) {
            Ok(grants) => verified.grants.extend(grants),
            Err(reason) => {
                return Decision::Refuse {
                    kind: "acl",
                    reason,
                    signers: verified.signers,
                }
            }
        }
        let digest = action_digest(action);
        {
            let mut memory = self.replay.lock().unwrap_or_else(|p| p.into_inner());
            memory.prune(now.unix_millis());
            if let Some(seen) = memory.seen.get(&digest) {
                if seen.command_id == command.id {
                    return Decision::AlreadySeen;
                }
                return Decision::Refuse {
                    signers: verified.signers,
                    kind: "replay",
                    reason: format!(
                        "replay refused: this signed action was already run (command {})",
                        seen.command_id
                    ),
                };
            }
            memory.seen.insert(
                digest,
                Seen {
                    command_id: command.id,
                    expire_ms: action.expireafter.unix_millis(),
                },
            );
            if let Err(e) = memory.save() {
                tracing::warn!("replay memory not saved: {e:#}");
            }
        }
        Decision::Run {
            action: Box::new(decompressed),
            verified,
        }
    }
}

/// The ACL prefix of per-table permissions of the query module (`query:shell_history`).
pub const QUERY_TABLE_PERMISSION: &str = "query:";

/// Per-table permissions of the query module: an ACL may name `query:<table>` with its own
/// minimum weight (so that `shell_history` needs two signers while `processes` needs one).
/// They come on top of the `query` module's own permission, which `verify_action` checked;
/// a table without such a permission needs nothing more. The tables are those the SQL
/// statement reads, found by preparing it (nothing runs). Returns the grants, for the audit.
pub fn query_table_grants(
    acl: &Acl,
    signers: &[String],
    operations: &[mig_core::Operation],
) -> Result<Vec<mig_core::Grant>, String> {
    let has_table_permissions = acl
        .permissions()
        .keys()
        .any(|k| k.starts_with(QUERY_TABLE_PERMISSION));
    if !has_table_permissions {
        return Ok(Vec::new());
    }
    let mut grants = Vec::new();
    for (i, op) in operations.iter().enumerate() {
        if op.module != "query" {
            continue;
        }
        // If the tables cannot be listed the query could not run either; refusing keeps a
        // permission from being skipped by a statement we failed to read.
        let tables = mig_modules::query::tables_read(&op.parameters).map_err(|e| {
            format!("operations[{i}]: the tables this query reads cannot be told, so their ACL permissions cannot be checked: {e}")
        })?;
        for table in tables {
            let name = format!("{QUERY_TABLE_PERMISSION}{table}");
            if let Some(result) = acl.check_exact(&name, signers) {
                let grant = result
                    .map_err(|e| format!("operations[{i}]: the query reads table {table}: {e}"))?;
                grants.push(grant);
            }
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mig_core::Operation;
    use serde_json::json;

    const BOB: &str = "E60892BB9BD89A69F759A1A0A3D652F0FE4A5AF6";
    const JOHN: &str = "9F759A1A0A3D652F0FE4A5AF6E60892BB9BD89A6";

    fn acl() -> Acl {
        Acl::from_json(
            json!({
                "query": {"minimumweight": 1, "investigators": {
                    "Bob": {"fingerprint": BOB, "weight": 1},
                    "John": {"fingerprint": JOHN, "weight": 1}}},
                "query:shell_history": {"minimumweight": 2, "investigators": {
                    "Bob": {"fingerprint": BOB, "weight": 1},
                    "John": {"fingerprint": JOHN, "weight": 1}}}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn query(sql: &str) -> Vec<Operation> {
        vec![Operation::new("query", json!({"sql": sql}))]
    }

    #[test]
    fn sensitive_tables_need_their_own_weight() {
        let acl = acl();
        let one = [BOB.to_string()];
        let two = [BOB.to_string(), JOHN.to_string()];
        assert!(
            query_table_grants(&acl, &one, &query("SELECT * FROM processes"))
                .unwrap()
                .is_empty()
        );
        let err = query_table_grants(
            &acl,
            &one,
            &query("SELECT u.username FROM users u JOIN shell_history USING (uid)"),
        )
        .unwrap_err();
        assert!(err.contains("reads table shell_history"), "{err}");
        assert!(err.contains("ACL weight 1 < 2"), "{err}");
        let grants =
            query_table_grants(&acl, &two, &query("SELECT count(*) FROM shell_history")).unwrap();
        assert_eq!(grants[0].permission, "query:shell_history");
        // Hidden in a subquery, a CTE or a join without columns: still found.
        for sql in [
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM shell_history)",
            "WITH h AS (SELECT * FROM shell_history) SELECT 1 FROM h",
            "SELECT p.pid FROM processes p JOIN shell_history USING (uid)",
        ] {
            assert!(
                query_table_grants(&acl, &one, &query(sql)).is_err(),
                "{sql}"
            );
        }
        // A statement that cannot be read is refused rather than let through.
        assert!(query_table_grants(&acl, &two, &query("SELEC *")).is_err());
        // Other modules and ACLs without table permissions are not concerned.
        let file = vec![Operation::new("file", json!({"searches": {}}))];
        assert!(query_table_grants(&acl, &one, &file).unwrap().is_empty());
        let plain = Acl::from_json(
            json!({"default": {"minimumweight": 1, "investigators": {"Bob": {"fingerprint": BOB, "weight": 1}}}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert!(query_table_grants(&plain, &one, &query("SELEC *"))
            .unwrap()
            .is_empty());
    }
}
