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
pub mod flags;
pub mod gofmt;
pub mod memory;
pub mod netstat;
pub mod os;
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

/// Makes a result fit in `max_bytes` of JSON, where it is made: entries are dropped from the
/// end of the largest arrays of `elements` (rows, files, matches), then whole elements and
/// errors if that is not enough, and an error line says what was dropped. The result stays
/// successful: what is left is true, and the line says it is not all. Returns whether
/// anything was dropped.
pub fn fit_result(result: &mut ModuleResult, max_bytes: usize) -> bool {
    let size = |r: &ModuleResult| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
    let original = size(result);
    if original <= max_bytes {
        return false;
    }
    // Room for the line that says so.
    let target = max_bytes.saturating_sub(512);
    let mut dropped: Vec<String> = Vec::new();
    for _ in 0..64 {
        let now = size(result);
        if now <= target {
            break;
        }
        let Some((path, array)) = largest_array(&mut result.elements, String::from("elements"))
        else {
            break;
        };
        let total = array.len();
        let mut over = now - target;
        let mut keep = total;
        while keep > 0 && over > 0 {
            keep -= 1;
            let entry = serde_json::to_vec(&array[keep]).map_or(0, |v| v.len()) + 1;
            over = over.saturating_sub(entry);
        }
        array.truncate(keep);
        dropped.push(format!("{} of {total} entries of {path}", total - keep));
    }
    if size(result) > target && !result.elements.is_null() {
        result.elements = Value::Null;
        dropped.push("every element".into());
    }
    while size(result) > target && !result.errors.is_empty() {
        let n = result.errors.len().div_ceil(2);
        result.errors.truncate(result.errors.len() - n);
        dropped.push(format!("{n} error lines"));
    }
    result.errors.push(format!(
        "result truncated: {original} bytes is more than the {max_bytes} one result may take; dropped {}",
        dropped.join(", ")
    ));
    true
}

/// One step down a JSON value.
enum Step {
    Key(String),
    Index(usize),
}

/// The array under `value` to cut: the one whose entries take the most room, or, when an
/// array inside it holds at least half of that, the deepest such (cutting `[{"files": […]}]`
/// should drop files, not the search). With its path (`elements.rows`,
/// `elements.s1[0].files`); None when there is no non-empty array.
fn largest_array(value: &mut Value, root: String) -> Option<(String, &mut Vec<Value>)> {
    /// Every non-empty array: (weight, path).
    fn collect(value: &Value, path: &mut Vec<Step>, found: &mut Vec<(usize, Vec<Step>)>) {
        let copy = |path: &Vec<Step>| -> Vec<Step> {
            path.iter()
                .map(|s| match s {
                    Step::Key(k) => Step::Key(k.clone()),
                    Step::Index(i) => Step::Index(*i),
                })
                .collect()
        };
        match value {
            Value::Array(a) if !a.is_empty() => {
                found.push((serde_json::to_vec(value).map_or(0, |b| b.len()), copy(path)));
                for (i, v) in a.iter().enumerate() {
                    path.push(Step::Index(i));
                    collect(v, path, found);
                    path.pop();
                }
            }
            Value::Object(o) => {
                for (k, v) in o {
                    path.push(Step::Key(k.clone()));
                    collect(v, path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    collect(value, &mut Vec::new(), &mut found);
    let heaviest = found.iter().map(|(w, _)| *w).max()?;
    let (_, steps) = found
        .into_iter()
        .filter(|(w, _)| w * 2 >= heaviest)
        .max_by_key(|(w, p)| (p.len(), *w))?;
    let mut name = root;
    let mut at = value;
    for step in steps {
        match step {
            Step::Key(k) => {
                name.push('.');
                name.push_str(&k);
                at = at.get_mut(&k)?;
            }
            Step::Index(i) => {
                name.push_str(&format!("[{i}]"));
                at = at.get_mut(i)?;
            }
        }
    }
    match at {
        Value::Array(a) => Some((name, a)),
        _ => None,
    }
}

#[cfg(test)]
mod fit_tests {
    use super::*;
    use serde_json::json;

    fn size(r: &ModuleResult) -> usize {
        serde_json::to_vec(r).unwrap().len()
    }

    #[test]
    fn a_result_over_its_budget_is_cut_where_it_is_largest_and_says_so() {
        let rows: Vec<Value> = (0..10_000).map(|i| json!([i, "x".repeat(100)])).collect();
        let mut r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"columns": ["n", "pad"], "rows": rows, "rowcount": 10_000}),
            statistics: json!({}),
            errors: vec![],
        };
        let before = size(&r);
        assert!(
            !fit_result(&mut r, before),
            "a result within budget is untouched"
        );
        assert!(fit_result(&mut r, 100_000));
        assert!(size(&r) <= 100_000, "{}", size(&r));
        assert!(r.success && r.foundanything);
        let kept = r.elements["rows"].as_array().unwrap().len();
        assert!(kept > 500 && kept < 1_000, "{kept}");
        assert_eq!(r.elements["rows"][0][0], 0, "the first rows are kept");
        assert_eq!(r.elements["columns"][1], "pad");
        let line = r.errors.last().unwrap();
        assert!(line.starts_with("result truncated"), "{line}");
        assert!(
            line.contains(&format!(
                "{} of 10000 entries of elements.rows",
                10_000 - kept
            )),
            "{line}"
        );
    }

    #[test]
    fn nested_arrays_and_keys_with_dots_are_found() {
        let files: Vec<Value> = (0..2_000)
            .map(|i| json!({"file": format!("/f/{i:06}")}))
            .collect();
        let mut r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"my.search": [{"files": files}], "other": [1, 2, 3]}),
            statistics: Value::Null,
            errors: vec![],
        };
        assert!(fit_result(&mut r, 10_000));
        assert!(size(&r) <= 10_000);
        assert_eq!(r.elements["other"], json!([1, 2, 3]));
        assert!(
            r.errors[0].contains("elements.my.search[0].files"),
            "{:?}",
            r.errors
        );
        // Nothing to cut but one huge string: the elements go, the line stays.
        let mut r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"blob": "y".repeat(50_000)}),
            statistics: Value::Null,
            errors: vec!["e".repeat(20_000); 4],
        };
        assert!(fit_result(&mut r, 10_000));
        assert!(size(&r) <= 10_000, "{}", size(&r));
        assert!(r.elements.is_null());
        assert!(r.errors.last().unwrap().contains("every element"));
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
