//! `mig schedule list|runs|cancel`: the signed schedules on the platform, what their runs
//! found, and cancelling one. Creating one is the module's own command line:
//! `mig schedule -interval 60s -e 30d -t <target> <module> <module flags>`.
//!
//! ```text
//! mig schedule list [--json]
//! mig schedule runs ID [--after RUN] [--follow] [--json]
//! mig schedule snapshot ID [--json]       each agent's queries as full tables now
//! mig schedule cancel ID [-y]            a signed unschedule for the agents holding it
//! ```

use super::output::{columns, Format, Show};
use crate::exit;
use anyhow::Context;
use mig_client::api::Client;
use mig_client::build;
use mig_client::config::Config;
use mig_core::Operation;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Parser)]
#[command(
    name = "mig schedule",
    about = "Signed schedules: list them, read their runs, cancel one"
)]
struct ScheduleCli {
    /// Client configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(clap::Subcommand)]
enum ScheduleCommand {
    /// Every schedule, newest first: agents holding it, runs, rows added and removed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A schedule's runs, oldest first.
    Runs {
        /// The schedule (the ID of the action that created it).
        id: u64,
        /// Only runs after this run ID.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep printing runs as they arrive.
        #[arg(long)]
        follow: bool,
        /// One JSON object per run.
        #[arg(long)]
        json: bool,
    },
    /// Each agent's differential queries as full tables now, rebuilt by the server from the
    /// runs it stored (nothing is asked of the agents).
    Snapshot {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Sign and launch an unschedule for the agents that registered the schedule. It stays
    /// valid as long as the schedule would have run, so agents offline now get it later.
    Cancel {
        id: u64,
        /// Do not ask for confirmation.
        #[arg(short = 'y')]
        yes: bool,
    },
}

/// Does `mig schedule …` mean one of these commands (not the module's own flags)?
pub fn wanted(args: &[String]) -> bool {
    args.first()
        .is_some_and(|a| matches!(a.as_str(), "list" | "runs" | "snapshot" | "cancel"))
}

pub fn run(args: &[String]) -> anyhow::Result<u8> {
    use clap::Parser;
    let cli = ScheduleCli::try_parse_from(
        std::iter::once("mig schedule".to_string()).chain(args.iter().cloned()),
    )
    .unwrap_or_else(|e| e.exit());
    let config = Config::load(&mig_client::config::path(cli.config.as_deref()))?;
    let client = Client::from_config(&config)?;
    match cli.command {
        ScheduleCommand::List { json } => list(&client, json),
        ScheduleCommand::Runs {
            id,
            after,
            follow,
            json,
        } => runs(&client, id, after, follow, json),
        ScheduleCommand::Snapshot { id, json } => snapshot(&client, id, json),
        ScheduleCommand::Cancel { id, yes } => cancel(&config, &client, id, yes),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn list(client: &Client, json: bool) -> anyhow::Result<u8> {
    let answer: Value = client.get("/api/v1/schedules", &[("limit", "1000".into())])?;
    let schedules = answer["schedules"].as_array().cloned().unwrap_or_default();
    if json {
        println!("{}", serde_json::to_string_pretty(&schedules)?);
    } else {
        let rows: Vec<Vec<String>> = schedules
            .iter()
            .map(|s| {
                [
                    "id",
                    "name",
                    "status",
                    "agents",
                    "runs",
                    "lastrun",
                    "added",
                    "removed",
                    "expireafter",
                ]
                .iter()
                .map(|k| text(&s[*k]))
                .collect()
            })
            .collect();
        let header = [
            "ID", "NAME", "STATUS", "AGENTS", "RUNS", "LAST RUN", "+ROWS", "-ROWS", "UNTIL",
        ];
        for line in columns(&header, &rows) {
            println!("{line}");
        }
    }
    Ok(if schedules.is_empty() {
        exit::NOT_FOUND
    } else {
        exit::FOUND
    })
}

/// One run, as lines: a header, then each row added (`+`) or removed (`-`), or the
/// operation's result.
fn run_lines(run: &Value) -> Vec<String> {
    let mut lines = vec![format!(
        "{} run {} at {}: {} (+{} -{})",
        text(&run["agent"]["name"]),
        text(&run["seq"]),
        text(&run["ranat"]),
        text(&run["status"]),
        text(&run["added"]),
        text(&run["removed"]),
    )];
    for (i, result) in run["results"].as_array().into_iter().flatten().enumerate() {
        let elements = &result["elements"];
        let columns: Vec<String> = elements["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        let row = |r: &Value| {
            columns
                .iter()
                .zip(r.as_array().into_iter().flatten())
                .map(|(c, v)| format!("{c}={}", text(v)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        for r in elements["added"].as_array().into_iter().flatten() {
            lines.push(format!("  [{i}] + {}", row(r)));
        }
        for r in elements["removed"].as_array().into_iter().flatten() {
            lines.push(format!("  [{i}] - {}", row(r)));
        }
        for r in elements["rows"].as_array().into_iter().flatten() {
            lines.push(format!("  [{i}]   {}", row(r)));
        }
        for e in result["errors"].as_array().into_iter().flatten() {
            lines.push(format!("  [{i}] error: {}", text(e)));
        }
    }
    lines
}

fn runs(client: &Client, id: u64, mut after: u64, follow: bool, json: bool) -> anyhow::Result<u8> {
    let mut printed = 0usize;
    loop {
        let page: Value = client.get(
            &format!("/api/v1/schedules/{id}/runs"),
            &[("after", after.to_string()), ("limit", "1000".into())],
        )?;
        let runs = page["runs"].as_array().cloned().unwrap_or_default();
        for run in &runs {
            if json {
                println!("{run}");
            } else {
                for line in run_lines(run) {
                    println!("{line}");
                }
            }
        }
        printed += runs.len();
        after = page["next"].as_u64().unwrap_or(after);
        if runs.is_empty() {
            if !follow {
                break;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    Ok(if printed == 0 {
        exit::NOT_FOUND
    } else {
        exit::FOUND
    })
}

fn snapshot(client: &Client, id: u64, json: bool) -> anyhow::Result<u8> {
    let answer: Value = client.get(&format!("/api/v1/schedules/{id}/snapshot"), &[])?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    let agents = answer["agents"].as_array().cloned().unwrap_or_default();
    let mut rows_seen = 0;
    for agent in &agents {
        for op in agent["operations"].as_array().into_iter().flatten() {
            let header: Vec<String> = op["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            let rows: Vec<Vec<String>> = op["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.as_array().into_iter().flatten().map(text).collect())
                .collect();
            rows_seen += rows.len();
            if json {
                continue;
            }
            let incomplete = if op["complete"] == true {
                String::new()
            } else {
                format!(
                    " (incomplete: {} run(s) missing, or no snapshot among the runs)",
                    text(&agent["missing_runs"])
                )
            };
            println!(
                "{} [{}] after run {}: {} row(s){incomplete}",
                text(&agent["agent"]["name"]),
                text(&op["operation"]),
                text(&agent["lastrun"]),
                rows.len()
            );
            if !header.is_empty() {
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                for line in columns(&header, &rows) {
                    println!("  {line}");
                }
            }
        }
    }
    Ok(if rows_seen == 0 {
        exit::NOT_FOUND
    } else {
        exit::FOUND
    })
}

fn cancel(config: &Config, client: &Client, id: u64, yes: bool) -> anyhow::Result<u8> {
    let schedule = client
        .action(id)
        .with_context(|| format!("schedule {id}"))?;
    let until = schedule.expireafter.0 - chrono::Utc::now();
    let valid = until
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_secs(300));
    let mut action = build::action(
        &format!("cancel schedule {id}"),
        &format!("found({id})"),
        vec![Operation::new(
            mig_core::schedule::UNSCHEDULE_MODULE,
            json!({"schedule": id, "digest": mig_modules::schedule::digest(&schedule)}),
        )],
        valid,
        false,
    );
    let signer = mig_client::signing::signer(config)?;
    build::sign(&mut action, signer.as_ref())?;
    super::module::launch(config, action, Show::All, Format::Text, yes, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_print_rows_added_and_removed() {
        let run = json!({"agent": {"name": "h1"}, "seq": 3, "ranat": "2026-01-01T00:00:00+00:00",
            "status": "success", "added": 1, "removed": 1,
            "results": [{"success": true, "elements": {"columns": ["pid", "name"],
                "added": [[9, "nc"]], "removed": [[7, "sshd"]], "rowcount": 1}}]});
        assert_eq!(
            run_lines(&run),
            vec![
                "h1 run 3 at 2026-01-01T00:00:00+00:00: success (+1 -1)",
                "  [0] + pid=9 name=nc",
                "  [0] - pid=7 name=sshd",
            ]
        );
        assert!(wanted(&["runs".into(), "5".into()]));
        assert!(!wanted(&["-interval".into(), "5s".into()]));
    }
}
