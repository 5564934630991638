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
use std::sync::{Arc, Mutex, RwLock};

pub struct Gate {
    /// The investigators' keys and the ACL, replaced whole when their files change.
    trust: RwLock<Arc<Trust>>,
    replay: Mutex<ReplayMemory>,
}

/// What the agent trusts: its keyring and its ACL.
pub struct Trust {
    pub keyring: Keyring,
    pub acl: Acl,
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

/// Why [`Gate::verify`] refused an action.
#[derive(Debug)]
pub struct Refused {
    /// `invalid`, `signature`, `acl`… (the audit log's kinds).
    pub kind: &'static str,
    /// What was wrong, for the investigator.
    pub reason: String,
    /// The signers whose signatures verified, when the refusal came after that.
    pub signers: Vec<mig_pgp::Verified>,
}

/// Signatures already acted on. Each verified signature is remembered by what it means
/// (the signed text, the signer, and the signature's own hashed metadata: see
/// [`mig_pgp::Verified::meaning`]), never by how it was encoded: the same signature
/// re-armored, without its CRC, with other whitespace or another unhashed area is the same
/// entry. A signature counts once: an action that carries any signature already used by
/// another command is a replay, so dropping one of two signers does not make a new action
/// either. The action id is not signed, so a replay under a new id is still recognised.
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

/// The replay keys of a verified action: one per signature, by meaning.
pub fn replay_keys(action: &Action, signers: &[mig_pgp::Verified]) -> Vec<String> {
    let text_digest = Sha256::digest(action.signing_text().as_bytes());
    signers
        .iter()
        .map(|s| {
            let mut h = Sha256::new();
            h.update(text_digest);
            h.update(s.meaning);
            hex(&h.finalize())
        })
        .collect()
}

/// How earlier agents keyed their replay memory (the raw signature text included).
fn legacy_digest(a: &Action) -> String {
    let mut h = Sha256::new();
    h.update(a.signing_text().as_bytes());
    for s in &a.pgpsignatures {
        h.update(b"\n");
        h.update(s.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Gate {
    pub fn new(keyring: Keyring, acl: Acl, state_dir: &std::path::Path) -> Gate {
        Gate {
            trust: RwLock::new(Arc::new(Trust { keyring, acl })),
            replay: Mutex::new(ReplayMemory::load(state_dir.join("replay.json"))),
        }
    }

    /// From now on, trust these (commands being checked finish with what they started with).
    pub fn replace_trust(&self, keyring: Keyring, acl: Acl) {
        *self.trust.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Trust { keyring, acl });
    }

    fn trust(&self) -> Arc<Trust> {
        self.trust.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Everything but the replay check: the action is valid and inside its window, its
    /// signatures verify, and the signers weigh enough for every module — for a schedule,
    /// for every module it runs too. Returns the action with its parameters decompressed.
    /// A held schedule is checked again with this before every run, so a key removed from
    /// the keyring or the ACL stops the schedules it signed.
    pub fn verify(
        &self,
        action: &Action,
        now: GoTime,
    ) -> Result<(Action, VerifiedAction), Refused> {
        let trust = self.trust();
        let mut verified = verify_action(
            action,
            &trust.keyring,
            Some(&trust.acl),
            now,
            Window::Enforce,
        )
        .map_err(|e| {
            let (kind, reason) = (e.kind(), e.to_string());
            let signers = match e {
                mig_pgp::Refusal::Acl { signers, .. } => signers,
                _ => Vec::new(),
            };
            Refused {
                kind,
                reason,
                signers,
            }
        })?;
        let mut decompressed = action.clone();
        if let Err(e) = decompressed.decompress_operations() {
            return Err(Refused {
                kind: "invalid",
                reason: format!("invalid action: {e}"),
                signers: verified.signers,
            });
        }
        let fingerprints: Vec<String> = verified
            .signers
            .iter()
            .map(|s| s.fingerprint.clone())
            .collect();
        let grants = query_table_grants(&trust.acl, &fingerprints, &decompressed.operations)
            .and_then(|mut grants| {
                grants.extend(schedule_grants(
                    &trust.acl,
                    &fingerprints,
                    &decompressed.operations,
                )?);
                Ok(grants)
            });
        match grants {
            Ok(grants) => verified.grants.extend(grants),
            Err(reason) => {
                return Err(Refused {
                    kind: "acl",
                    reason,
                    signers: verified.signers,
                })
            }
        }
        Ok((decompressed, verified))
    }

    pub fn check(&self, command: &Command, now: GoTime) -> Decision {
        let action = &command.action;
        let (decompressed, verified) = match self.verify(action, now) {
            Ok(v) => v,
            Err(Refused {
                kind,
                reason,
                signers,
            }) => {
                return Decision::Refuse {
                    kind,
                    reason,
                    signers,
                }
            }
        };
        let keys = replay_keys(action, &verified.signers);
        {
            let mut memory = self.replay.lock().unwrap_or_else(|p| p.into_inner());
            memory.prune(now.unix_millis());
            let mut earlier: Vec<u64> = keys
                .iter()
                .filter_map(|k| memory.seen.get(k))
                .map(|s| s.command_id)
                .collect();
            // Earlier agents remembered whole actions by their raw text: what they ran
            // stays refused after an upgrade.
            if let Some(old) = memory.seen.get(&legacy_digest(action)) {
                if old.command_id != command.id {
                    earlier.push(old.command_id);
                }
            }
            if !earlier.is_empty() {
                if earlier.len() == keys.len() && earlier.iter().all(|id| *id == command.id) {
                    return Decision::AlreadySeen;
                }
                let first = earlier
                    .iter()
                    .find(|id| **id != command.id)
                    .unwrap_or(&earlier[0]);
                return Decision::Refuse {
                    signers: verified.signers,
                    kind: "replay",
                    reason: format!(
                        "replay refused: a signature of this action was already used (command {first})"
                    ),
                };
            }
            for key in keys {
                memory.seen.insert(
                    key,
                    Seen {
                        command_id: command.id,
                        expire_ms: action.expireafter.unix_millis(),
                    },
                );
            }
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
/// a table without such a permission needs nothing more — except a table that reaches past
/// the host (the Docker daemon, the network), which runs only where the ACL names it. The
/// tables are those the SQL statement reads, found by preparing it (nothing runs). Returns
/// the grants, for the audit.
pub fn query_table_grants(
    acl: &Acl,
    signers: &[String],
    operations: &[mig_core::Operation],
) -> Result<Vec<mig_core::Grant>, String> {
    let has_table_permissions = acl
        .permissions()
        .keys()
        .any(|k| k.starts_with(QUERY_TABLE_PERMISSION));
    let mut grants = Vec::new();
    for (i, op) in operations.iter().enumerate() {
        if op.module != "query" {
            continue;
        }
        let tables = match mig_modules::query::tables_read(&op.parameters) {
            Ok(tables) => tables,
            // A statement that cannot be read cannot run either (and so reaches nothing);
            // but where tables have permissions, refusing keeps one from being skipped by a
            // statement we failed to read.
            Err(_) if !has_table_permissions => continue,
            Err(e) => return Err(format!("operations[{i}]: the tables this query reads cannot be told, so their ACL permissions cannot be checked: {e}")),
        };
        for table in tables {
            let name = format!("{QUERY_TABLE_PERMISSION}{table}");
            match acl.check_exact(&name, signers) {
                Some(result) => {
                    grants.push(result.map_err(|e| {
                        format!("operations[{i}]: the query reads table {table}: {e}")
                    })?)
                }
                None => {
                    if let Some(reach) = reach_past_host(&table) {
                        return Err(format!(
                            "operations[{i}]: the query reads table {table}, which {reach}: it runs only where the ACL grants it by name, with a '{name}' permission"
                        ));
                    }
                }
            }
        }
    }
    Ok(grants)
}

/// A schedule runs other modules at every interval: the signers must weigh enough for each of
/// them (and for the tables their queries read) as if they were signed one by one, on top of
/// the `schedule` permission `verify_action` checked. A schedule action holds its schedule
/// operation and nothing else. Returns the grants, for the audit.
pub fn schedule_grants(
    acl: &Acl,
    signers: &[String],
    operations: &[mig_core::Operation],
) -> Result<Vec<mig_core::Grant>, String> {
    use mig_core::schedule::SCHEDULE_MODULE;
    if !operations.iter().any(|o| o.module == SCHEDULE_MODULE) {
        return Ok(Vec::new());
    }
    if operations.len() != 1 {
        return Err(format!(
            "a schedule action holds one {SCHEDULE_MODULE} operation and nothing else ({} operations)",
            operations.len()
        ));
    }
    let plan = mig_modules::schedule::check_json(&operations[0].parameters)
        .map_err(|e| format!("operations[0] (schedule): {e}"))?;
    let inner: Vec<mig_core::Operation> = plan
        .params
        .operations
        .iter()
        .map(|o| mig_core::Operation::new(&o.module, o.parameters.clone()))
        .collect();
    let mut grants = Vec::new();
    for op in &inner {
        grants.push(
            acl.check_module(&op.module, signers)
                .map_err(|e| format!("the schedule runs module {}: {e}", op.module))?,
        );
    }
    grants.extend(
        query_table_grants(acl, signers, &inner).map_err(|e| format!("the schedule's {e}"))?,
    );
    Ok(grants)
}

/// What a table reaches past the host, in words; `None` for tables that read the host only.
fn reach_past_host(table: &str) -> Option<&'static str> {
    use mig_modules::query::schema::Reach;
    match mig_modules::query::lookup_table(table)?.reach {
        Reach::Host => None,
        Reach::DockerDaemon => Some("talks to the Docker daemon"),
        Reach::Network => Some("reaches other machines over the network"),
    }
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

    /// A gate trusting two fresh investigators (weight 1 each, one signature needed), and
    /// their signers.
    fn two_investigators(dir: &std::path::Path) -> (Gate, Vec<mig_pgp::KeySigner>) {
        use mig_pgp::keygen::{generate_key, KeyAlgorithm};
        use mig_pgp::Signer;
        let mut keyring = Keyring::new();
        let mut signers = Vec::new();
        let mut investigators = serde_json::Map::new();
        for name in ["Alice", "Bob"] {
            let key = generate_key(
                &format!("{name} <x@example.com>"),
                KeyAlgorithm::Ed25519,
                false,
            )
            .unwrap();
            let signer = mig_pgp::KeySigner::new(key, None).unwrap();
            keyring
                .add_bytes(signer.public_key_armored().unwrap().as_bytes(), name)
                .unwrap();
            investigators.insert(
                name.into(),
                json!({"fingerprint": signer.fingerprint(), "weight": 1}),
            );
            signers.push(signer);
        }
        let acl = Acl::from_json(
            json!({"default": {"minimumweight": 1, "investigators": investigators}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        (Gate::new(keyring, acl, dir), signers)
    }

    fn signed_action(signers: &[&mig_pgp::KeySigner]) -> Action {
        use mig_pgp::Signer;
        let now = chrono::Utc::now();
        let mut a = Action {
            id: 1,
            name: "replay test".into(),
            target: "TRUE".into(),
            validfrom: GoTime(now - chrono::Duration::seconds(60)),
            expireafter: GoTime(now + chrono::Duration::seconds(600)),
            operations: vec![Operation::new("file", json!({"searches": {}}))],
            syntaxversion: 2,
            ..Default::default()
        };
        for s in signers {
            let sig = s.sign(a.signing_text().as_bytes()).unwrap();
            a.pgpsignatures.push(sig);
        }
        a
    }

    fn decide(gate: &Gate, id: u64, action: &Action) -> &'static str {
        let command = Command {
            id,
            action: action.clone(),
            ..Default::default()
        };
        match gate.check(&command, GoTime::now()) {
            Decision::Run { .. } => "run",
            Decision::AlreadySeen => "already seen",
            Decision::Refuse { kind, reason, .. } => {
                assert!(
                    kind != "replay" || reason.contains("replay refused"),
                    "{reason}"
                );
                kind
            }
        }
    }

    #[test]
    fn a_signature_counts_once_however_it_is_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let (gate, signers) = two_investigators(dir.path());
        let action = signed_action(&[&signers[0], &signers[1]]);
        assert_eq!(decide(&gate, 1, &action), "run");
        assert_eq!(decide(&gate, 1, &action), "already seen", "a redelivery");

        let sig = &action.pgpsignatures[0];
        let packet = mig_pgp::armor::decode_signature(sig).unwrap();
        let body = sig.rsplit_once('=').unwrap().0.to_string();
        let armored = {
            use pgp::composed::DetachedSignature;
            let d: DetachedSignature = packet;
            d.to_armored_string(Default::default()).unwrap()
        };
        for (how, encoded) in [
            ("armored", armored),
            ("without CRC", body),
            ("with whitespace", format!(" {sig}\n")),
        ] {
            let mut again = action.clone();
            again.pgpsignatures[0] = encoded;
            assert_eq!(decide(&gate, 2, &again), "replay", "{how}");
        }
        // One of the two signatures alone (weight 1 suffices) is still a replay.
        for keep in 0..2 {
            let mut alone = action.clone();
            alone.pgpsignatures = vec![action.pgpsignatures[keep].clone()];
            assert_eq!(decide(&gate, 3, &alone), "replay", "signature {keep} alone");
        }
        // The same command id carrying one more signature is no redelivery either.
        let mut more = signed_action(&[&signers[0]]);
        assert_eq!(decide(&gate, 4, &more), "run");
        let extra = {
            use mig_pgp::Signer;
            signers[1].sign(more.signing_text().as_bytes()).unwrap()
        };
        more.pgpsignatures.push(extra);
        assert_eq!(decide(&gate, 4, &more), "replay");

        // A new signature of the same text is a new decision by its signer: it runs.
        let fresh = signed_action(&[&signers[0]]);
        assert_eq!(decide(&gate, 5, &fresh), "run");

        // The memory survives a restart.
        let (reloaded, _) = two_investigators(dir.path());
        let reloaded = Gate {
            trust: RwLock::new(gate.trust()),
            replay: reloaded.replay,
        };
        assert_eq!(decide(&reloaded, 6, &fresh), "replay");
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

    #[test]
    fn tables_that_reach_past_the_host_run_only_where_the_acl_names_them() {
        let one = [BOB.to_string()];
        let plain = Acl::from_json(
            json!({"default": {"minimumweight": 1, "investigators": {"Bob": {"fingerprint": BOB, "weight": 1}}}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        // Not named: refused, however the table is reached.
        for sql in [
            "SELECT * FROM docker_containers",
            "SELECT pid FROM processes WHERE pid IN (SELECT pid FROM docker_containers)",
            "WITH c AS (SELECT id FROM docker_containers) SELECT * FROM docker_container_envs JOIN c USING (id)",
        ] {
            let err = query_table_grants(&plain, &one, &query(sql)).unwrap_err();
            assert!(
                err.contains("talks to the Docker daemon") && err.contains("'query:docker_"),
                "{sql}: {err}"
            );
        }
        // Named, with the weight the permission asks: allowed, and recorded.
        let named = Acl::from_json(
            json!({
                "default": {"minimumweight": 1, "investigators": {"Bob": {"fingerprint": BOB, "weight": 1}}},
                "query:docker_containers": {"minimumweight": 2, "investigators": {
                    "Bob": {"fingerprint": BOB, "weight": 1},
                    "John": {"fingerprint": JOHN, "weight": 1}}}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let two = [BOB.to_string(), JOHN.to_string()];
        let sql = "SELECT id, name FROM docker_containers";
        assert!(query_table_grants(&named, &one, &query(sql))
            .unwrap_err()
            .contains("ACL weight 1 < 2"));
        let grants = query_table_grants(&named, &two, &query(sql)).unwrap();
        assert_eq!(grants[0].permission, "query:docker_containers");
        // Host tables are not concerned.
        assert!(
            query_table_grants(&plain, &one, &query("SELECT * FROM processes"))
                .unwrap()
                .is_empty()
        );
    }
}
