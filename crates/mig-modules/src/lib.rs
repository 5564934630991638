//! Investigation modules: each answers one kind of question on the endpoint.
//!
//! A module is a folder with its parameters (serde + validation into a plan), its run function
//! (a typed report), its `mig <module>` flags (MIG's names, parsed into the same parameters)
//! and a pretty printer; [`Module`] is the contract.
//! [`registry`] lists them by name. The agent runs each operation in a child process through
//! [`protocol::run_module`] (MIG's stdin/stdout protocol); `mig <module> -t local` runs them
//! in-process.

#![warn(missing_docs, unreachable_pub)]

pub mod agent_binary;
mod agentdestroy;
pub mod context;
mod contract;
mod file;
mod fit;
pub mod flags;
mod gofmt;
mod memory;
mod netstat;
/// The host facts layer, under its old name inside this crate.
pub use mig_host as os;
#[cfg(test)]
mod holder;
mod ping;
mod pkg;
pub mod protocol;
pub mod query;
pub mod schedule;
mod scribe;
mod sshkey;
#[cfg(feature = "test-modules")]
pub mod testing;
mod timedrift;
pub mod upgrade;
mod yara;

pub use context::{Context, Limits, Stop};
pub use contract::{
    cap_errors, mask_errors, DynModule, Erased, ExecTime, Module, ModuleError, Report, SandboxNeeds,
};
pub use fit::fit_result;
pub use mig_core::ModuleResult;

static FILE: Erased<file::File> = Erased::new();
static NETSTAT: Erased<netstat::Netstat> = Erased::new();
static PKG: Erased<pkg::Pkg> = Erased::new();
static PING: Erased<ping::Ping> = Erased::new();
static TIMEDRIFT: Erased<timedrift::Timedrift> = Erased::new();
static SSHKEY: Erased<sshkey::Sshkey> = Erased::new();
static AGENTDESTROY: Erased<agentdestroy::AgentDestroy> = Erased::new();
static QUERY: Erased<query::Query> = Erased::new();
static SCRIBE: Erased<scribe::Scribe> = Erased::new();
static MEMORY: Erased<memory::Memory> = Erased::new();
static YARA: Erased<yara::Yara> = Erased::new();
static UPGRADE: Erased<upgrade::Upgrade> = Erased::new();
static SCHEDULE: Erased<schedule::Schedule> = Erased::new();
static UNSCHEDULE: Erased<schedule::Unschedule> = Erased::new();
#[cfg(feature = "test-modules")]
static TEST_HANG: Erased<testing::Hang> = Erased::new();
#[cfg(feature = "test-modules")]
static TEST_ALLOC: Erased<testing::Alloc> = Erased::new();
#[cfg(feature = "test-modules")]
static TEST_PROBE: Erased<testing::Probe> = Erased::new();
#[cfg(feature = "test-modules")]
static TEST_PROCESS_PROBE: Erased<testing::ProcessProbe> = Erased::new();
#[cfg(feature = "test-modules")]
static TEST_ESCAPE: Erased<testing::escape::Escape> = Erased::new();
#[cfg(feature = "test-modules")]
static TEST_SLEEP: Erased<testing::Sleep> = Erased::new();

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
        &UPGRADE,
        &SCHEDULE,
        &UNSCHEDULE,
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
