//! After an upgrade, the scheduler retires the old agent process, as MIG's design says: the
//! upgrade's result names the old agent's pid and version; the scheduler signs an
//! `agentdestroy` action for exactly that process with **its own key** and submits it like any
//! investigator's action. Agents trust that key for `agentdestroy` alone (their ACL says so),
//! so a server holding it can stop an old agent and nothing else.
//!
//! When the agentdestroy result comes back, the scheduler checks that the old process is
//! gone (one agent process left on the host) and logs a lingering one; it does not guess
//! further.

use crate::api::auth::Caller;
use crate::app::{now_ms, App};
use mig_core::{Action, GoTime, Operation};
use mig_pgp::keygen::{armored_secret, generate_key, KeyAlgorithm};
use mig_pgp::{KeySigner, Signer};
use mig_store::commands::{IncomingResult, StoredResult};
use mig_store::investigators::permission;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::{info, warn};

/// The name the scheduler's key is registered under as an investigator.
pub const SCHEDULER_NAME: &str = "MIG Scheduler";
/// How long the agentdestroy action stays valid.
const RETIRE_VALIDITY: chrono::Duration = chrono::Duration::minutes(10);

/// The scheduler's signing key, and who it is in the investigators table.
pub struct SchedulerKey {
    signer: KeySigner,
    caller: Caller,
}

/// The private key file (`scheduler.key` in the configuration, or the data directory's), and
/// its public half beside it (`scheduler.pub.asc`), which operators add to agents' keyrings.
pub fn key_paths(app_config: &crate::config::Config) -> (PathBuf, PathBuf) {
    let key = app_config
        .scheduler
        .key
        .clone()
        .unwrap_or_else(|| app_config.data_dir.join("scheduler.key.asc"));
    let public = key.with_file_name("scheduler.pub.asc");
    (key, public)
}

/// Loads the scheduler's key, creating it on first start, and registers it as an
/// investigator (so its actions go through the same checks as anyone's).
pub async fn load_or_create(app: &App) -> anyhow::Result<SchedulerKey> {
    let signer = ensure_key(&app.config)?;
    let public = signer.public_key_armored()?;
    let fingerprint = signer.fingerprint().to_string();
    let investigator = match app.store.investigator_by_fingerprint(&fingerprint).await? {
        Some(i) => i,
        None => {
            let created = app
                .store
                .create_investigator(
                    SCHEDULER_NAME,
                    &public,
                    &fingerprint,
                    permission::INVESTIGATOR,
                    now_ms(),
                )
                .await;
            app.invalidate_keys();
            match created {
                Ok(i) => i,
                // Another scheduler process sharing the key registered it a moment ago.
                Err(e) => app
                    .store
                    .investigator_by_fingerprint(&fingerprint)
                    .await?
                    .ok_or(e)?,
            }
        }
    };
    Ok(SchedulerKey {
        signer,
        caller: Caller {
            id: investigator.id,
            name: investigator.name,
            fingerprint,
            permission: investigator.permission,
        },
    })
}

/// The scheduler's key, made on first use with its public half beside it.
pub fn ensure_key(config: &crate::config::Config) -> anyhow::Result<KeySigner> {
    let (key_path, public_path) = key_paths(config);
    if !key_path.exists() {
        // Several scheduler processes may share a data directory and start together: the
        // first writes the key (create_new), the others read it.
        let key = generate_key(
            &format!(
                "{SCHEDULER_NAME} <scheduler@{}>",
                crate::scheduler::hostname()
            ),
            KeyAlgorithm::Ed25519,
            false,
        )?;
        match write_private(&key_path, armored_secret(&key)?.as_bytes()) {
            Err(e) if key_path.exists() => {
                tracing::debug!("another process made the scheduler's key first: {e:#}")
            }
            other => other?,
        }
        info!(
            "created the scheduler's key {} (agents trust it for agentdestroy only: docs/upgrade.md)",
            key_path.display()
        );
    }
    let signer = KeySigner::from_file(&key_path, None)?;
    let public = signer.public_key_armored()?;
    if std::fs::read_to_string(&public_path).ok().as_deref() != Some(public.as_str()) {
        std::fs::write(&public_path, &public)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", public_path.display()))?;
    }
    Ok(signer)
}

/// Writes a private file whole under its final name, or not at all: written aside, then
/// linked into place (which fails if the name exists), so a process reading it never sees it
/// half written.
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let aside = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&aside)
        .and_then(|mut f| f.write_all(data).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::hard_link(&aside, path));
    let _ = std::fs::remove_file(&aside);
    written.map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
}

/// What a stored result may call for.
enum Follow {
    /// An upgrade succeeded: the old process must go.
    Retire {
        agent_id: u64,
        pid: u64,
        version: String,
        new_version: String,
    },
    /// An agentdestroy answered: did the old process go?
    Check {
        agent_id: u64,
        result: mig_core::ModuleResult,
    },
}

