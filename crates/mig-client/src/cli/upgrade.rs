//! `mig upgrade`: a fleet upgrade from a release folder, in waves.
//!
//! ```text
//! mig upgrade --release DIR [--url URL] [-t TARGET] [--canary 5%] [-e 1h] [--allow-downgrade] [--save PLAN]
//! mig upgrade --plan PLAN [--sign]        another investigator signs a saved plan, or it is run
//! mig upgrade status [-t TARGET]          which agents run which version, and old agent
//!                                         processes the scheduler could not retire
//! ```
//!
//! The release folder holds `mig-agent-<os>-<arch>` binaries (Go's names: linux-amd64); their
//! version is read from their version section and their SHA-256 computed here, so what is
//! signed is what the folder holds. Every wave's action is built and signed up front (a plan);
//! the canary wave is launched first, the rest only once every canary answered success and
//! reports the new version. MIG's module form (`mig upgrade -to_version … -location …
//! -checksum …`) still works for a single action.

use super::output::columns;
use crate::exit;
use anyhow::{bail, Context};
use mig_client::api::Client;
use mig_client::build;
use mig_client::config::Config;
use mig_core::{Action, Operation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Parser)]
#[command(
    name = "mig upgrade",
    about = "Upgrade agents from a release folder, in waves"
)]
pub struct UpgradeCli {
    /// Client configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The release folder: mig-agent-<os>-<arch> binaries of one version.
    #[arg(long, conflicts_with = "plan")]
    release: Option<PathBuf>,
    /// Where agents download the binaries (the folder's URL); default: the server's
    /// /releases/<folder name>.
    #[arg(long)]
    url: Option<String>,
    /// The agents to upgrade (a target or a macro).
    #[arg(short = 't', long, default_value = "status='online'")]
    target: String,
    /// A first wave of this share of the agents (e.g. 5%); the rest once they are healthy.
    #[arg(long)]
    canary: Option<String>,
    /// How long each wave's action stays valid.
    #[arg(short = 'e', long, default_value = "1h")]
    expiration: String,
    /// Let agents install a version older than theirs.
    #[arg(long)]
    allow_downgrade: bool,
    /// Write the signed plan to this file instead of running it (for a second signer).
    #[arg(long)]
    save: Option<PathBuf>,
    /// A plan saved with --save.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// With --plan: add your signature to every wave and write the plan back.
    #[arg(long, requires = "plan")]
    sign: bool,
    #[command(subcommand)]
    command: Option<UpgradeCommand>,
}

#[derive(clap::Subcommand)]
enum UpgradeCommand {
    /// Agents by version.
    Status {
        #[arg(short = 't', long, default_value = "status='online'")]
        target: String,
    },
}

/// Does `mig upgrade …` mean this command (not MIG's module form, `-to_version …`)?
pub fn wanted(args: &[String]) -> bool {
    args.first().is_some_and(|a| a == "status")
        || args.iter().any(|a| {
            a == "--release"
                || a == "--plan"
                || a.starts_with("--release=")
                || a.starts_with("--plan=")
        })
}

/// Every wave, signed.
#[derive(Serialize, Deserialize)]
struct Plan {
    version: String,
    waves: Vec<Wave>,
}

#[derive(Serialize, Deserialize)]
struct Wave {
    /// `canary` or `rest`.
    name: String,
    /// The agents in the wave, by id (the canaries' ids decide both waves' targets).
    agents: Vec<u64>,
    action: Action,
}

pub fn run(args: &[String]) -> anyhow::Result<u8> {
    use clap::Parser;
    let cli = UpgradeCli::try_parse_from(
        std::iter::once("mig upgrade".to_string()).chain(args.iter().cloned()),
    )
    .unwrap_or_else(|e| e.exit());
    let config = Config::load(&mig_client::config::path(cli.config.as_deref()))?;
    if let Some(UpgradeCommand::Status { target }) = &cli.command {
        return status(&config, &config.target(target));
    }
    if let Some(path) = &cli.plan {
        let mut plan: Plan = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )
        .with_context(|| format!("{} is not an upgrade plan", path.display()))?;
        if cli.sign {
            let signer = mig_client::signing::signer(&config)?;
            for wave in &mut plan.waves {
                build::sign(&mut wave.action, signer.as_ref())?;
            }
            std::fs::write(path, serde_json::to_vec_pretty(&plan)?)?;
            println!("signed every wave of {}", path.display());
            return Ok(exit::FOUND);
        }
        return roll_out(&config, &plan);
    }
    let Some(release) = &cli.release else {
        bail!("give --release DIR, --plan FILE or `status` (mig upgrade --help)");
    };
    let plan = prepare(&config, &cli, release)?;
    match &cli.save {
        Some(path) => {
            std::fs::write(path, serde_json::to_vec_pretty(&plan)?)?;
            println!(
                "plan for {} saved to {} ({} wave(s), signed by you); another signer: mig upgrade --plan {} --sign; then run it: mig upgrade --plan {}",
                plan.version,
                path.display(),
                plan.waves.len(),
                path.display(),
                path.display()
            );
            Ok(exit::FOUND)
        }
        None => roll_out(&config, &plan),
    }
}

