//! MIG's module protocol: the agent starts `mig-agent -m <module>`, writes one JSON line
//! `{"class":"parameters","parameters":{…}}` (with `"compressed":true` when the parameters are
//! base64(gzip(json))) to its stdin, and reads one ModuleResult JSON from its stdout.
//!
//! Invalid input is an ordinary failed result (`success: false`, exit status 0); a non-zero
//! exit means the module itself crashed.

use crate::{lookup, Context, ModuleResult};
use serde::Deserialize;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The largest parameters message accepted on stdin.
pub const MAX_MESSAGE: u64 = 16 << 20;

/// Exit status when the module panicked.
pub const EXIT_CRASH: i32 = 3;
/// Exit status when the module does not exist.
pub const EXIT_UNKNOWN_MODULE: i32 = 2;

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    class: String,
    #[serde(default)]
    parameters: Value,
    #[serde(default)]
    compressed: bool,
}

/// Builds the message the agent writes to a module's stdin.
pub fn parameters_message(parameters: &Value, compressed: bool) -> String {
    let mut msg = serde_json::json!({"class": "parameters", "parameters": parameters});
    if compressed {
        msg["compressed"] = Value::Bool(true);
    }
    msg.to_string()
}

/// Reads the parameters message, calls `confine` with the sandbox they need, runs `module`,
/// and writes the result (JSON, or MIG's human form when `pretty`). Returns the process exit
/// status.
pub fn run_module(
    module: &str,
    input: impl BufRead,
    mut output: impl Write,
    pretty: bool,
    ctx: &Context,
    confine: impl FnOnce(crate::SandboxNeeds),
) -> i32 {
    let Some(m) = lookup(module) else {
        let r = ModuleResult::failure(format!("unknown module {module:?}"));
        write_result(&mut output, &r, None);
        return EXIT_UNKNOWN_MODULE;
    };
    // The sandbox is chosen from the parameters (a query that reads the docker tables needs
    // the daemon's socket), so it closes once they are read and before anything runs.
    let params = read_parameters(input);
    confine(match &params {
        Ok(p) => m.sandbox_for(p),
        Err(_) => m.sandbox(),
    });
    let result = match params {
        Ok(params) => match catch_unwind(AssertUnwindSafe(|| m.run_json(&params, ctx))) {
            Ok(r) => r,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let r = ModuleResult::failure(format!("module {module} crashed: {what}"));
                write_result(&mut output, &r, None);
                return EXIT_CRASH;
            }
        },
        Err(e) => ModuleResult::failure(e),
    };
    write_result(&mut output, &result, pretty.then_some(m));
    0
}

fn read_parameters(input: impl BufRead) -> Result<Value, String> {
    let mut line = Vec::new();
    input
        .take(MAX_MESSAGE + 1)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("cannot read the parameters message: {e}"))?;
    if line.len() as u64 > MAX_MESSAGE {
        return Err(format!(
            "parameters message is larger than {MAX_MESSAGE} bytes"
        ));
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(
            "no parameters message on stdin (expected {\"class\":\"parameters\",…})".into(),
        );
    }
    let msg: Message =
        serde_json::from_slice(&line).map_err(|e| format!("invalid parameters message: {e}"))?;
    if msg.class != "parameters" {
        return Err(format!(
            "unexpected message class {:?}, expected \"parameters\"",
            msg.class
        ));
    }
    if msg.compressed {
        let Value::String(encoded) = &msg.parameters else {
            return Err("compressed parameters must be a base64 string".into());
        };
        return mig_core::action::decode_compressed(encoded);
    }
    Ok(msg.parameters)
}

fn write_result(
    output: &mut impl Write,
    result: &ModuleResult,
    pretty: Option<&dyn crate::DynModule>,
) {
    let text = match pretty {
        Some(m) => m.pretty(result, false).join("\n"),
        None => serde_json::to_string(result).unwrap_or_default(),
    };
    // A closed stdout means the agent is gone; nothing useful is left to do with the error.
    let _ = writeln!(output, "{text}");
    let _ = output.flush();
}
