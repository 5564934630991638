//! Investigation modules: each answers one kind of question on the endpoint.
//!
//! A module is a folder with its parameters (serde + validation), its run function, its
//! `mig <module>` flags (MIG's names, parsed into the same parameters) and a pretty printer.
//! [`registry`] lists them by name. The agent runs each operation in a child process through
//! [`protocol::run_module`] (MIG's stdin/stdout protocol); `mig <module> -t local` runs them
//! in-process.

pub mod agentdestroy;
pub mod context;
pub mod file;
mod fit;
pub mod flags;
pub mod gofmt;
pub mod memory;
pub mod netstat;
/// The host facts layer, under its old name inside this crate.
pub use mig_host as os;
#[cfg(test)]
mod holder;
pub mod ping;
pub mod pkg;
pub mod protocol;
pub mod query;
pub mod scribe;
pub mod sshkey;
#[cfg(feature = "test-modules")]
pub mod testing;
pub mod timedrift;
pub mod yara;

pub use context::{Context, Limits, Stop};
pub use fit::fit_result;
pub use mig_core::ModuleResult;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// What a module needs from the sandbox the agent puts it in. Everything not asked for here
/// is refused to the module's process (docs/threat-model.md lists what each grants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxNeeds {
    /// Opens IPv4 and IPv6 sockets (ping, timedrift).
    pub network: bool,
    /// Asks the kernel over a route netlink socket (IPv6 neighbours: netstat, query).
    pub netlink: bool,
    /// Signals other processes and removes files (agentdestroy).
    pub modifies_system: bool,
    /// Reads other processes' /proc entries and memory (memory, yara, netstat's socket
    /// owners, query's process tables, agentdestroy).
    pub ptrace: bool,
}

impl SandboxNeeds {
    /// Reading files, and nothing else: most modules.
    pub const READ_ONLY: SandboxNeeds = SandboxNeeds {
        network: false,
        netlink: false,
        modifies_system: false,
        ptrace: false,
    };
}

/// A module, with its typed parameters.
pub trait Module: Send + Sync + 'static {
    /// The name in actions and on the command line (`file`, `netstat`…).
    const NAME: &'static str;
    /// One line for `mig help`.
    const ABOUT: &'static str;
    const SANDBOX: SandboxNeeds = SandboxNeeds::READ_ONLY;
    type Params: DeserializeOwned + Serialize;

    /// Checks parameters; the error names the parameter and what was expected.
    fn validate(params: &Self::Params) -> Result<(), String>;
    /// Runs the module. Failures inside the run are reported in the result, never panics.
    fn run(params: &Self::Params, ctx: &Context) -> ModuleResult;
    /// The `mig <module>` flags, MIG's names.
    const FLAGS: &'static [flags::Flag];
    /// Parses `mig <module>` flags into parameters.
    fn parse_flags(args: &[String]) -> Result<Self::Params, String>;
    /// Human-readable lines for a result, as MIG's printers write them; `found_only` leaves
    /// out "nothing found" lines, errors and statistics.
    fn pretty(result: &ModuleResult, found_only: bool) -> Vec<String>;

    /// MIG's extra privacy mode: hide what could identify the endpoint's user (file names,
    /// error texts) and keep only the answers. By default, error texts are masked.
    fn mask(result: &mut ModuleResult) {
        mask_errors(result);
    }
}

/// Replaces every error text with a placeholder, keeping their number.
pub fn mask_errors(result: &mut ModuleResult) {
    for e in &mut result.errors {
        *e = "[masked]".into();
    }
}

/// Whatever a module does, at most `max` error strings leave it (and a line saying how many
/// were dropped): the hard cap every module shares.
pub fn cap_errors(result: &mut ModuleResult, max: usize) {
    if result.errors.len() > max {
        let dropped = result.errors.len() - max;
        result.errors.truncate(max);
        result
            .errors
            .push(format!("{dropped} errors were not returned"));
    }
}

/// A module with its parameter type erased, for the registry.
pub trait DynModule: Send + Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn sandbox(&self) -> SandboxNeeds;
    /// Decodes, validates and runs; invalid parameters give `success: false` with the reason.
    fn run_json(&self, params: &Value, ctx: &Context) -> ModuleResult;
    /// Decodes and validates parameters without running.
    fn check_json(&self, params: &Value) -> Result<(), String>;
    /// Parses and validates flags into the JSON parameters an action carries.
    fn flags_to_json(&self, args: &[String]) -> Result<Value, String>;
    fn usage(&self) -> String;
    /// The names of the module's flags (for telling them from the client's global options).
    fn flag_names(&self) -> Vec<&'static str>;
    fn pretty(&self, result: &ModuleResult, found_only: bool) -> Vec<String>;
    fn mask(&self, result: &mut ModuleResult);
}

struct Erased<M: Module>(std::marker::PhantomData<M>);