/// The parameters for the release folder's binaries: their version, and the instruction
/// for each os/arch.
fn release_parameters(
    dir: &Path,
    url: &str,
    allow_downgrade: bool,
) -> anyhow::Result<(String, serde_json::Value)> {
    let mut instructions = BTreeMap::new();
    let mut version: Option<String> = None;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(platform) = name.strip_prefix("mig-agent-") else {
            continue;
        };
        let Some((os, arch)) = platform.split_once('-') else {
            bail!("{name}: expected mig-agent-<os>-<arch>, e.g. mig-agent-linux-amd64");
        };
        let file = std::fs::File::open(entry.path())?;
        let v = mig_modules::agent_binary::version_of(&file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", entry.path().display()))?;
        if let Some(first) = &version {
            if *first != v {
                bail!("the release folder mixes versions: {first} and {v} ({name})");
            }
        }
        version = Some(v.clone());
        let data = std::fs::read(entry.path())?;
        let checksum = mig_modules::os::hash::hex(&<sha2::Sha256 as sha2::Digest>::digest(&data));
        let mut instruction = serde_json::json!({
            "to_version": v,
            "location": format!("{}/{name}", url.trim_end_matches('/')),
            "checksum": checksum,
        });
        if allow_downgrade {
            instruction["allow_downgrade"] = serde_json::Value::Bool(true);
        }
        instructions.insert(format!("{os}/{arch}"), instruction);
    }
    let version =
        version.with_context(|| format!("no mig-agent-<os>-<arch> binary in {}", dir.display()))?;
    Ok((version, serde_json::to_value(instructions)?))
}

/// The share of `total` a `--canary 5%` asks for: at least one agent.
fn canary_count(share: &str, total: usize) -> anyhow::Result<usize> {
    let pct: f64 = share
        .trim_end_matches('%')
        .parse()
        .ok()
        .filter(|p: &f64| *p > 0.0 && *p < 100.0)
        .with_context(|| format!("--canary {share:?}: expected a share such as 5%"))?;
    Ok(((total as f64 * pct / 100.0).ceil() as usize).clamp(1, total))
}

fn id_list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn prepare(config: &Config, cli: &UpgradeCli, release: &Path) -> anyhow::Result<Plan> {
    let folder = release
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let url = cli
        .url
        .clone()
        .unwrap_or_else(|| format!("{}/releases/{folder}", config.api.trim_end_matches('/')));
    let (version, parameters) = release_parameters(release, &url, cli.allow_downgrade)?;
    let client = Client::from_config(config)?;
    let target = config.target(&cli.target);
    let agents: Vec<u64> = client
        .agents(&[("target", target.clone()), ("limit", "100000".into())])?
        .iter()
        .map(|a| a.id)
        .collect();
    if agents.is_empty() {
        bail!("the target selects no agent: {target}");
    }
    let expiration = build::parse_duration(&cli.expiration)?;
    let signer = mig_client::signing::signer(config)?;
    let wave = |name: &str, wave_target: String, ids: Vec<u64>| -> anyhow::Result<Wave> {
        let op = Operation::new("upgrade", parameters.clone());
        let mut action = build::action(
            &format!("upgrade to {version} ({name})"),
            &wave_target,
            vec![op],
            expiration,
            false,
        );
        build::sign(&mut action, signer.as_ref())?;
        Ok(Wave {
            name: name.into(),
            agents: ids,
            action,
        })
    };
    let waves = match &cli.canary {
        None => vec![wave("all", target.clone(), agents)?],
        Some(share) => {
            let n = canary_count(share, agents.len())?;
            let (canaries, rest) = agents.split_at(n);
            let mut waves = vec![wave(
                "canary",
                format!("({target}) AND id IN ({})", id_list(canaries)),
                canaries.to_vec(),
            )?];
            if !rest.is_empty() {
                waves.push(wave(
                    "rest",
                    format!("({target}) AND id NOT IN ({})", id_list(canaries)),
                    rest.to_vec(),
                )?);
            }
            waves
        }
    };
    Ok(Plan { version, waves })
}

