//! `mig-agent -i action.json`: run an action file on this machine, without the relay, and
//! print the command with its results. For investigators testing modules and parameters;
//! signatures are not required (whoever runs this already has a shell on the machine).

use crate::executor::Executor;
use anyhow::Context;
use mig_core::{Action, Command, GoTime};
use std::path::Path;
use std::time::Duration;

pub async fn run_file(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut action = Action::from_json(&bytes).with_context(|| format!("{}", path.display()))?;
    if action.operations.is_empty() {
        anyhow::bail!(
            "{}: operations: is empty, expected at least one operation",
            path.display()
        );
    }
    if action.operations.len() > mig_core::action::MAX_OPERATIONS {
        anyhow::bail!(
            "{}: operations: {} operations, more than the {} an action may have",
            path.display(),
            action.operations.len(),
            mig_core::action::MAX_OPERATIONS
        );
    }
    action
        .decompress_operations()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let executor = Executor {
        exe: std::env::current_exe()?,
        module_timeout: Duration::from_secs(300),
        memory_bytes: 1024 << 20,
        cgroup_procs: None,
        slots: tokio::sync::Semaphore::new(crate::executor::default_slots()),
        max_message: mig_relay::protocol::DEFAULT_MAX_MESSAGE,
    };
    let start = GoTime::now();
    let mut results = Vec::new();
    let mut status = mig_core::command::status::SUCCESS;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(300);
    for outcome in executor.run_all(&action.operations, expires, &|_| ()).await {
        if status == mig_core::command::status::SUCCESS && outcome.status != status {
            status = outcome.status;
        }
        results.push(outcome.result);
    }
    let command = Command {
        id: 0,
        action,
        status: status.into(),
        results,
        starttime: start,
        finishtime: GoTime::now(),
        ..Default::default()
    };
    println!("{}", serde_json::to_string_pretty(&command)?);
    Ok(())
}
