//! scribe: compliance documents. A document names objects (file contents, file names,
//! packages, raw values), and tests on their values (regexp, exact match, version
//! comparisons, and boolean expressions combining tests); every test gets a true/false
//! master result. MIG's parameters, results and `mig scribe` flags; see docs/modules/scribe.md.

pub mod document;
mod evaluate;
pub mod expr;
mod lines;
mod locate;
mod model;
mod objects;
pub mod result;

#[cfg(test)]
mod examples;
#[cfg(test)]
mod tests;

use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleResult};
pub use document::Document;
pub use objects::Packages;
pub use result::{SubResult, TestResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Instant;

/// MIG's parameters: the document and the output switches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
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
pub struct Elements {
    #[serde(default, deserialize_with = "mig_core::action::null_as_default")]
    pub results: Vec<TestResult>,
    #[serde(default)]
    pub humanoutput: bool,
    #[serde(default)]
    pub jsonoutput: bool,
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

pub struct Scribe;

/// Runs `p` with the packages from `packages` (the system's in production, a fixed list in
/// tests).
pub fn run_with(p: &Params, ctx: &Context, packages: Packages) -> ModuleResult {
    let start = Instant::now();
    let model = match model::build(&p.scribedoc) {
        Ok(m) => m,
        Err(e) => return ModuleResult::failure(e),
    };
    let env = objects::Env::new(ctx, packages);
    let values = objects::prepare_all(&model, &env);
    let all = evaluate::run(&model, &values, ctx.limits.max_elements);
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
    ModuleResult {
        foundanything: !elements.results.is_empty(),
        success: true,
        elements: serde_json::to_value(&elements).unwrap_or_default(),
        statistics: json!({"execruntime": gofmt::duration(start.elapsed())}),
        errors,
    }
}

impl Module for Scribe {
    const NAME: &'static str = "scribe";
    const ABOUT: &'static str =
        "compliance documents: tests on file contents, file names, packages and values";
    type Params = Params;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<(), String> {
        model::build(&p.scribedoc).map(|_| ())
    }

    fn run(p: &Params, ctx: &Context) -> ModuleResult {
        run_with(p, ctx, Packages::System)
    }

    /// `mig scribe -path doc.json [-onlytrue] [-human] [-json]`: the document is read on the
    /// investigator's machine and travels in the action, as in MIG.
    fn parse_flags(args: &[String]) -> Result<Params, String> {
        let f = flags::parse(FLAGS, args)?;
        if let Some(extra) = f.positional.first() {
            return Err(format!("unexpected argument {extra:?}"));
        }
        let path = f
            .value("path")
            .filter(|p| !p.is_empty())
            .ok_or("-path option is required")?;
        Ok(Params {
            scribedoc: load_document(std::path::Path::new(path))?,
            onlytrue: f.bool("onlytrue").unwrap_or(false),
            humanoutput: f.bool("human").unwrap_or(false),
            jsonoutput: f.bool("json").unwrap_or(false),
        })
    }

    /// MIG's printer: per test, the human form, the JSON form or the single lines; then the
    /// errors and the run time.
    fn pretty(result: &ModuleResult, found_only: bool) -> Vec<String> {
        let elements: Elements =
            serde_json::from_value(result.elements.clone()).unwrap_or_default();
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
            lines.extend(result.errors.iter().cloned());
            let runtime = result.statistics["execruntime"].as_str().unwrap_or("");
            lines.push(format!("Statistics: runtime {runtime}"));
        }
        lines
    }

    /// Identifiers are file paths and package names of the endpoint: hidden, with the
    /// error texts. Test ids, names and results stay.
    fn mask(result: &mut ModuleResult) {
        if let Some(results) = result.elements["results"].as_array_mut() {
            for r in results {
                if r["error"].as_str().is_some_and(|e| !e.is_empty()) {
                    r["error"] = json!("[masked]");
                }
                if let Some(subs) = r["results"].as_array_mut() {
                    for s in subs {
                        s["identifier"] = json!("[masked]");
                    }
                }
            }
        }
        crate::mask_errors(result);
    }
}

/// Reads and decodes a document file; the error names the file and the field.
pub fn load_document(path: &std::path::Path) -> Result<Document, String> {
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
