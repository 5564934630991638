//! mig-bench: load tools for benchmarks.
//!
//! `mig-bench swarm` starts N simulated agents on a real relay (built-in or RabbitMQ), waits
//! until the server lists them all, launches a signed action targeting all of them through the
//! API, sends a wave of N heartbeats, launches a second action, and measures: the time from
//! each launch to the last result stored (the second is the steady state, the first includes
//! what a relay sets up on its first message to an agent), results per second, the server
//! processes' CPU and memory, and the rate at which the server takes the heartbeat wave.
//! bench/swarm/run.sh runs it against both deployment shapes.

#![forbid(unsafe_code)]

mod procstat;
mod sim;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mig_client::api::{Auth, Client};
use mig_pgp::KeySigner;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "mig-bench", about = "MIG load tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes an investigator key pair: <dir>/investigator.sec.asc and investigator.pub.asc.
    Keygen {
        #[arg(long)]
        name: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// N simulated agents, one action to all of them, measured.
    Swarm(SwarmArgs),
}

#[derive(clap::Args)]
struct SwarmArgs {
    /// wss://host:port/ (built-in relay) or amqp(s)://user:password@host/vhost.
    #[arg(long)]
    relay: String,
    /// The relay's (or broker's) CA, and the agents' client certificate and key.
    #[arg(long)]
    ca: Option<PathBuf>,
    #[arg(long)]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Built-in relay: connections being set up at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// RabbitMQ: agents per AMQP connection.
    #[arg(long, default_value_t = 100)]
    per_connection: usize,
    /// The API's URL and CA, and the investigator's secret key (an admin or investigator).
    #[arg(long)]
    api: String,
    #[arg(long)]
    api_ca: PathBuf,
    #[arg(long)]
    investigator_key: PathBuf,
    /// Server processes to measure (repeat for api + schedulers).
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// A label for the results line.
    #[arg(long, default_value = "")]
    label: String,
}

/// The target that selects every simulated agent.
const ALL_SWARM_AGENTS: &str = "name LIKE 'swarm-%'";

fn main() -> anyhow::Result<()> {
    // Ten thousand connections need ten thousand descriptors.
    mig_relay::builtin::server::raise_fd_limit();
    match Cli::parse().command {
        Command::Keygen { name, dir } => keygen(&name, &dir),
        Command::Swarm(args) => swarm(args),
    }
}

fn keygen(name: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    use mig_pgp::keygen::{armored_secret, generate_key, KeyAlgorithm};
    std::fs::create_dir_all(dir)?;
    let key = generate_key(name, KeyAlgorithm::Ed25519, false)?;
    let signer = KeySigner::new(key.clone(), None)?;
    std::fs::write(dir.join("investigator.sec.asc"), armored_secret(&key)?)?;
    std::fs::write(
        dir.join("investigator.pub.asc"),
        signer.public_key_armored()?,
    )?;
    println!("{}", dir.join("investigator.pub.asc").display());
    Ok(())
}

