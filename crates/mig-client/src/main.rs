//! `mig`: the investigator's command line.

mod action_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes a script can rely on.
pub mod exit {
    /// Something was found (or, for commands that do not search, success).
    pub const FOUND: u8 = 0;
    /// Nothing was found, or a verification refused the action.
    pub const NOT_FOUND: u8 = 1;
    /// The command could not do its job (bad input, unreachable server…).
    pub const ERROR: u8 = 2;
}

#[derive(Parser)]
#[command(name = "mig", version, about = "Mozilla InvestiGator client, in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, sign, verify and launch actions.
    #[command(subcommand)]
    Action(action_cmd::ActionCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Action(cmd) => action_cmd::run(cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mig: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
