//! `mig`: the investigator's command line.
//!
//! ```text
//! mig <module> [global options] [module options]   MIG's commands (mig file -path /etc …)
//! mig action create|sign|verify|launch|show|cancel|list
//! mig agents [-t target]
//! mig schedule [create] -interval 60s <module> …   a signed schedule
//! mig schedule list|runs|snapshot|cancel
//! mig config import-migrc
//! mig console
//! mig modules [--schema <module>]
//! ```

mod cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
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
#[command(name = "mig", version, about = "Mozilla InvestiGator client, in Rust", after_help = HELP)]
struct Cli {
    /// Client configuration (default: $MIG_CONFIG, then ~/.config/mig/client.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

const HELP: &str = "Modules run as `mig <module> [options]`, e.g. `mig file -t all -path /etc -name '^passwd$'`;\n`mig <module> -h` lists a module's flags. Exit codes: 0 found, 1 nothing found, 2 error.";

#[derive(Subcommand)]
enum Command {
    /// Create, sign, verify and launch actions.
    #[command(subcommand)]
    Action(cli::action::ActionCommand),
    /// List agents, optionally those a target selects.
    Agents {
        #[arg(short = 't', long)]
        target: Option<String>,
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(mig_core::agent::status::ALL))]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Client configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// An interactive shell: search, inspect, create and launch actions.
    Console,
    /// Release manifests: write one for a folder, or verify a signed release.
    #[command(subcommand)]
    Release(cli::release::ReleaseCommand),
    /// The modules this client knows; with --schema, the JSON Schema of one module's
    /// parameters (what an action's `parameters` for it may hold).
    Modules {
        #[arg(long, value_name = "MODULE")]
        schema: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Convert MIG's ~/.migrc into this client's configuration.
    ImportMigrc {
        #[arg(long)]
        migrc: Option<PathBuf>,
        /// Where to write (default: ~/.config/mig/client.toml).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // A reader that goes away (`mig … | head`) ends `mig` quietly, as it ends `cat`: Rust
    // ignores SIGPIPE and would panic on the next print instead.
    // SAFETY: setting a signal's disposition to its default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args().collect();
    // `mig upgrade --release …` rolls a release out; MIG's `mig upgrade -to_version …` is the
    // module's own command line.
    if args.get(1).is_some_and(|a| a == "upgrade") && cli::upgrade::wanted(&args[2..]) {
        return finish(cli::upgrade::run(&args[2..]));
    }
    // `mig schedule list|runs|snapshot|cancel`; `mig schedule [create] -interval …` is the
    // module's own command line.
    if args.get(1).is_some_and(|a| a == "schedule") {
        if cli::schedule::wanted(&args[2..]) {
            return finish(cli::schedule::run(&args[2..]));
        }
        if args.get(2).is_some_and(|a| a == "create") {
            if let Some(module) = mig_modules::lookup("schedule") {
                return finish(cli::module::run(module, &args[3..]));
            }
        }
    }
    // MIG's `mig <module> …` does not fit clap: modules take Go-style flags.
    if let Some(module) = args.get(1).and_then(|a| mig_modules::lookup(a)) {
        return finish(cli::module::run(module, &args[2..]));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &args),
    };
    let result = match cli.command {
        Command::Action(cmd) => cli::action::run(cmd, cli.config.as_deref()),
        Command::Agents {
            target,
            status,
            json,
        } => mig_client::config::Config::load(&mig_client::config::path(cli.config.as_deref()))
            .and_then(|c| cli::agents::run(&c, target.as_deref(), status.as_deref(), json)),
        Command::Config(ConfigCommand::ImportMigrc { migrc, output }) => {
            import_migrc(migrc, output)
        }
        Command::Console => {
            mig_client::config::Config::load(&mig_client::config::path(cli.config.as_deref()))
                .and_then(cli::console::run)
        }
        Command::Modules { schema } => cli::module::list(schema.as_deref()),
        Command::Release(cmd) => cli::release::run(cmd),
    };
    finish(result)
}

/// A command line clap refuses: one line saying what is wrong (with the values it takes, if
/// that is the problem) and where the help is, not the whole usage.
fn usage_error(e: clap::Error, args: &[String]) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(exit::ERROR);
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    let mut message = rendered
        .lines()
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    if let Some(values) = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("[possible values: "))
    {
        message.push_str(&format!(" (one of {})", values.trim_end_matches(']')));
    }
    let command: Vec<&str> = args
        .iter()
        .skip(1)
        .take_while(|a| !a.starts_with('-'))
        .take(2)
        .map(String::as_str)
        .collect();
    let help = if command.is_empty() {
        "mig -h".to_string()
    } else {
        format!("mig {} -h", command.join(" "))
    };
    eprintln!("mig: {message}; see `{help}`");
    ExitCode::from(exit::ERROR)
}

fn finish(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mig: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn import_migrc(migrc: Option<PathBuf>, output: Option<PathBuf>) -> anyhow::Result<u8> {
    use anyhow::Context;
    let home = mig_client::config::home();
    let migrc = migrc.unwrap_or_else(|| home.join(".migrc"));
    let text = std::fs::read_to_string(&migrc)
        .with_context(|| format!("cannot read {}", migrc.display()))?;
    let converted = mig_client::config::import_migrc(&text)?;
    let out = output.unwrap_or_else(|| home.join(".config/mig/client.toml"));
    if out.exists() {
        anyhow::bail!(
            "{} exists; remove it or choose another file with -o",
            out.display()
        );
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, converted)?;
    println!("wrote {} from {}", out.display(), migrc.display());
    Ok(exit::FOUND)
}
