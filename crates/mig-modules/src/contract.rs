//! The module contract: what every module declares and does, typed end to end.
//!
//! A module turns its parameters (MIG's JSON, `Params`) into a checked `Plan` once
//! ([`Module::validate`]: regular expressions compiled, addresses parsed, every refusal a
//! [`ModuleError`] naming the parameter), runs the plan into a typed [`Report`], and prints a
//! report back from its typed `Elements`. [`Erased`] puts the JSON around it for the
//! registry: decoding, the error and size caps every module shares, and MIG's wire form
//! ([`ModuleResult`]), byte for byte what MIG's modules send.

use crate::flags::Flag;
use crate::{fit_result, Context, ModuleResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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
    /// Opens Unix sockets to local daemons (query's docker tables, which the ACL must name).
    pub unix_sockets: bool,
}

impl SandboxNeeds {
    /// Reading files, and nothing else: most modules.
    pub const READ_ONLY: SandboxNeeds = SandboxNeeds {
        network: false,
        netlink: false,
        modifies_system: false,
        ptrace: false,
        unix_sockets: false,
    };
}

/// Why a module refused its parameters or flags, or could not run at all. The text is what
/// the investigator reads (in `mig`, in the API's refusal, in a failed result).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// A parameter does not have the shape MIG's JSON gives it: where (a JSON path) and what
    /// the decoder said.
    #[error("invalid parameter {path}: {reason}")]
    Decode {
        /// The parameter's JSON path, e.g. `searches.s1.paths[0]`.
        path: String,
        /// What was expected.
        reason: String,
    },
    /// The parameters are not a JSON object of the module's shape at all.
    #[error("invalid parameters: {0}")]
    Malformed(String),
    /// A parameter's value is refused: which one and why.
    #[error("{field}: {reason}")]
    Invalid {
        /// The parameter's name (a path for nested ones, e.g. `search s1: contents`).
        field: String,
        /// Why its value is refused.
        reason: String,
    },
    /// The parameters, taken together, ask for nothing the module can do (no search given).
    #[error("{0}")]
    Request(String),
    /// A program the parameters carry (a scribe document, YARA rules) is refused; the text
    /// says where in it.
    #[error("{0}")]
    Document(String),
    /// A `mig <module>` flag or argument is wrong.
    #[error("{0}")]
    Flag(String),
    /// The run could not be made at all (a host that does not resolve, a socket the kernel
    /// refused); the result is a failure carrying this text.
    #[error("{0}")]
    Failed(String),
}

impl ModuleError {
    /// A parameter's value refused, with the parameter named.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ModuleError {
        ModuleError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same refusal, for a parameter inside `parent` (a labelled search): `parent: field`.
    pub fn within(self, parent: &str) -> ModuleError {
        match self {
            ModuleError::Invalid { field, reason } => ModuleError::Invalid {
                field: format!("{parent}: {field}"),
                reason,
            },
            ModuleError::Request(reason) => ModuleError::Invalid {
                field: parent.to_string(),
                reason,
            },
            other => other,
        }
    }
}

/// What a run found, typed: MIG's result fields less `success`, which a report always has
/// (a run that fails as a whole returns [`ModuleError::Failed`] instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report<E, S> {
    /// Whether the module found what it was asked to look for.
    pub foundanything: bool,
    /// Module-specific findings.
    pub elements: E,
    /// Module-specific counters (files scanned, time taken…).
    pub statistics: S,
    /// What went wrong on the way, one message per problem.
    #[serde(default, deserialize_with = "mig_core::action::null_as_default")]
    pub errors: Vec<String>,
}

impl<E: Serialize, S: Serialize> Report<E, S> {
    /// MIG's wire form of the report.
    pub fn into_result(self) -> ModuleResult {
        ModuleResult {
            foundanything: self.foundanything,
            success: true,
            elements: to_value(&self.elements),
            statistics: to_value(&self.statistics),
            errors: self.errors,
        }
    }
}