fn swarm(args: SwarmArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let swarm = sim::Swarm::new();
    let api = api_client(&args)?;
    let n = args.agents;

    // 1. Agents connect and register.
    let started = Instant::now();
    runtime.block_on(start(&args, swarm.clone()))?;
    wait_until(
        &format!("{n} agents registered"),
        Duration::from_secs(600),
        || Ok(api.preview(ALL_SWARM_AGENTS)?.0 as usize >= n),
        &swarm,
    )?;
    let registered = started.elapsed();

    // 2. An action to all of them, on queues and connections that never carried one; then,
    // after the heartbeat wave, a second one: the steady state of a fleet whose relay has
    // carried actions before (RabbitMQ sets up a queue's files on its first persistent
    // message, so the first action also measures that one-time cost).
    let signer = KeySigner::from_file(&args.investigator_key, None)?;
    let initial = fan_out(&api, &signer, &swarm, n, &args.server_pids, "first")?;

    // 3. A heartbeat wave: every agent announces a new version at once.
    let wave = Instant::now();
    swarm.version.send_replace("bench-2".into());
    wait_until(
        "the heartbeat wave",
        Duration::from_secs(600),
        || Ok(api.preview("version = 'bench-2'")?.0 as usize >= n),
        &swarm,
    )?;
    let wave_time = wave.elapsed();

    let steady = fan_out(&api, &signer, &swarm, n, &args.server_pids, "second")?;

    let (rss, peak): (f64, f64) = args
        .server_pids
        .iter()
        .filter_map(|p| procstat::rss_mib(*p).ok())
        .fold((0.0, 0.0), |(r, p), (r1, p1)| (r + r1, p + p1));
    let report = serde_json::json!({
        "label": args.label,
        "agents": n,
        "registration_s": registered.as_secs_f64(),
        "launch_to_last_result_s": steady.last.as_secs_f64(),
        "launch_to_first_result_s": steady.first.as_secs_f64(),
        "results_per_s": steady.rate(n),
        "server_cpu_s_during_fanout": steady.cpu,
        "first_action_launch_to_last_result_s": initial.last.as_secs_f64(),
        "first_action_server_cpu_s": initial.cpu,
        "heartbeat_wave_s": wave_time.as_secs_f64(),
        "heartbeats_per_s": n as f64 / wave_time.as_secs_f64(),
        "server_rss_mib": rss,
        "server_peak_rss_mib": peak,
        "swarm_failures": swarm.failures.load(Ordering::Relaxed),
        "first_command_received_s": steady.since_launch(steady.timeline.first_command),
        "last_command_received_s": steady.since_launch(steady.timeline.last_command),
        "last_result_sent_s": steady.since_launch(steady.timeline.last_result_sent),
    });
    println!("{report}");
    eprintln!(
        "| {} | {n} | {:.2} s | {:.2} s | {:.0}/s | {:.2} s CPU | {:.0} MiB (peak {:.0}) | {:.0}/s | {:.1} s |",
        args.label,
        steady.last.as_secs_f64(),
        initial.last.as_secs_f64(),
        steady.rate(n),
        steady.cpu,
        rss,
        peak,
        n as f64 / wave_time.as_secs_f64(),
        registered.as_secs_f64(),
    );
    if let Some(settings) = amqp_settings(&args) {
        let cleanup = sim::delete_amqp_queues(&swarm, &settings);
        let deleting = Instant::now();
        match runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(300), cleanup).await })
        {
            Ok(Ok(())) => eprintln!(
                "swarm: deleted the agents' queues in {:.1} s",
                deleting.elapsed().as_secs_f64()
            ),
            Ok(Err(e)) => eprintln!("swarm: could not delete the agents' queues: {e:#}"),
            Err(_) => eprintln!("swarm: deleting the agents' queues took over 300 s: given up"),
        }
    }
    Ok(())
}

/// One action's fan-out, timed from its launch.
struct FanOut {
    launched: Instant,
    /// Launch to the first and the last result stored.
    first: Duration,
    last: Duration,
    /// The server processes' CPU time over it.
    cpu: f64,
    /// When the swarm saw its first and last command and sent its last result.
    timeline: sim::Timeline,
}

impl FanOut {
    /// Seconds from this action's launch to `t`.
    fn since_launch(&self, t: Option<Instant>) -> Option<f64> {
        t.map(|t| (t - self.launched).as_secs_f64())
    }

    /// Results per second, from the first agent receiving its command to the last result
    /// stored. (Not from the first result stored: under load the API's answer to a poll can
    /// come late enough to see the first and the last result at once.)
    fn rate(&self, n: usize) -> f64 {
        let started = self
            .timeline
            .first_command
            .map_or(Duration::ZERO, |t| t - self.launched);
        n as f64 / self.last.saturating_sub(started).as_secs_f64().max(0.001)
    }
}

