//! `mig-agent -m <module>`: MIG's module protocol on stdin/stdout.

use mig_modules::{protocol, Context};
use std::process::ExitCode;
use std::time::Duration;

/// The agent tells a module child how long it has, so the module can stop cleanly and
/// return partial results just before the agent would kill it.
pub const DEADLINE_ENV: &str = "MIG_MODULE_TIMEOUT_MS";
/// How many bytes of JSON the module's result may take (its share of a relay message).
pub const RESULT_BYTES_ENV: &str = "MIG_MODULE_RESULT_BYTES";

pub fn run(module: &str, pretty: bool, sandbox: bool) -> ExitCode {
    if sandbox {
        let needs = mig_modules::lookup(&sandbox_of(module))
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
    let mut limits = mig_modules::Limits::default();
    if let Some(bytes) = std::env::var(RESULT_BYTES_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        limits.max_result_bytes = bytes;
    }
    let ctx = Context::new(timeout).with_limits(limits);
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    let status = protocol::run_module(module, stdin, stdout, pretty, &ctx);
    ExitCode::from(status as u8)
}

/// The test suite's exploited module (`testescape`, in test builds only) runs in the sandbox
/// of the module this variable names, so that every module's sandbox gets attacked. Any other
/// module runs in its own, whatever the environment says.
const SANDBOX_OF_ENV: &str = "MIG_TEST_SANDBOX_OF";

fn sandbox_of(module: &str) -> String {
    match std::env::var(SANDBOX_OF_ENV) {
        Ok(other) if module == "testescape" => other,
        _ => module.to_string(),
    }
}