impl<E: DeserializeOwned, S: DeserializeOwned> Report<E, S> {
    /// Reads a result back into the module's types; `None` when its elements do not have
    /// their shape (a failed run carries none; another MIG version may send other ones).
    /// Statistics that do not read back are left at their defaults: they only inform.
    pub fn from_result(result: &ModuleResult) -> Option<Self>
    where
        S: Default,
    {
        Some(Report {
            foundanything: result.foundanything,
            elements: E::deserialize(&result.elements).ok()?,
            statistics: S::deserialize(&result.statistics).unwrap_or_default(),
            errors: result.errors.clone(),
        })
    }
}

/// A typed value as JSON. Serializing the modules' own types cannot fail (no maps with
/// non-string keys, no fallible `Serialize`); if it ever did, the result says so.
fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| Value::String(format!("unserializable result: {e}")))
}

/// A module: its parameters, its checked plan, its run, its flags and its printer.
pub trait Module: Send + Sync + 'static {
    /// The name in actions and on the command line (`file`, `netstat`…).
    const NAME: &'static str;
    /// One line for `mig help`.
    const ABOUT: &'static str;
    /// What the module's process may do; see [`SandboxNeeds`].
    const SANDBOX: SandboxNeeds = SandboxNeeds::READ_ONLY;
    /// The `mig <module>` flags, MIG's names.
    const FLAGS: &'static [Flag];
    /// The parameters as an action carries them (MIG's JSON); its schema is published for
    /// forms and documentation.
    type Params: DeserializeOwned + Serialize + schemars::JsonSchema;
    /// The parameters checked and prepared for a run.
    type Plan;
    /// What a run reports in `elements`.
    type Elements: Serialize + DeserializeOwned;
    /// What a run reports in `statistics`.
    type Statistics: Serialize + DeserializeOwned + Default;

    /// Checks parameters and prepares them; the error names the parameter and what was
    /// expected.
    fn validate(params: &Self::Params) -> Result<Self::Plan, ModuleError>;
    /// Runs a plan. Failures on the way go in the report's errors; only a run that cannot be
    /// made at all is an error. Never panics.
    fn run(
        plan: &Self::Plan,
        ctx: &Context,
    ) -> Result<Report<Self::Elements, Self::Statistics>, ModuleError>;
    /// Parses `mig <module>` flags into parameters.
    fn parse_flags(args: &[String]) -> Result<Self::Params, ModuleError>;
    /// Human-readable lines for a report, as MIG's printers write them; `found_only` leaves
    /// out "nothing found" lines, errors and statistics.
    fn pretty(report: &Report<Self::Elements, Self::Statistics>, found_only: bool) -> Vec<String>;

    /// MIG's extra privacy mode: hide what could identify the endpoint's user (file names,
    /// error texts) and keep only the answers. By default, error texts are masked.
    fn mask(report: &mut Report<Self::Elements, Self::Statistics>) {
        mask_errors(&mut report.errors);
    }

    /// What the process running `plan` may do: [`Module::SANDBOX`], unless a plan needs more
    /// (a query that reads the docker tables opens the daemon's socket).
    fn sandbox(_plan: &Self::Plan) -> SandboxNeeds {
        Self::SANDBOX
    }
}