/// Launches one signed action targeting the swarm's `n` agents through the API and waits for
/// all their results.
fn fan_out(
    api: &Client,
    signer: &KeySigner,
    swarm: &sim::Swarm,
    n: usize,
    server_pids: &[u32],
    name: &str,
) -> anyhow::Result<FanOut> {
    swarm.reset_timeline();
    let cpu_before = cpu_total(server_pids);
    let op = mig_core::Operation::new(
        "file",
        serde_json::json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"]}}}),
    );
    let mut action = mig_client::build::action(
        &format!("swarm {n} {name} {}", std::process::id()),
        ALL_SWARM_AGENTS,
        vec![op],
        Duration::from_secs(600),
        false,
    );
    mig_client::build::sign(&mut action, signer)?;
    let launched = Instant::now();
    let id = api.create_action(&action)?.id;
    let mut first = None;
    let last = loop {
        let a = api.action(id)?;
        if a.counters.done > 0 && first.is_none() {
            first = Some(launched.elapsed());
        }
        if a.counters.done as usize >= n {
            break launched.elapsed();
        }
        if launched.elapsed() > Duration::from_secs(600) {
            anyhow::bail!(
                "action {id}: {} of {n} results after 600 s",
                a.counters.done
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(FanOut {
        launched,
        first: first.unwrap_or(last),
        last,
        cpu: cpu_total(server_pids) - cpu_before,
        timeline: swarm.timeline(),
    })
}

async fn start(args: &SwarmArgs, swarm: std::sync::Arc<sim::Swarm>) -> anyhow::Result<()> {
    if args.relay.starts_with("wss://") {
        let ca = args.ca.as_ref().context("--ca is needed for wss://")?;
        let cert = args.cert.as_ref().context("--cert is needed for wss://")?;
        let key = args.key.as_ref().context("--key is needed for wss://")?;
        let settings = mig_relay::builtin::client::ClientSettings {
            url: args.relay.clone(),
            tls: mig_relay::tls::client_config(ca, Some((cert, key)))?,
            proxy: None,
            max_message: mig_relay::protocol::DEFAULT_MAX_MESSAGE,
            timeout: Duration::from_secs(60),
        };
        // Connections go on in the background; the caller waits for registrations.
        let n = args.agents;
        let concurrency = args.connect_concurrency;
        tokio::spawn(sim::start_builtin(swarm, settings, n, concurrency));
        return Ok(());
    }
    let settings = amqp_settings(args).context("--relay: wss://, amqp:// or amqps://")?;
    let (n, per) = (args.agents, args.per_connection.max(1));
    tokio::spawn(async move {
        if let Err(e) = sim::start_amqp(swarm.clone(), settings, n, per).await {
            eprintln!("swarm: {e:#}");
            swarm.failures.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(())
}

/// The broker's settings, when the relay is RabbitMQ.
fn amqp_settings(args: &SwarmArgs) -> Option<mig_relay::amqp::AmqpSettings> {
    let tls = args.relay.starts_with("amqps://");
    (tls || args.relay.starts_with("amqp://")).then(|| mig_relay::amqp::AmqpSettings {
        url: args.relay.clone(),
        ca: args.ca.clone().filter(|_| tls),
        cert: args.cert.clone().filter(|_| tls),
        key: args.key.clone().filter(|_| tls),
    })
}

fn api_client(args: &SwarmArgs) -> anyhow::Result<Client> {
    let config = mig_client::config::Config {
        api: args.api.clone(),
        ca: Some(args.api_ca.clone()),
        ..Default::default()
    };
    let signer = KeySigner::from_file(&args.investigator_key, None)?;
    Client::new(&config, Auth::Token(Box::new(signer)))
}

fn cpu_total(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|p| procstat::cpu_seconds(*p).ok())
        .sum()
}

/// Polls `done` every 50 ms; gives up (with the swarm's state) after `timeout`.
fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> anyhow::Result<bool>,
    swarm: &sim::Swarm,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while !done()? {
        if start.elapsed() > timeout {
            anyhow::bail!(
                "{what}: not after {}s ({} connected, {} failures)",
                timeout.as_secs(),
                swarm.connected.load(Ordering::Relaxed),
                swarm.failures.load(Ordering::Relaxed)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
