//! mig-agent: the program on every endpoint. It connects out to its relay, runs what its own
//! keyring and ACL allow (each operation in a sandboxed child process), and reports back.
//!
//! ```text
//! mig-agent [--config FILE]             run as a daemon (foreground; systemd restarts it)
//! mig-agent --checkin                   check-in mode: run what is queued, then exit
//! mig-agent -m <module> [-p]            run one module on parameters read from stdin
//! mig-agent -i action.json              run an action file locally, without the relay
//! mig-agent audit                       print the audit log
//! mig-agent shell ["SQL"]               osquery-style SQL over this machine (osqueryi)
//! ```

mod audit;
mod config;
mod events;
mod executor;
mod footprint;
mod gate;
mod handover;
mod hostinfo;
mod identity;
mod inflight;
mod install;
mod local;
mod module_mode;
mod outbox;
mod runtime;
mod sandbox;
mod schedules;
mod seccomp;
mod shell;
mod trust;
mod upgrade;
mod version;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mig-agent", version, about = "MIG agent, in Rust")]
struct Cli {
    /// Configuration file (default: $MIG_AGENT_CONFIG, then /etc/mig/agent.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log lines as text (coloured on a terminal only) or JSON objects, on stderr.
    #[arg(long, global = true, default_value = "text", value_parser = mig_log::FORMATS)]
    log_format: String,
    /// Run one module: read {"class":"parameters",…} on stdin, print its result on stdout.
    /// `-m agent-checkin` is MIG's spelling of --checkin.
    #[arg(short = 'm', value_name = "MODULE")]
    module: Option<String>,
    /// With -m: print the result in MIG's human-readable form instead of JSON.
    #[arg(short = 'p', long = "pretty")]
    pretty: bool,
    /// With -m: confine the module first (how the agent runs modules).
    #[arg(long, hide = true)]
    sandbox: bool,
    /// Run an action file locally (no relay, no signatures needed) and print the results.
    #[arg(short = 'i', value_name = "ACTION.json")]
    input: Option<PathBuf>,
    /// Check-in mode: connect, run queued commands, send results, exit when idle.
    #[arg(long)]
    checkin: bool,
    /// Set by an upgrading agent on the new agent it starts: the old agent's pid.
    #[arg(long, hide = true, value_name = "PID")]
    upgraded_from: Option<u32>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the audit log: every action received, who signed it, what ran or was refused.
    Audit,
    /// An interactive SQL shell over this machine's tables (the query module), like osqueryi;
    /// with a statement, run it and exit.
    Shell { statement: Option<String> },
    /// Print this agent's queueloc and public key (creating them on first use), e.g. to
    /// provision its own RabbitMQ user.
    Identity,
    /// Install this binary as a service: /usr/local/sbin/mig-agent, a systemd unit (or a SysV
    /// init script), /etc/mig and the state directory; with --config, that file as
    /// /etc/mig/agent.toml. Enables and starts the service unless --root or --no-start.
    Install {
        /// Install below this directory instead of / (starts nothing).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// How the service starts at boot.
        #[arg(long, value_enum, default_value = "auto")]
        init: install::Init,
        /// Check-in mode: a systemd timer runs the agent every 10 minutes.
        #[arg(long)]
        checkin: bool,
        /// Write the files but do not enable or start the service.
        #[arg(long)]
        no_start: bool,
    },
    /// Stop the service and remove what `install` made (listed in its manifest).
    Uninstall {
        /// The directory the agent was installed below.
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Also remove the agent's state (its identity) and /etc/mig.
        #[arg(long)]
        purge: bool,
    },
}

/// The command line, with `--version` saying what the version section says.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().version(version::current()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn config_path(cli: &Option<PathBuf>) -> PathBuf {
    cli.clone()
        .or_else(|| std::env::var_os("MIG_AGENT_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/mig/agent.toml"))
}

fn main() -> ExitCode {
    let cli = parse_cli();
    if let Some(Command::Shell { statement }) = &cli.command {
        return match shell::run(statement.clone()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mig-agent: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(done) = match &cli.command {
        Some(Command::Install {
            root,
            init,
            checkin,
            no_start,
        }) => Some(install::install(&install::InstallOptions {
            root: root.clone(),
            config: cli.config.clone(),
            init: *init,
            checkin: *checkin,
            no_start: *no_start,
        })),
        Some(Command::Uninstall { root, purge }) => Some(install::uninstall(root, *purge)),
        _ => None,
    } {
        return match done {
            Ok(lines) => {
                for line in lines {
                    println!("{line}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mig-agent: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(module) = cli.module.as_deref().filter(|m| *m != "agent-checkin") {
        return module_mode::run(module, cli.pretty, cli.sandbox);
    }
    mig_log::init(&cli.log_format);
    let result = (|| -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        if let Some(path) = &cli.input {
            return rt.block_on(local::run_file(path));
        }
        let path = config_path(&cli.config);
        let config = config::Config::load(&path)?;
        if let Some(Command::Audit) = cli.command {
            return audit::print(&config.audit_log);
        }
        if let Some(Command::Identity) = cli.command {
            let (_, identity) = runtime::host_and_identity(&config)?;
            println!("queueloc  {}", identity.queueloc);
            println!("publickey {}", identity.public_key_base64());
            return Ok(());
        }
        let checkin = cli.checkin || cli.module.as_deref() == Some("agent-checkin");
        let mode = if checkin {
            mig_core::agent::AgentMode::Checkin
        } else {
            mig_core::agent::AgentMode::Daemon
        };
        rt.block_on(async {
            let launch = runtime::Launch {
                args: vec![
                    "--config".into(),
                    path.clone().into(),
                    "--log-format".into(),
                    cli.log_format.clone().into(),
                ],
                upgraded_from: cli.upgraded_from,
            };
            let runtime = runtime::Runtime::new(config, mode, launch)?;
            runtime.recover_unfinished();
            if checkin {
                runtime.run_checkin().await
            } else {
                runtime.run_daemon().await
            }
        })
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mig-agent: {e:#}");
            ExitCode::from(2)
        }
    }
}
