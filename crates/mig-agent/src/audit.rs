//! The endpoint's audit log (MIG's privacy promise): every action received, who signed it,
//! what it asked (each operation's module and parameters), whether it was refused, and for
//! what runs an entry when it starts and another when it ends (with a summary of what it
//! found), appended as JSON lines to a file the machine's users can read. A run the agent
//! never finished gets an `interrupted` entry when the agent starts again.
//! `mig-agent audit` prints it.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Entry {
    pub time: String,
    pub command: u64,
    pub action: u64,
    pub name: String,
    pub signers: Vec<Signer>,
    pub modules: Vec<String>,
    /// `started`, `ran`, `refused` or `interrupted`.
    pub outcome: String,
    /// What the action asked of each module (written when it starts or is refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationRecord>,
    /// What each operation answered (written when the run ends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultSummary>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
}

/// Parameters larger than this are logged as their beginning, size and SHA-256.
const MAX_LOGGED_PARAMETERS: usize = 64 << 10;

/// One operation as the log shows it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct OperationRecord {
    pub module: String,
    pub parameters: serde_json::Value,
}

impl OperationRecord {
    pub fn new(op: &mig_core::Operation) -> OperationRecord {
        let text = mig_core::gojson::to_string(&op.parameters);
        let parameters = if text.len() <= MAX_LOGGED_PARAMETERS {
            op.parameters.clone()
        } else {
            use sha2::Digest;
            let cut = (0..=MAX_LOGGED_PARAMETERS)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            serde_json::json!({
                "truncated": &text[..cut],
                "bytes": text.len(),
                "sha256": format!("{:x}", sha2::Sha256::digest(text.as_bytes())),
            })
        };
        OperationRecord {
            module: op.module.clone(),
            parameters,
        }
    }
}

/// What one operation answered: no element (they may name the user's files), only whether
/// it succeeded, found something, and how many errors it reported.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ResultSummary {
    pub module: String,
    pub success: bool,
    pub foundanything: bool,
    pub errors: usize,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Signer {
    pub name: String,
    pub fingerprint: String,
}

pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: &Path) -> AuditLog {
        AuditLog {
            path: path.to_path_buf(),
        }
    }

    /// Appends one entry. Failing to audit is logged, never silent.
    pub fn record(&self, entry: &Entry) {
        if let Err(e) = self.append(entry) {
            tracing::error!("audit log {}: {e:#}", self.path.display());
        }
    }

    fn append(&self, entry: &Entry) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        // One write of one line: appends from concurrent commands never interleave.
        f.write_all(&line)?;
        Ok(())
    }
}

/// `mig-agent audit`: the log, for humans.
pub fn print(path: &Path) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "no audit log yet at {} (nothing was received)",
                path.display()
            );
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => {
                let who: Vec<String> = e
                    .signers
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.fingerprint))
                    .collect();
                let mut out = format!(
                    "{}  {:<8} action {} {:?}  modules: {}  signed by: {}",
                    e.time,
                    e.outcome,
                    e.action,
                    e.name,
                    e.modules.join(", "),
                    if who.is_empty() {
                        "-".into()
                    } else {
                        who.join(", ")
                    }
                );
                if !e.status.is_empty() {
                    out.push_str(&format!("  status: {}", e.status));
                }
                if !e.reason.is_empty() {
                    out.push_str(&format!("  reason: {}", e.reason));
                }
                for op in &e.operations {
                    out.push_str(&format!(
                        "\n    {} {}",
                        op.module,
                        mig_core::gojson::to_string(&op.parameters)
                    ));
                }
                for r in &e.results {
                    out.push_str(&format!(
                        "\n    {}: {}, {}, {} error(s)",
                        r.module,
                        if r.success { "succeeded" } else { "failed" },
                        if r.foundanything {
                            "found something"
                        } else {
                            "found nothing"
                        },
                        r.errors
                    ));
                }
                println!("{out}");
            }
            Err(_) => println!("(unreadable entry) {line}"),
        }
    }
    Ok(())
}
