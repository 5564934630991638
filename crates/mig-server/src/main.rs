//! mig-server: the platform side of MIG. One process runs the REST API, the scheduler and the
//! built-in relay on SQLite; `api` and `scheduler` run the parts alone for scale-out.

mod admission;
mod amqp;
mod api;
mod app;
mod config;
mod dev;
mod export;
mod init;
mod relay;
mod retire;
mod scheduler;
mod whitelist;

use anyhow::Context;
use app::App;
use clap::{Parser, Subcommand};
use config::Config;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "mig-server",
    version,
    about = "MIG server: REST API, scheduler and built-in relay"
)]
struct Cli {
    /// Configuration file (default: $MIG_SERVER_CONFIG, then /etc/mig/server.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log lines as text (coloured on a terminal only) or JSON objects, on stderr.
    #[arg(long, global = true, default_value = "text", value_parser = mig_log::FORMATS)]
    log_format: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one process: API, scheduler, built-in relay (the default).
    Run,
    /// Only the REST API (stateless; run several).
    Api,
    /// Only the scheduler and the relay endpoint.
    Scheduler,
    /// A complete development platform: server, relay, SQLite, N local agents, a dev
    /// investigator and the client's configuration, in one data directory.
    Dev {
        #[arg(long, default_value = "mig-dev")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        agents: usize,
        /// Development investigators (keys and client configurations; 2 to try a two-person
        /// rule, docs/acl.md).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=9))]
        investigators: u16,
        #[arg(long, default_value = "127.0.0.1:8443")]
        api_listen: String,
        #[arg(long, default_value = "127.0.0.1:4443")]
        relay_listen: String,
    },
    /// Manage investigators from the server's machine (to create the first admin).
    #[command(subcommand)]
    Investigator(InvestigatorCommand),
    /// The scheduler's public key (made if missing) and the ACL entry agents need to let it
    /// retire old agents after an upgrade, and nothing else (docs/upgrade.md).
    SchedulerKey,
    /// Create a data directory: certificates (CA, server, agent bundle) and server.toml.
    Init {
        #[arg(long)]
        data_dir: PathBuf,
        /// Names and addresses agents and clients use to reach the server.
        #[arg(long = "server-name", default_values_t = vec!["localhost".to_string(), "127.0.0.1".to_string()])]
        server_names: Vec<String>,
        #[arg(long, default_value = "127.0.0.1:8443")]
        api_listen: String,
        #[arg(long, default_value = "0.0.0.0:4443")]
        relay_listen: String,
    },
}

#[derive(Subcommand)]
enum InvestigatorCommand {
    /// Add an investigator from an armored public key file.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        key: PathBuf,
        /// readonly, investigator or admin.
        #[arg(long, default_value = "investigator")]
        permission: String,
    },
    /// List investigators.
    List,
    /// Disable an investigator (by fingerprint).
    Disable { fingerprint: String },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    mig_log::init(&cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mig-server: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mig-server: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn config_path(cli: &Option<PathBuf>) -> PathBuf {
    cli.clone()
        .or_else(|| std::env::var_os("MIG_SERVER_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/mig/server.toml"))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Run);
    if let Command::Init {
        data_dir,
        server_names,
        api_listen,
        relay_listen,
    } = &command
    {
        let path = init::init(data_dir, server_names, api_listen, relay_listen)?;
        println!("created {}", path.display());
        return Ok(());
    }
    if let Command::Dev {
        data_dir,
        agents,
        investigators,
        api_listen,
        relay_listen,
    } = command
    {
        return dev::run(dev::DevOptions {
            data_dir,
            agents,
            investigators: investigators as usize,
            api_listen,
            relay_listen,
        })
        .await;
    }
    let path = config_path(&cli.config);
    let config = Config::load(&path)?;
    if let Command::SchedulerKey = command {
        let signer = retire::ensure_key(&config)?;
        let (_, public) = retire::key_paths(&config);
        let entry = serde_json::json!({"agentdestroy": {"minimumweight": 1, "investigators": {
            retire::SCHEDULER_NAME: {"fingerprint": mig_pgp::Signer::fingerprint(&signer), "weight": 1}
        }}});
        println!(
            "public key: {}
fingerprint: {}

Add the key to the agents' keyring and this entry to their ACL (never to \"default\"):\n{}",
            public.display(),
            mig_pgp::Signer::fingerprint(&signer),
            serde_json::to_string_pretty(&entry)?
        );
        return Ok(());
    }
    if let Command::Investigator(cmd) = command {
        return investigator(&config, cmd).await;
    }
    let (api, sched) = match command {
        Command::Api => (true, false),
        Command::Scheduler => (false, true),
        _ => (true, true),
    };
    start(config, api, sched).await
}

