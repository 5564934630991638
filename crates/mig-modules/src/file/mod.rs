//! The file module: find files by name, content, size, mode, modification time and hash.
//! MIG's parameters, semantics and results; see docs/modules/file.md.

mod checks;
mod cli;
mod content;
pub(crate) mod hash;
mod inspect;
pub(crate) mod params;
mod plan;
pub(crate) mod report;
pub(crate) mod walk;

use crate::{Context, Module, ModuleError, Report};
pub(crate) use params::Params;
pub(crate) use plan::PlannedSearch;
pub(crate) use report::{Elements, Statistics};
use std::time::Instant;

/// The file module.
pub(crate) struct File;

impl Module for File {
    const NAME: &'static str = "file";
    const ABOUT: &'static str = "find files by name, content, size, mode, mtime or hash";
    type Params = Params;
    type Plan = Vec<PlannedSearch>;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [crate::flags::Flag] = cli::FLAGS;

    fn validate(params: &Params) -> Result<Vec<PlannedSearch>, ModuleError> {
        params::validate(params)?;
        plan::plan(params)
    }

    fn run(
        plan: &Vec<PlannedSearch>,
        ctx: &Context,
    ) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let outcome = walk::run(plan, ctx, threads);
        Ok(report::build(plan, outcome, start.elapsed(), ctx))
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        cli::parse(args)
    }

    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        report::pretty(report, found_only)
    }

    fn mask(report: &mut Report<Elements, Statistics>) {
        report::mask(report)
    }
}
