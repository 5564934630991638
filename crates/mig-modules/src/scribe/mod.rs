//! scribe: compliance documents. A document names objects (file contents, file names,
//! packages, raw values), and tests on their values (regexp, exact match, version
//! comparisons, and boolean expressions combining tests); every test gets a true/false
//! master result. MIG's parameters, results and `mig scribe` flags; see docs/modules/scribe.md.

pub(crate) mod document;
mod evaluate;
pub(crate) mod expr;
mod lines;
mod locate;
mod model;
mod objects;
pub(crate) mod result;

#[cfg(test)]
mod examples;
#[cfg(test)]
mod tests;

use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleError, Report};
pub(crate) use document::Document;
pub(crate) use objects::Packages;
pub(crate) use result::TestResult;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// MIG's parameters: the document and the output switches.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    /// The scribe document: variables, objects and tests (docs/modules/scribe.md).
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub scribedoc: Document,
    /// Only return the tests whose master result is true.
    #[serde(default)]
    pub onlytrue: bool,
    /// Printed in scribe's extended form.
    #[serde(default)]
    pub humanoutput: bool,
    /// Printed as one JSON document per test.
    #[serde(default)]
    pub jsonoutput: bool,
}

/// MIG's elements.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Elements {
    #[serde(default, deserialize_with = "mig_core::action::null_as_default")]
    /// The tests' results (with `onlytrue`, those that are true).
    pub results: Vec<TestResult>,
    #[serde(default)]
    /// Print in scribe's human form.
    pub humanoutput: bool,
    #[serde(default)]
    /// Print each result as JSON.
    pub jsonoutput: bool,
}

/// A document checked and resolved into the model the evaluator runs, with the output
/// options.
pub(crate) struct Plan {
    model: model::Model,
    onlytrue: bool,
    humanoutput: bool,
    jsonoutput: bool,
}

impl Plan {
    /// Checks and resolves a document.
    pub(crate) fn new(p: &Params) -> Result<Plan, ModuleError> {
        Ok(Plan {
            model: model::build(&p.scribedoc).map_err(ModuleError::Document)?,
            onlytrue: p.onlytrue,
            humanoutput: p.humanoutput,
            jsonoutput: p.jsonoutput,
        })
    }
}

/// scribe's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How long the run took.
    pub execruntime: String,
}

const FLAGS: &[Flag] = &[
    Flag::value(
        "path",
        "<doc.json>",
        "the scribe document; read here and sent in the action (required)",
    ),
    Flag::bool("onlytrue", "only return tests that evaluate to true"),
    Flag::bool("human", "print results in scribe's extended (human) form"),
    Flag::bool("json", "print each result as a JSON document"),
];

/// Larger than any compliance document; the agent refuses larger parameters anyway.
const MAX_DOCUMENT: u64 = crate::protocol::MAX_MESSAGE;

/// The scribe module.
pub(crate) struct Scribe;

/// Runs `p` with the packages from `packages` (the system's in production, a fixed list in
/// tests).
/// Runs a plan against `packages` (the system's, or a fixed list in tests).
pub(crate) fn run_with(
    p: &Plan,
    ctx: &Context,
    packages: Packages,
) -> Report<Elements, Statistics> {
    let start = Instant::now();
    let model = &p.model;
    let env = objects::Env::new(ctx, packages);
    let values = objects::prepare_all(model, &env);
    let all = evaluate::run(model, &values, ctx.limits.max_elements);
    // MIG reported errors only for the tests it kept; an error is reported even with onlytrue.
    let mut errors: Vec<String> = all
        .iter()
        .filter(|r| r.iserror)
        .map(|r| format!("Error: {} in \"{}\"", r.error, r.testid))
        .collect();
    if errors.len() > ctx.limits.max_errors {
        let n = errors.len() - ctx.limits.max_errors;
        errors.truncate(ctx.limits.max_errors);
        errors.push(format!("{n} more errors left out"));
    }
    let results: Vec<TestResult> = all
        .into_iter()
        .filter(|r| r.masterresult || !p.onlytrue)
        .collect();
    let elements = Elements {
        results,
        humanoutput: p.humanoutput,
        jsonoutput: p.jsonoutput,
    };
    Report {
        foundanything: !elements.results.is_empty(),
        elements,
        statistics: Statistics {
            execruntime: gofmt::duration(start.elapsed()),
        },
        errors,
    }
}

impl Module for Scribe {
    const NAME: &'static str = "scribe";
    const ABOUT: &'static str =
        "compliance documents: tests on file contents, file names, packages and values";
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        Plan::new(p)
    }

    fn run(p: &Plan, ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        Ok(run_with(p, ctx, Packages::System))
    }

    /// `mig scribe -path doc.json [-onlytrue] [-human] [-json]`: the document is read on the
    /// investigator's machine and travels in the action, as in MIG.
    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        let path = f
            .value("path")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ModuleError::Flag("-path option is required".into()))?;
        Ok(Params {
            scribedoc: load_document(std::path::Path::new(path)).map_err(ModuleError::Flag)?,
            onlytrue: f.bool("onlytrue").unwrap_or(false),
            humanoutput: f.bool("human").unwrap_or(false),
            jsonoutput: f.bool("json").unwrap_or(false),
        })
    }

    /// MIG's printer: per test, the human form, the JSON form or the single lines; then the
    /// errors and the run time.
    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let elements = &report.elements;
        let mut lines = Vec::new();
        for r in &elements.results {
            if elements.humanoutput {
                lines.extend(r.human());
            } else if elements.jsonoutput {
                lines.push(r.json());
            } else {
                lines.extend(r.single_lines());
            }
        }
        if !found_only {
            lines.extend(report.errors.iter().cloned());
            lines.push(format!(
                "Statistics: runtime {}",
                report.statistics.execruntime
            ));
        }
        lines
    }

    /// Identifiers are file paths and package names of the endpoint: hidden, with the
    /// error texts. Test ids, names and results stay.
    fn mask(report: &mut Report<Elements, Statistics>) {
        for r in &mut report.elements.results {
            if !r.error.is_empty() {
                r.error = "[masked]".into();
            }
            for s in &mut r.results {
                s.identifier = "[masked]".into();
            }
        }
        crate::mask_errors(&mut report.errors);
    }
}

/// Reads and decodes a document file; the error names the file and the field.
pub(crate) fn load_document(path: &std::path::Path) -> Result<Document, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("{}: {}", path.display(), gofmt::os_error(&e)))?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {}", path.display(), gofmt::os_error(&e)))?;
    if bytes.len() as u64 > MAX_DOCUMENT {
        return Err(format!(
            "{}: larger than {} MiB: not a scribe document",
            path.display(),
            MAX_DOCUMENT >> 20
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let doc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        if at == "." {
            format!("{}: invalid scribe document: {}", path.display(), e.inner())
        } else {
            format!(
                "{}: invalid scribe document: {at}: {}",
                path.display(),
                e.inner()
            )
        }
    })?;
    de.end()
        .map_err(|e| format!("{}: invalid scribe document: {e}", path.display()))?;
    Ok(doc)
}
