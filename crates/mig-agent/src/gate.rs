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
    /// Refused: report why, run nothing.
    Refuse { reason: String, kind: &'static str },
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
                    return Decision::Refuse {
                        kind: e.kind(),
                        reason: e.to_string(),
                    }
                }
            };
        let digest = action_digest(action);
        {
            let mut memory = self.replay.lock().unwrap_or_else(|p| p.into_inner());
            memory.prune(now.unix_millis());
            if let Some(seen) = memory.seen.get(&digest) {
                if seen.command_id == command.id {
                    return Decision::AlreadySeen;
                }
                return Decision::Refuse {
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
        let mut action = action.clone();
        if let Err(e) = action.decompress_operations() {
            return Decision::Refuse {
                kind: "invalid",
                reason: format!("invalid action: {e}"),
            };
        }
        Decision::Run {
            action: Box::new(action),
            verified,
        }
    }
}