/// Starts the selected parts and runs until one of them fails.
pub async fn start(config: Config, api: bool, sched: bool) -> anyhow::Result<()> {
    let store = mig_store::Store::connect(&config.database_url()).await?;
    let acl = match &config.acl {
        Some(p) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("cannot read ACL {}", p.display()))?;
            Some(mig_core::Acl::from_json(&bytes).with_context(|| format!("ACL {}", p.display()))?)
        }
        None => None,
    };
    let app = Arc::new(App::new(store, config, acl)?);
    let mut tasks = tokio::task::JoinSet::new();
    if api {
        let c = &app.config.api;
        let listener = tokio::net::TcpListener::bind(&c.listen)
            .await
            .with_context(|| format!("api.listen {}", c.listen))?;
        let tls = if c.tls {
            let cert = c
                .cert
                .clone()
                .unwrap_or_else(|| app.config.pki("server.pem"));
            let key = c
                .key
                .clone()
                .unwrap_or_else(|| app.config.pki("server.key"));
            Some(mig_relay::tls::server_config(&cert, &key, None)?)
        } else {
            None
        };
        tracing::info!(
            "API listening on {}://{}",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr()?
        );
        tasks.spawn(api::serve(listener, app.clone(), tls));
    }
    if sched {
        let key = retire::load_or_create(&app).await?;
        let _ = app.scheduler_key.set(Arc::new(key));
        let results = relay::start_result_writer(&app)?;
        if let Some(settings) = amqp::settings(&app) {
            tasks.spawn(amqp::run(app.clone(), settings, results.clone()));
        }
        let c = &app.config.relay;
        if !c.listen.is_empty() {
            let ca = c.ca.clone().unwrap_or_else(|| app.config.pki("ca.pem"));
            let cert = c
                .cert
                .clone()
                .unwrap_or_else(|| app.config.pki("server.pem"));
            let key = c
                .key
                .clone()
                .unwrap_or_else(|| app.config.pki("server.key"));
            let settings = mig_relay::builtin::server::ServerSettings {
                tls: mig_relay::tls::server_config(&cert, &key, Some(&ca))?,
                max_message: c.max_message_bytes,
                handshake_timeout: std::time::Duration::from_secs(10),
                ping_interval: config::duration(&c.ping_interval, "relay.ping_interval")?,
            };
            let listener = tokio::net::TcpListener::bind(&c.listen)
                .await
                .with_context(|| format!("relay.listen {}", c.listen))?;
            let fds = mig_relay::builtin::server::raise_fd_limit();
            tracing::info!(
                "relay listening on wss://{} (up to {fds} open files)",
                listener.local_addr()?
            );
            let backend = relay::RelayBackend::new(app.clone(), results.clone())?;
            tasks.spawn(mig_relay::builtin::server::serve(
                listener,
                settings,
                backend,
                app.hub.clone(),
            ));
        }
        let scheduler = scheduler::Scheduler::new(app.clone())?;
        tasks.spawn(scheduler.run());
        let _ = app.export_stats.set(export::start(&app)?);
    }
    match tasks.join_next().await {
        Some(Err(e)) => Err(anyhow::anyhow!("a server task failed: {e}")),
        _ => Err(anyhow::anyhow!("a server task stopped")),
    }
}

async fn investigator(config: &Config, cmd: InvestigatorCommand) -> anyhow::Result<()> {
    let store = mig_store::Store::connect(&config.database_url()).await?;
    match cmd {
        InvestigatorCommand::Add {
            name,
            key,
            permission,
        } => {
            let text = std::fs::read_to_string(&key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let mut ring = mig_pgp::Keyring::new();
            ring.add_bytes(text.as_bytes(), &key.display().to_string())?;
            let fp = ring
                .keys()
                .next()
                .map(|k| k.fingerprint.clone())
                .context("no key in the file")?;
            let inv = store
                .create_investigator(&name, &text, &fp, &permission, app::now_ms())
                .await?;
            println!(
                "investigator {} ({}) added with permission {}: id {}",
                inv.name, inv.pgpfingerprint, inv.permission, inv.id
            );
        }
        InvestigatorCommand::List => {
            for i in store.list_investigators(false).await? {
                println!(
                    "{:>18}  {:<9} {:<13} {}  {}",
                    i.id, i.status, i.permission, i.pgpfingerprint, i.name
                );
            }
        }
        InvestigatorCommand::Disable { fingerprint } => {
            let fp = fingerprint.replace(' ', "").to_uppercase();
            let inv = store
                .investigator_by_fingerprint(&fp)
                .await?
                .with_context(|| format!("no investigator with fingerprint {fp}"))?;
            store
                .set_investigator_status(
                    inv.id,
                    mig_store::investigators::STATUS_DISABLED,
                    app::now_ms(),
                )
                .await?;
            println!("investigator {} disabled", inv.name);
        }
    }
    Ok(())
}
