//! `mig-agent -m <module>`: MIG's module protocol on stdin/stdout.

use mig_modules::{protocol, Context, SandboxNeeds};
use std::process::ExitCode;
use std::time::Duration;

/// The agent tells a module child how long it has, so the module can stop cleanly and
/// return partial results just before the agent would kill it.
pub const DEADLINE_ENV: &str = "MIG_MODULE_TIMEOUT_MS";
/// How many bytes of JSON the module's result may take (its share of a relay message).
pub const RESULT_BYTES_ENV: &str = "MIG_MODULE_RESULT_BYTES";

pub fn run(module: &str, pretty: bool, sandbox: bool) -> ExitCode {
    // The module's sandbox for its parameters: it closes as soon as they are read.
    let confine = |needs: SandboxNeeds| {
        if !sandbox {
            return;
        }
        let needs = test_sandbox(module).unwrap_or(needs);
        for warning in crate::sandbox::confine(needs) {
            eprintln!("sandbox: {warning}");
        }
    };
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
    let status = protocol::run_module(module, stdin, stdout, pretty, &ctx, confine);
    ExitCode::from(status as u8)
}

/// The test suite's exploited module (`testescape`, in test builds only) runs in the sandbox
/// of the module this variable names, so that every module's sandbox gets attacked. Any other
/// module runs in its own, whatever the environment says.
const SANDBOX_OF_ENV: &str = "MIG_TEST_SANDBOX_OF";
/// With it, the parameters (JSON) that module's sandbox is chosen for: the exploited module
/// then gets the sandbox a query reading the docker tables gets, say.
const SANDBOX_PARAMS_ENV: &str = "MIG_TEST_SANDBOX_PARAMS";

/// The sandbox `testescape` borrows; `None` for every other module.
fn test_sandbox(module: &str) -> Option<SandboxNeeds> {
    if module != "testescape" {
        return None;
    }
    let other = mig_modules::lookup(&std::env::var(SANDBOX_OF_ENV).ok()?)?;
    let params = std::env::var(SANDBOX_PARAMS_ENV)
        .ok()
        .and_then(|p| serde_json::from_str(&p).ok());
    Some(params.map_or(other.sandbox(), |p| other.sandbox_for(&p)))
}