/// Launches the waves in turn; a wave whose agents are not all healthy stops the rollout.
fn roll_out(config: &Config, plan: &Plan) -> anyhow::Result<u8> {
    let client = Client::from_config(config)?;
    for wave in &plan.waves {
        let launched = client.create_action(&wave.action)?;
        println!(
            "wave {}: action {} upgrading {} agent(s) to {}",
            wave.name,
            launched.id,
            wave.agents.len(),
            plan.version
        );
        let healthy = follow_wave(
            &client,
            launched.id,
            &plan.version,
            wave.action.expireafter.0,
        )?;
        if !healthy {
            println!(
                "wave {} is not healthy: the rollout stops here (the later waves were not launched)",
                wave.name
            );
            return Ok(exit::NOT_FOUND);
        }
        println!("wave {}: every agent runs {}", wave.name, plan.version);
    }
    Ok(exit::FOUND)
}

/// Waits for a wave's action to finish and its agents to report the version; prints each
/// agent's outcome. Healthy: every command succeeded and every agent reports `version`.
fn follow_wave(
    client: &Client,
    id: u64,
    version: &str,
    expires: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<bool> {
    loop {
        let action = client.action(id)?;
        if action.status.is_finished() {
            break;
        }
        if chrono::Utc::now() > expires + chrono::Duration::minutes(1) {
            bail!("action {id} did not finish before it expired");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let commands = client.commands(id, None)?;
    let mut healthy = true;
    let mut upgraded = Vec::new();
    for c in &commands {
        let line = match c.results.first() {
            Some(r) if c.status == mig_core::command::status::SUCCESS => {
                upgraded.push(c.agent.id);
                format!(
                    "upgraded from {} (old process {})",
                    r.elements["oldversion"].as_str().unwrap_or("?"),
                    r.elements["oldpid"]
                )
            }
            Some(r) => {
                healthy = false;
                format!("{}: {}", c.status, r.errors.join("; "))
            }
            None => {
                healthy = false;
                c.status.to_string()
            }
        };
        println!("  {:<30} {line}", c.agent.name);
    }
    // The new agents' heartbeats carry the version.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lagging: Vec<String> = upgraded
            .iter()
            .filter_map(|agent| {
                let a = client.agents(&[("target", format!("id = {agent}"))]).ok()?;
                let a = a.into_iter().next()?;
                (a.version != version || a.status != mig_core::agent::status::ONLINE)
                    .then_some(a.name)
            })
            .collect();
        if lagging.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            println!("  not reporting {version} online: {}", lagging.join(", "));
            return Ok(false);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(healthy && !commands.is_empty())
}

/// `mig upgrade status`: agents by version.
fn status(config: &Config, target: &str) -> anyhow::Result<u8> {
    let client = Client::from_config(config)?;
    let agents = client.agents(&[("target", target.to_string()), ("limit", "100000".into())])?;
    let mut by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &agents {
        by_version
            .entry(a.version.clone())
            .or_default()
            .push(a.name.clone());
    }
    let rows: Vec<Vec<String>> = by_version
        .iter()
        .map(|(v, names)| {
            let mut shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if names.len() > 5 {
                shown.push_str(", …");
            }
            vec![v.clone(), names.len().to_string(), shown]
        })
        .collect();
    for line in columns(&["VERSION", "AGENTS", "SOME OF THEM"], &rows) {
        println!("{line}");
    }
    // Old agent processes the scheduler could not retire after their upgrade.
    let retirements = client.actions(&[("name", "retire old agent%".to_string())])?;
    for action in retirements
        .iter()
        .filter(|a| a.status.is_finished() && a.counters.success == 0)
    {
        for c in client.commands(action.id, None)? {
            let why = c
                .results
                .first()
                .map(|r| {
                    if r.errors.is_empty() {
                        format!("it runs version {}", r.elements["version"])
                    } else {
                        r.errors.join("; ")
                    }
                })
                .unwrap_or_else(|| c.status.to_string());
            println!(
                "old agent still running on {} ({}): {why} (action {})",
                c.agent.name, action.name, action.id
            );
        }
    }
    Ok(if agents.is_empty() {
        exit::NOT_FOUND
    } else {
        exit::FOUND
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canaries_are_a_share_of_at_least_one_agent() {
        assert_eq!(canary_count("5%", 100).unwrap(), 5);
        assert_eq!(canary_count("5%", 3).unwrap(), 1);
        assert_eq!(canary_count("50", 3).unwrap(), 2);
        assert!(canary_count("0%", 3).is_err());
        assert!(canary_count("abc", 3).is_err());
    }

    #[test]
    fn the_module_form_stays_migs() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!wanted(&args(&[
            "-to_version",
            "1",
            "-location",
            "https://x"
        ])));
        assert!(wanted(&args(&["--release", "dir"])));
        assert!(wanted(&args(&["status"])));
    }
}
