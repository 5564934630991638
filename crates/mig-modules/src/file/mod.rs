//! The file module: find files by name, content, size, mode, modification time and hash.
//! MIG's parameters, semantics and results; see docs/modules/file.md.

mod checks;
mod cli;
mod content;
pub mod hash;
mod inspect;
pub mod params;
mod plan;
pub mod report;
pub(crate) mod walk;

use crate::{Context, Module, ModuleResult};
pub use params::{Options, Params, Search};
use std::time::Instant;

pub struct File;

impl Module for File {
    const NAME: &'static str = "file";
    const ABOUT: &'static str = "find files by name, content, size, mode, mtime or hash";
    type Params = Params;
    const FLAGS: &'static [crate::flags::Flag] = cli::FLAGS;

    fn validate(params: &Params) -> Result<(), String> {
        params::validate(params)
    }

    fn run(params: &Params, ctx: &Context) -> ModuleResult {
        let start = Instant::now();
        let plan = match plan::plan(params) {
            Ok(p) => p,
            Err(e) => return ModuleResult::failure(e),
        };
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let outcome = walk::run(&plan, ctx, threads);
        report::build(&plan, outcome, start.elapsed(), ctx)
    }

    fn parse_flags(args: &[String]) -> Result<Params, String> {
        cli::parse(args)
    }

    fn pretty(result: &ModuleResult, found_only: bool) -> Vec<String> {
        report::pretty(result, found_only)
    }

    fn mask(result: &mut ModuleResult) {
        report::mask(result)
    }
}
