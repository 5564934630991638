//! `mig action …`: create, sign (the multi-signature workflow), verify, launch, show, cancel,
//! list.

use super::output::{Format, Printer, Show};
use crate::exit;
use anyhow::{Context, Result};
use clap::Subcommand;
use mig_client::api::Client;
use mig_client::build;
use mig_client::config::Config;
use mig_core::{Acl, Action, GoTime, Operation};
use mig_pgp::{verify_action, Keyring, Window};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum ActionCommand {
    /// Create an action from a module and its MIG flags (or from a JSON file), print it.
    Create {
        #[arg(long)]
        name: Option<String>,
        #[arg(short = 't', long, default_value = "status='online'")]
        target: String,
        /// Validity from now (Go-style: 300s, 2h).
        #[arg(short = 'e', long, default_value = "300s")]
        expiration: String,
        /// Start later: an RFC 3339 time or +duration (+2h); the validity (-e) counts from then.
        #[arg(long)]
        start: Option<String>,
        /// Start from this action file instead (its operations, name and target).
        #[arg(long = "from")]
        from: Option<PathBuf>,
        /// Compress the parameters.
        #[arg(short = 'z', long)]
        compress: bool,
        /// Sign it with your key.
        #[arg(long)]
        sign: bool,
        /// Write it here instead of stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// The module, then its flags (e.g. file -path /etc -name passwd).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        module: Vec<String>,
    },
    /// Add your signature to an action file (for ACLs that need several signers).
    Sign {
        action: PathBuf,
        /// Write the signed action here (default: in place).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Check an action file as an agent would: validity, signatures, ACL weights.
    Verify {
        /// A keyring file or a directory of armored public keys.
        #[arg(long)]
        keyring: PathBuf,
        /// An ACL file (MIG's JSON) to check the signers' weights against.
        #[arg(long)]
        acl: Option<PathBuf>,
        /// Check as if the clock said this time (RFC 3339), e.g. for old actions.
        #[arg(long)]
        now: Option<String>,
        action: PathBuf,
    },
    /// Launch a signed action file and follow its results.
    Launch {
        action: PathBuf,
        #[arg(long, default_value = "found")]
        show: String,
        #[arg(short = 'o', default_value = "text")]
        output: String,
        #[arg(short = 'y')]
        yes: bool,
    },
    /// An action's counters and results.
    Show {
        id: u64,
        #[arg(long, default_value = "found")]
        show: String,
        #[arg(short = 'o', default_value = "text")]
        output: String,
    },
    /// Cancel an action: commands not yet answered are withdrawn.
    Cancel { id: u64 },
    /// Recent actions.
    List {
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(mig_core::action::status::ALL))]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

pub fn run(cmd: ActionCommand, config_path: Option<&Path>) -> Result<u8> {
    let config = || Config::load(&mig_client::config::path(config_path));
    match cmd {
        ActionCommand::Verify {
            keyring,
            acl,
            now,
            action,
        } => verify(&keyring, acl.as_deref(), now.as_deref(), &action),
        ActionCommand::Create {
            name,
            target,
            expiration,
            start,
            from,
            compress,
            sign,
            output,
            module,
        } => {
            let config = config()?;
            let expiration = build::parse_duration(&expiration)?;
            let mut action = match from {
                Some(path) => {
                    let a = read_action(&path)?;
                    let mut fresh =
                        build::action(&a.name, &a.target, a.operations, expiration, compress);
                    fresh.description = a.description;
                    fresh.threat = a.threat;
                    fresh
                }
                None => {
                    let (module_name, flags) = module
                        .split_first()
                        .context("give a module and its flags, or --from FILE")?;
                    let m = mig_modules::lookup(module_name)
                        .with_context(|| format!("unknown module {module_name:?}"))?;
                    let params = m
                        .flags_to_json(flags)
                        .map_err(|e| anyhow::anyhow!("{e} (see `mig {} -h`)", m.name()))?;
                    let name = name
                        .clone()
                        .unwrap_or_else(|| format!("{module_name} {}", flags.join(" ")));
                    build::action(
                        &name,
                        &config.target(&target),
                        vec![Operation::new(module_name.clone(), params)],
                        expiration,
                        compress,
                    )
                }
            };
            if let Some(n) = name {
                action.name = n;
            }
            if let Some(start) = start {
                let when = build::parse_start(&start, chrono::Utc::now())?;
                build::start_at(&mut action, when, expiration)?;
            }
            if sign {
                build::sign(&mut action, mig_client::signing::signer(&config)?.as_ref())?;
            }
            write_action(&action, output.as_deref())?;
            Ok(exit::FOUND)
        }
        ActionCommand::Sign { action, output } => {
            let config = config()?;
            let mut a = read_action(&action)?;
            let signer = mig_client::signing::signer(&config)?;
            build::sign(&mut a, signer.as_ref())?;
            write_action(&a, Some(output.as_deref().unwrap_or(&action)))?;
            eprintln!(
                "signed by {}: {} signature(s)",
                signer.fingerprint(),
                a.pgpsignatures.len()
            );
            Ok(exit::FOUND)
        }
        ActionCommand::Launch {
            action,
            show,
            output,
            yes,
        } => {
            let config = config()?;
            let a = read_action(&action)?;
            if a.pgpsignatures.is_empty() {
                anyhow::bail!(
                    "{} is not signed: sign it with `mig action sign`",
                    action.display()
                );
            }
            super::module::launch(
                &config,
                a,
                Show::parse(&show)?,
                Format::parse(&output)?,
                yes,
                false,
            )
        }
        ActionCommand::Show { id, show, output } => {
            let client = Client::from_config(&config()?)?;
            let a = client.action(id)?;
            let format = Format::parse(&output)?;
            let c = a.counters;
            if format == Format::Text {
                println!(
                    "action {} '{}' [{}] target `{}`\n  sent {}  done {}  inflight {}  success {}  failed {}  timeout {}  expired {}  cancelled {}",
                    a.id, a.name, a.status, a.target, c.sent, c.done, c.inflight, c.success, c.failed, c.timeout, c.expired, c.cancelled
                );
                for inv in &a.investigators {
                    println!("  signed by {} ({})", inv.name, inv.pgpfingerprint);
                }
            }
            let show = Show::parse(&show)?;
            let found = match show {
                Show::Found => Some(true),
                Show::NotFound => Some(false),
                Show::All => None,
            };
            let mut printer = Printer::new(format, show, &a);
            for cmd in client.commands(id, found)? {
                printer.command(&cmd);
            }
            printer.finish();
            Ok(if c.done > 0 && printer.found_any() {
                exit::FOUND
            } else {
                exit::NOT_FOUND
            })
        }
        ActionCommand::Cancel { id } => {
            let client = Client::from_config(&config()?)?;
            let v = client.cancel(id)?;
            println!(
                "action {id} cancelled ({} commands withdrawn)",
                v["cancelled"]
            );
            Ok(exit::FOUND)
        }
        ActionCommand::List { status, limit } => {
            let client = Client::from_config(&config()?)?;
            let mut q = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                q.push(("status", s));
            }
            let actions = client.actions(&q)?;
            let rows: Vec<Vec<String>> = actions
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.status.to_string(),
                        format!("{}/{}", a.counters.done, a.counters.sent),
                        super::output::when(&a.starttime),
                        a.name.clone(),
                    ]
                })
                .collect();
            for line in
                super::output::columns(&["ID", "STATUS", "DONE", "LAUNCHED (UTC)", "NAME"], &rows)
            {
                println!("{line}");
            }
            Ok(if actions.is_empty() {
                exit::NOT_FOUND
            } else {
                exit::FOUND
            })
        }
    }
}

