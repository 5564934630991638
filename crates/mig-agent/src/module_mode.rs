//! `mig-agent -m <module>`: MIG's module protocol on stdin/stdout.

use mig_modules::{protocol, Context};
use std::process::ExitCode;
use std::time::Duration;

/// The agent tells a module child how long it has, so the module can stop cleanly and
/// return partial results just before the agent would kill it.
pub const DEADLINE_ENV: &str = "MIG_MODULE_TIMEOUT_MS";

pub fn run(module: &str, pretty: bool, sandbox: bool) -> ExitCode {
    if sandbox {
        let needs = mig_modules::lookup(module)
            .map(|m| m.sandbox())
            .unwrap_or(mig_modules::SandboxNeeds::READ_ONLY);
        for warning in crate::sandbox::confine(needs) {
            eprintln!("sandbox: {warning}");
        }
    }
    let timeout = std::env::var(DEADLINE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let ctx = Context::new(timeout);
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    let status = protocol::run_module(module, stdin, stdout, pretty, &ctx);
    ExitCode::from(status as u8)
}
