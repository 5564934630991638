//! mig-agent: the program on every endpoint.
//!
//! `mig-agent -m <module>` runs one module with MIG's stdin/stdout protocol (how the agent runs
//! each operation in its own child process, and how investigators test modules locally).

mod module_mode;

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mig-agent", version, about = "MIG agent, in Rust")]
struct Cli {
    /// Run one module: read {"class":"parameters",…} on stdin, print the result on stdout.
    #[arg(short = 'm', value_name = "MODULE")]
    module: Option<String>,
    /// With -m: print the result in MIG's human-readable form instead of JSON.
    #[arg(short = 'p', long = "pretty")]
    pretty: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(module) = cli.module {
        return module_mode::run(&module, cli.pretty);
    }
    eprintln!("mig-agent: the relay client is not built yet; use -m <module> to run a module");
    ExitCode::from(2)
}