fn read_action(path: &Path) -> Result<Action> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Action::from_json(&bytes).with_context(|| path.display().to_string())
}

fn write_action(a: &Action, path: Option<&Path>) -> Result<()> {
    let text = a.to_json_pretty();
    match path {
        Some(p) => {
            std::fs::write(p, text + "\n").with_context(|| format!("cannot write {}", p.display()))
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn verify(keyring: &Path, acl: Option<&Path>, now: Option<&str>, file: &Path) -> Result<u8> {
    let now = match now {
        Some(t) => {
            GoTime::parse(t).with_context(|| format!("--now {t:?} is not an RFC 3339 time"))?
        }
        None => GoTime::now(),
    };
    let keyring = Keyring::load(keyring)?;
    let acl = match acl {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read ACL {}", path.display()))?;
            Some(Acl::from_json(&bytes).with_context(|| format!("ACL {}", path.display()))?)
        }
        None => None,
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let action = match Action::from_json(&bytes) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("refused: {}: {e}", file.display());
            return Ok(exit::NOT_FOUND);
        }
    };
    match verify_action(&action, &keyring, acl.as_ref(), now, Window::Enforce) {
        Ok(verified) => {
            println!("valid: action {:?}", action.name);
            for s in &verified.signers {
                println!("  signed by {} ({})", s.user_id, s.fingerprint);
            }
            for g in &verified.grants {
                println!(
                    "  ACL permission '{}': weight {} >= {} ({})",
                    g.permission,
                    g.weight,
                    g.minimum,
                    g.signers.join(", ")
                );
            }
            Ok(exit::FOUND)
        }
        Err(refusal) => {
            eprintln!("refused: {refusal}");
            Ok(exit::NOT_FOUND)
        }
    }
}
