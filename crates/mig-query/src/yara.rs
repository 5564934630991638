//! The YARA engine the yara tables (`yara_file`, `yara`, `yara_process`) scan with. It is not
//! built here: the program embedding the engine provides it (mig-modules registers yara-x's,
//! the one its yara module uses), so that both scan the same way and the engine, a large
//! build, is linked once. Without one the tables say so.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// The rule's identifier.
    pub rule: String,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// Each match of each of the rule's strings: its identifier (`$a`) and where it matched
    /// (a file offset, or a process address).
    pub strings: Vec<(String, u64)>,
}

/// Compiled rules.
pub trait CompiledRules {
    /// The rules that match the file at `path`.
    fn scan_file(&self, path: &Path, timeout: Duration) -> Result<Vec<RuleMatch>, String>;
    /// The rules that match the readable memory of process `pid`.
    fn scan_process(&self, pid: u32, timeout: Duration) -> Result<Vec<RuleMatch>, String>;
}

/// A YARA compiler.
pub trait Engine: Send + Sync {
    /// Compiles rules' source text; the error quotes the compiler.
    fn compile(&self, source: &str) -> Result<Box<dyn CompiledRules>, String>;
}

static ENGINE: OnceLock<&'static dyn Engine> = OnceLock::new();

/// Makes `engine` the one the yara tables use (the first registration stays).
pub fn register(engine: &'static dyn Engine) {
    let _ = ENGINE.set(engine);
}

/// The registered engine, or why there is none.
pub(crate) fn engine() -> Result<&'static dyn Engine, String> {
    ENGINE.get().copied().ok_or_else(|| {
        "this build has no YARA engine (mig-modules was built without the `yara` feature)".into()
    })
}
