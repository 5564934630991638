//! The YARA engine: yara-x when the `yara` feature is on; otherwise a clear refusal.

#[cfg(feature = "yara")]
pub(crate) use with_yara::*;
#[cfg(not(feature = "yara"))]
pub(crate) use without_yara::*;

#[cfg(feature = "yara")]
mod with_yara {
    use crate::os::procmem::{self, WalkOptions};
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

    fn rule_names(results: &yara_x::ScanResults) -> Vec<String> {
        results
            .matching_rules()
            .map(|r| r.identifier().to_string())
            .collect()
    }

    pub(crate) fn scan_file(
        rules: &Rules,
        path: &Path,
        timeout: Duration,
    ) -> Result<Vec<String>, String> {
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
        Ok(rule_names(&results))
    }

    /// The process's readable memory, one region window at a time (windows overlap where
    /// regions are contiguous, so strings across the seam are seen).
    pub(crate) fn scan_process(
        rules: &Rules,
        pid: u32,
        timeout: Duration,
    ) -> Result<Vec<String>, String> {
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
        Ok(rule_names(&results))
    }
}

#[cfg(not(feature = "yara"))]
mod without_yara {
    use std::path::Path;
    use std::time::Duration;

    /// Nothing to hold: there is no engine.
    pub(crate) struct Rules;

    const NO_ENGINE: &str =
        "this build has no YARA engine (mig-modules was built without the `yara` feature)";

    pub(crate) fn compile(_source: &str) -> Result<Rules, String> {
        Err(NO_ENGINE.into())
    }

    pub(crate) fn scan_file(_: &Rules, _: &Path, _: Duration) -> Result<Vec<String>, String> {
        Err(NO_ENGINE.into())
    }

    pub(crate) fn scan_process(_: &Rules, _: u32, _: Duration) -> Result<Vec<String>, String> {
        Err(NO_ENGINE.into())
    }
}