impl<M: Module> Erased<M> {
    fn decode(params: &Value) -> Result<M::Params, String> {
        let p: M::Params = serde_path_to_error::deserialize(params).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner().to_string();
            if path == "." {
                format!("invalid parameters: {inner}")
            } else {
                format!("invalid parameter {path}: {inner}")
            }
        })?;
        M::validate(&p)?;
        Ok(p)
    }
}

impl<M: Module> DynModule for Erased<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn about(&self) -> &'static str {
        M::ABOUT
    }
    fn sandbox(&self) -> SandboxNeeds {
        M::SANDBOX
    }
    fn run_json(&self, params: &Value, ctx: &Context) -> ModuleResult {
        match Self::decode(params) {
            Ok(p) => {
                let mut result = M::run(&p, ctx);
                cap_errors(&mut result, ctx.limits.max_errors);
                fit_result(&mut result, ctx.limits.max_result_bytes);
                result
            }
            Err(e) => ModuleResult::failure(e),
        }
    }
    fn check_json(&self, params: &Value) -> Result<(), String> {
        Self::decode(params).map(|_| ())
    }
    fn flags_to_json(&self, args: &[String]) -> Result<Value, String> {
        let p = M::parse_flags(args)?;
        M::validate(&p)?;
        serde_json::to_value(&p).map_err(|e| e.to_string())
    }
    fn usage(&self) -> String {
        flags::usage(&format!("mig {}", M::NAME), M::FLAGS)
    }
    fn flag_names(&self) -> Vec<&'static str> {
        M::FLAGS.iter().map(|f| f.name).collect()
    }
    fn pretty(&self, result: &ModuleResult, found_only: bool) -> Vec<String> {
        M::pretty(result, found_only)
    }
    fn mask(&self, result: &mut ModuleResult) {
        M::mask(result)
    }
}

static FILE: Erased<file::File> = Erased(std::marker::PhantomData);
static NETSTAT: Erased<netstat::Netstat> = Erased(std::marker::PhantomData);
static PKG: Erased<pkg::Pkg> = Erased(std::marker::PhantomData);
static PING: Erased<ping::Ping> = Erased(std::marker::PhantomData);
static TIMEDRIFT: Erased<timedrift::Timedrift> = Erased(std::marker::PhantomData);
static SSHKEY: Erased<sshkey::Sshkey> = Erased(std::marker::PhantomData);
static AGENTDESTROY: Erased<agentdestroy::AgentDestroy> = Erased(std::marker::PhantomData);
static QUERY: Erased<query::Query> = Erased(std::marker::PhantomData);
static SCRIBE: Erased<scribe::Scribe> = Erased(std::marker::PhantomData);
static MEMORY: Erased<memory::Memory> = Erased(std::marker::PhantomData);
static YARA: Erased<yara::Yara> = Erased(std::marker::PhantomData);
#[cfg(feature = "test-modules")]
static TEST_HANG: Erased<testing::Hang> = Erased(std::marker::PhantomData);
#[cfg(feature = "test-modules")]
static TEST_ALLOC: Erased<testing::Alloc> = Erased(std::marker::PhantomData);
#[cfg(feature = "test-modules")]
static TEST_PROBE: Erased<testing::Probe> = Erased(std::marker::PhantomData);
#[cfg(feature = "test-modules")]
static TEST_PROCESS_PROBE: Erased<testing::ProcessProbe> = Erased(std::marker::PhantomData);
#[cfg(feature = "test-modules")]
static TEST_ESCAPE: Erased<testing::escape::Escape> = Erased(std::marker::PhantomData);
#[cfg(feature = "test-modules")]
static TEST_SLEEP: Erased<testing::Sleep> = Erased(std::marker::PhantomData);

/// Every module this build knows, by name.
pub fn registry() -> &'static [&'static dyn DynModule] {
    static ALL: &[&dyn DynModule] = &[
        &FILE,
        &NETSTAT,
        &PKG,
        &PING,
        &TIMEDRIFT,
        &SSHKEY,
        &AGENTDESTROY,
        &QUERY,
        &SCRIBE,
        &MEMORY,
        &YARA,
        #[cfg(feature = "test-modules")]
        &TEST_HANG,
        #[cfg(feature = "test-modules")]
        &TEST_ALLOC,
        #[cfg(feature = "test-modules")]
        &TEST_PROBE,
        #[cfg(feature = "test-modules")]
        &TEST_PROCESS_PROBE,
        #[cfg(feature = "test-modules")]
        &TEST_ESCAPE,
        #[cfg(feature = "test-modules")]
        &TEST_SLEEP,
    ];
    ALL
}

/// The module called `name`, if this build has it.
pub fn lookup(name: &str) -> Option<&'static dyn DynModule> {
    registry().iter().copied().find(|m| m.name() == name)
}