/// Replaces every error text with a placeholder, keeping their number.
pub fn mask_errors(errors: &mut [String]) {
    for e in errors {
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

/// A module with its types erased, for the registry: everything in and out is JSON.
pub trait DynModule: Send + Sync {
    /// [`Module::NAME`].
    fn name(&self) -> &'static str;
    /// [`Module::ABOUT`].
    fn about(&self) -> &'static str;
    /// [`Module::SANDBOX`]: what the module's process may do whatever its parameters.
    fn sandbox(&self) -> SandboxNeeds;
    /// [`Module::sandbox`] for these parameters; [`Module::SANDBOX`] when they do not decode
    /// (the run then fails on them anyway).
    fn sandbox_for(&self, params: &Value) -> SandboxNeeds;
    /// Decodes, validates and runs; invalid parameters give `success: false` with the reason.
    fn run_json(&self, params: &Value, ctx: &Context) -> ModuleResult;
    /// Decodes and validates parameters without running.
    fn check_json(&self, params: &Value) -> Result<(), ModuleError>;
    /// Parses and validates flags into the JSON parameters an action carries.
    fn flags_to_json(&self, args: &[String]) -> Result<Value, ModuleError>;
    /// The JSON Schema of the module's parameters (for forms and documentation).
    fn param_schema(&self) -> Value;
    /// The `mig <module>` usage text.
    fn usage(&self) -> String;
    /// The names of the module's flags (for telling them from the client's global options).
    fn flag_names(&self) -> Vec<&'static str>;
    /// The module's lines for a result; a result without the module's elements (a failed run)
    /// prints its errors (nothing when only answers are asked for).
    fn pretty(&self, result: &ModuleResult, found_only: bool) -> Vec<String>;
    /// Applies the module's privacy mask to a result.
    fn mask(&self, result: &mut ModuleResult);
}

/// [`DynModule`] for a [`Module`]: the registry holds one static of each.
pub struct Erased<M: Module>(std::marker::PhantomData<M>);

impl<M: Module> Default for Erased<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Module> Erased<M> {
    /// The erased form of `M`.
    pub const fn new() -> Self {
        Erased(std::marker::PhantomData)
    }

    /// Decodes and validates parameters into `M`'s plan, errors naming the parameter.
    pub fn decode(params: &Value) -> Result<M::Plan, ModuleError> {
        let p: M::Params = serde_path_to_error::deserialize(params).map_err(|e| {
            let path = e.path().to_string();
            let reason = e.inner().to_string();
            if path == "." {
                ModuleError::Malformed(reason)
            } else {
                ModuleError::Decode { path, reason }
            }
        })?;
        M::validate(&p)
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
    fn sandbox_for(&self, params: &Value) -> SandboxNeeds {
        Self::decode(params).map_or(M::SANDBOX, |plan| M::sandbox(&plan))
    }
    fn run_json(&self, params: &Value, ctx: &Context) -> ModuleResult {
        let run = Self::decode(params).and_then(|plan| M::run(&plan, ctx));
        match run {
            Ok(report) => {
                let mut result = report.into_result();
                cap_errors(&mut result, ctx.limits.max_errors);
                fit_result(&mut result, ctx.limits.max_result_bytes);
                result
            }
            Err(e) => ModuleResult::failure(e.to_string()),
        }
    }
    fn check_json(&self, params: &Value) -> Result<(), ModuleError> {
        Self::decode(params).map(|_| ())
    }
    fn flags_to_json(&self, args: &[String]) -> Result<Value, ModuleError> {
        let p = M::parse_flags(args)?;
        M::validate(&p)?;
        serde_json::to_value(&p).map_err(|e| ModuleError::Malformed(e.to_string()))
    }
    fn param_schema(&self) -> Value {
        to_value(&schemars::schema_for!(M::Params))
    }
    fn usage(&self) -> String {
        crate::flags::usage(&format!("mig {}", M::NAME), M::FLAGS)
    }
    fn flag_names(&self) -> Vec<&'static str> {
        M::FLAGS.iter().map(|f| f.name).collect()
    }
    fn pretty(&self, result: &ModuleResult, found_only: bool) -> Vec<String> {
        match Report::<M::Elements, M::Statistics>::from_result(result) {
            Some(report) => M::pretty(&report, found_only),
            None if found_only => Vec::new(),
            None => result.errors.clone(),
        }
    }
    fn mask(&self, result: &mut ModuleResult) {
        match Report::<M::Elements, M::Statistics>::from_result(result) {
            Some(mut report) => {
                M::mask(&mut report);
                let success = result.success;
                *result = report.into_result();
                result.success = success;
            }
            None => mask_errors(&mut result.errors),
        }
    }
}

/// The statistics of modules that only time their run: `{"exectime": "1.2ms"}`, Go's
/// duration format as MIG writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecTime {
    /// How long the run took.
    pub exectime: String,
}

impl ExecTime {
    /// The time since `start`.
    pub fn since(start: std::time::Instant) -> ExecTime {
        ExecTime {
            exectime: crate::gofmt::duration(start.elapsed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A result read back into `M`'s types and written again is the same JSON: the typed
    /// report loses nothing MIG sends (what masking and printing rely on).
    fn round_trips<M: Module>(params: Value) {
        let result = Erased::<M>::new().run_json(&params, &Context::default());
        assert!(result.success, "{}: {:?}", M::NAME, result.errors);
        let report = Report::<M::Elements, M::Statistics>::from_result(&result)
            .unwrap_or_else(|| panic!("{}: the result does not read back: {result:?}", M::NAME));
        assert_eq!(report.into_result(), result, "{}", M::NAME);
    }

    #[test]
    fn every_module_result_reads_back_into_its_types_losslessly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("needle"), "a needle in a file\n").unwrap();
        let root = dir.path().to_str().unwrap();
        round_trips::<crate::file::File>(json!({"searches": {"s1": {
            "paths": [root], "contents": ["needle"], "options": {"returnsha256": true}},
            "s2": {"paths": [root], "names": ["^nothing$"]}}}));
        round_trips::<crate::pkg::Pkg>(json!({"pkgmatch": {"matches": ["^bash$"]}}));
        round_trips::<crate::netstat::Netstat>(
            json!({"localip": ["127.0.0.1"], "listeningport": ["1"]}),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        round_trips::<crate::ping::Ping>(json!({"destination": "127.0.0.1",
            "protocol": "tcp", "destinationport": port, "count": 1}));
        round_trips::<crate::sshkey::Sshkey>(json!({"paths": [root]}));
        round_trips::<crate::query::Query>(json!({"sql": "SELECT 1 AS one, 'x' AS two, NULL"}));
        round_trips::<crate::scribe::Scribe>(json!({"scribedoc": {
            "objects": [{"object": "o", "raw": {"identifiers": [{"identifier": "i", "value": "1"}]}}],
            "tests": [{"test": "t", "object": "o", "exactmatch": {"value": "1"}}]}}));
        round_trips::<crate::memory::Memory>(
            json!({"searches": {"s1": {"names": ["^/nonexistent-binary$"]}}}),
        );
        let ntp = crate::timedrift::spawn_test_server(0.0);
        round_trips::<crate::timedrift::Timedrift>(
            json!({"drift": "1s", "servers": [ntp.to_string()]}),
        );
    }

    #[test]
    fn refusals_name_the_parameter_and_keep_mig_wording() {
        let ping = Erased::<crate::ping::Ping>::new();
        let err = ping
            .check_json(&json!({"destination": "x", "count": 1000}))
            .unwrap_err();
        assert_eq!(
            err,
            ModuleError::invalid("count", "1000 is not between 1 and 100")
        );
        assert_eq!(err.to_string(), "count: 1000 is not between 1 and 100");
        let err = ping.check_json(&json!({"destination": 7})).unwrap_err();
        assert!(
            matches!(&err, ModuleError::Decode { path, .. } if path == "destination"),
            "{err:?}"
        );
        assert_eq!(
            ping.check_json(&json!("x")).unwrap_err().to_string(),
            "invalid parameters: invalid type: string \"x\", expected struct Params"
        );
        let file = Erased::<crate::file::File>::new();
        let err = file
            .check_json(&json!({"searches": {"s1": {"paths": ["relative"], "names": ["x"]}}}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "search 's1': paths: \"relative\" is not an absolute path"
        );
        // A failed run keeps MIG's wire form: no elements, the reason in errors.
        let r = ping.run_json(&json!({"destination": ""}), &Context::default());
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"foundanything": false, "success": false, "elements": null,
                "statistics": null, "errors": ["destination: expected a host name or IP address"]})
        );
        // And prints as its errors.
        assert_eq!(ping.pretty(&r, false), r.errors);
        assert!(ping.pretty(&r, true).is_empty());
    }

    #[test]
    fn every_module_publishes_the_schema_of_its_parameters() {
        for m in crate::registry() {
            let schema = m.param_schema();
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema",
                "{}",
                m.name()
            );
            if m.name().starts_with("test") {
                continue;
            }
            // A record of named parameters, or (upgrade) a map whose values have one shape.
            if schema["additionalProperties"].is_object() {
                continue;
            }
            let props = schema["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{}: no properties in {schema}", m.name()));
            assert!(!props.is_empty(), "{}", m.name());
        }
        let ping = crate::lookup("ping").unwrap().param_schema();
        assert_eq!(ping["required"], json!(["destination"]));
        assert_eq!(ping["properties"]["protocol"]["default"], "icmp");
        assert!(ping["properties"]["destination"]["description"]
            .as_str()
            .unwrap()
            .contains("host"));
    }
}