/// Looks at freshly stored results for the ones the upgrade protocol follows up on. Cheap:
/// only results shaped like an upgrade's or an agentdestroy's go further, and the action is
/// read from the database before anything is done.
pub fn after_results(app: &Arc<App>, results: &[IncomingResult], stored: &[StoredResult]) {
    let Some(key) = app.scheduler_key.get().cloned() else {
        return;
    };
    // Results shaped like an upgrade's or an agentdestroy's are rare: look only at those
    // (a batch holds up to a thousand results; this runs on every batch).
    let candidates = results.iter().filter(|r| match r.results.as_slice() {
        [one] => one.elements.get("oldpid").is_some() || one.elements.get("killed").is_some(),
        _ => false,
    });
    for r in candidates {
        let Some(s) = stored.iter().find(|s| s.command_id == r.command_id) else {
            continue;
        };
        let follow = match r.results.as_slice() {
            [one] if one.elements.get("oldpid").is_some() => {
                let e = &one.elements;
                let pid = e["oldpid"].as_f64().unwrap_or(0.0);
                let version = e["oldversion"].as_str().unwrap_or_default();
                if s.status != mig_core::command::status::SUCCESS || pid < 2.0 || version.is_empty()
                {
                    continue;
                }
                Follow::Retire {
                    agent_id: r.agent_id,
                    pid: pid as u64,
                    version: version.to_string(),
                    new_version: e["newversion"].as_str().unwrap_or_default().to_string(),
                }
            }
            // An agentdestroy that ran (a refused one shows in `mig upgrade status`; following
            // every failed result would cost a database read each).
            [one] if one.elements.get("killed").is_some() => Follow::Check {
                agent_id: r.agent_id,
                result: one.clone(),
            },
            _ => continue,
        };
        let app = app.clone();
        let key = key.clone();
        let action_id = s.action_id;
        tokio::spawn(async move {
            if let Err(e) = follow_up(&app, &key, action_id, follow).await {
                warn!("upgrade follow-up of action {action_id}: {e:#}");
            }
        });
    }
}

async fn follow_up(
    app: &App,
    key: &SchedulerKey,
    action_id: u64,
    follow: Follow,
) -> anyhow::Result<()> {
    let action = app.store.get_action(action_id).await?;
    let mut action = action;
    if action.decompress_operations().is_err() {
        return Ok(());
    }
    let modules: Vec<String> = action.operations.iter().map(|o| o.module.clone()).collect();
    match follow {
        Follow::Retire {
            agent_id,
            pid,
            version,
            new_version,
        } if modules == ["upgrade"] => {
            let agent = app.store.get_agent(agent_id).await?;
            let retire = retire_action(key, &agent.name, agent_id, pid, &version, &new_version)?;
            let stored = crate::api::actions::submit(app, &key.caller, retire)
                .await
                .map_err(|e| anyhow::anyhow!("the agentdestroy action was refused: {}", e.1))?;
            info!(
                "agent {} upgraded from {version} to {new_version}: retiring its old process {pid} (action {})",
                agent.name, stored.id
            );
        }
        Follow::Check { agent_id, result }
            if modules == ["agentdestroy"] && action.name.starts_with(RETIRE_PREFIX) =>
        {
            let agent = app.store.get_agent(agent_id).await?;
            if result.success && result.elements["killed"].as_bool() == Some(true) {
                info!(
                    "agent {}: old process {} stopped and {} removed; one agent process left",
                    agent.name,
                    result.elements["pid"],
                    result.elements["removed"].as_str().unwrap_or("no binary")
                );
            } else {
                warn!(
                    "agent {}: the old agent process is still running after its upgrade ({}): see action {action_id}",
                    agent.name,
                    if result.errors.is_empty() {
                        format!("it runs version {}", result.elements["version"])
                    } else {
                        result.errors.join("; ")
                    }
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every action the scheduler signs to retire an agent is named so.
pub const RETIRE_PREFIX: &str = "retire old agent";

/// The agentdestroy action for one old agent process, signed by the scheduler.
fn retire_action(
    key: &SchedulerKey,
    agent_name: &str,
    agent_id: u64,
    pid: u64,
    version: &str,
    new_version: &str,
) -> anyhow::Result<Action> {
    let now = chrono::Utc::now();
    let mut action = Action {
        name: format!(
            "{RETIRE_PREFIX} {pid} ({version}) on {agent_name}, upgraded to {new_version}"
        ),
        target: format!("id = {agent_id}"),
        validfrom: GoTime(now - chrono::Duration::minutes(1)),
        expireafter: GoTime(now + RETIRE_VALIDITY),
        operations: vec![Operation::new(
            "agentdestroy",
            serde_json::json!({"pid": pid, "version": version}),
        )],
        syntaxversion: mig_core::action::SYNTAX_VERSION,
        ..Default::default()
    };
    let signature = key.signer.sign(action.signing_text().as_bytes())?;
    action.pgpsignatures.push(signature);
    Ok(action)
}
