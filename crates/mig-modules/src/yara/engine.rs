//! The YARA engine: yara-x when the `yara` feature is on; otherwise a clear refusal.

#[cfg(feature = "yara")]
pub(crate) use with_yara::*;
#[cfg(not(feature = "yara"))]
pub(crate) use without_yara::*;

#[cfg(feature = "yara")]
mod with_yara {
    use crate::os::procmem::{self, WalkOptions};
    use mig_query::yara::{CompiledRules, RuleMatch};
    use std::ops::ControlFlow;
    use std::path::Path;
    use std::time::Duration;

    pub(crate) type Rules = yara_x::Rules;

    /// Largest file scanned: yara-x maps the whole file, and the module runs under an
    /// address-space cap.
    const MAX_FILE: u64 = 256 << 20;

    /// Compiles rules from an action. `include` is refused: rules come from the network and
    /// must not read the endpoint's files. The error carries yara-x's report, with the line.
    pub(crate) fn compile(source: &str) -> Result<Rules, String> {
        let mut compiler = yara_x::Compiler::new();
        compiler.enable_includes(false);
        compiler
            .add_source(source)
            .map_err(|e| format!("the rules do not compile: {e}"))?;
        Ok(compiler.build())
    }

    /// The matching rules, with their tags and each match of their strings.
    fn rule_matches(results: &yara_x::ScanResults) -> Vec<RuleMatch> {
        results
            .matching_rules()
            .map(|r| RuleMatch {
                rule: r.identifier().to_string(),
                tags: r.tags().map(|t| t.identifier().to_string()).collect(),
                strings: r
                    .patterns()
                    .flat_map(|p| {
                        let id = p.identifier();
                        p.matches()
                            .map(move |m| (id.to_string(), m.range().start as u64))
                    })
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn scan_file(
        rules: &Rules,
        path: &Path,
        timeout: Duration,
    ) -> Result<Vec<RuleMatch>, String> {
        let size = std::fs::metadata(path)
            .map_err(|e| crate::gofmt::os_error(&e))?
            .len();
        if size > MAX_FILE {
            return Err(format!(
                "not scanned: {size} bytes is more than the {} MiB limit",
                MAX_FILE >> 20
            ));
        }
        let mut scanner = yara_x::Scanner::new(rules);
        scanner.set_timeout(timeout);
        let results = scanner.scan_file(path).map_err(|e| e.to_string())?;
        Ok(rule_matches(&results))
    }

    /// The process's readable memory, one region window at a time (windows overlap where
    /// regions are contiguous, so strings across the seam are seen).
    pub(crate) fn scan_process(
        rules: &Rules,
        pid: u32,
        timeout: Duration,
    ) -> Result<Vec<RuleMatch>, String> {
        let regions = procmem::regions(pid).map_err(|e| crate::gofmt::os_error(&e))?;
        let mut scanner = yara_x::blocks::Scanner::new(rules);
        scanner.set_timeout(timeout);
        let mut failed = None;
        procmem::walk(
            pid,
            &regions,
            WalkOptions::default(),
            |addr, data| match scanner.scan(addr as usize, data) {
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e.to_string());
                    ControlFlow::Break(())
                }
            },
        )
        .map_err(|e| format!("cannot read its memory: {}", crate::gofmt::os_error(&e)))?;
        if let Some(e) = failed {
            return Err(e);
        }
        let results = scanner.finish().map_err(|e| e.to_string())?;
        Ok(rule_matches(&results))
    }

    /// The engine the query module's yara tables scan with: this one.
    pub(crate) struct QueryEngine;

    impl mig_query::yara::Engine for QueryEngine {
        fn compile(&self, source: &str) -> Result<Box<dyn CompiledRules>, String> {
            Ok(Box::new(QueryRules(compile(source)?)))
        }
    }

    struct QueryRules(Rules);

    impl CompiledRules for QueryRules {
        fn scan_file(&self, path: &Path, timeout: Duration) -> Result<Vec<RuleMatch>, String> {
            scan_file(&self.0, path, timeout)
        }
        fn scan_process(&self, pid: u32, timeout: Duration) -> Result<Vec<RuleMatch>, String> {
            scan_process(&self.0, pid, timeout)
        }
    }

    /// Gives the query module's yara tables this engine.
    pub(crate) fn register_for_queries() {
        mig_query::yara::register(&QueryEngine);
    }
}

#[cfg(not(feature = "yara"))]
mod without_yara {
    use mig_query::yara::RuleMatch;
    use std::path::Path;
    use std::time::Duration;

    /// Nothing to hold: there is no engine.
    pub(crate) struct Rules;

    const NO_ENGINE: &str =
        "this build has no YARA engine (mig-modules was built without the `yara` feature)";

    pub(crate) fn compile(_source: &str) -> Result<Rules, String> {
        Err(NO_ENGINE.into())
    }

    pub(crate) fn scan_file(_: &Rules, _: &Path, _: Duration) -> Result<Vec<RuleMatch>, String> {
        Err(NO_ENGINE.into())
    }

    pub(crate) fn scan_process(_: &Rules, _: u32, _: Duration) -> Result<Vec<RuleMatch>, String> {
        Err(NO_ENGINE.into())
    }

    /// No engine to give: the yara tables say the build has none.
    pub(crate) fn register_for_queries() {}
}
