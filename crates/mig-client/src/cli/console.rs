//! `mig console`: an interactive shell over the API, with history kept across sessions
//! (`~/.mig_history`) and completion.
//!
//! ```text
//! mig> search agent where status=online and name=web%
//! mig> action 1234
//! mig action 1234> results found
//! mig action 1234> counters
//! mig action 1234> copy              (start a new action from this one)
//! mig> create action
//! mig create> add file -path /etc -name ^passwd$
//! mig create> target os='linux'
//! mig create> preview
//! mig create> launch
//! ```

use super::output::{text_lines, Show};
use mig_client::api::Client;
use mig_client::build;
use mig_client::config::Config;
use mig_core::{Action, Operation};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};
use serde_json::Value;
use std::time::Duration;

const TOP: &[&str] = &[
    "search",
    "action",
    "agent",
    "command",
    "create",
    "investigator",
    "status",
    "history",
    "help",
    "exit",
];
const ACTION: &[&str] = &[
    "results", "counters", "copy", "json", "cancel", "back", "help", "exit",
];
const CREATE: &[&str] = &[
    "add", "name", "target", "expire", "show", "preview", "sign", "launch", "back", "help", "exit",
];

#[derive(Helper, Highlighter, Hinter, Validator)]
struct Completion {
    words: &'static [&'static str],
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let word = &before[start..];
        let first = !before[..start].contains(|c: char| !c.is_whitespace());
        let candidates: Vec<&str> = if first {
            self.words.to_vec()
        } else {
            match before.split_whitespace().next() {
                Some("search") => vec!["action", "agent", "command", "investigator", "where"],
                Some("results") => vec!["found", "notfound", "all"],
                Some("create") => vec!["action"],
                Some("investigator") => vec!["list", "show"],
                Some("add") => mig_modules::registry().iter().map(|m| m.name()).collect(),
                _ => Vec::new(),
            }
        };
        let pairs = candidates
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.to_string(),
                replacement: format!("{c} "),
            })
            .collect();
        Ok((start, pairs))
    }
}

enum Mode {
    Top,
    Action(u64),
    Create(Box<Draft>),
}

/// An action being composed.
struct Draft {
    name: String,
    target: String,
    expire: Duration,
    operations: Vec<Operation>,
    signed: Option<Action>,
}

impl Draft {
    fn new() -> Draft {
        Draft {
            name: String::new(),
            target: "status='online'".into(),
            expire: Duration::from_secs(300),
            operations: Vec::new(),
            signed: None,
        }
    }

    fn build(&self) -> Action {
        let name = if self.name.is_empty() {
            self.operations
                .iter()
                .map(|o| o.module.as_str())
                .collect::<Vec<_>>()
                .join("+")
        } else {
            self.name.clone()
        };
        build::action(
            &name,
            &self.target,
            self.operations.clone(),
            self.expire,
            false,
        )
    }
}

pub fn run(config: Config) -> anyhow::Result<u8> {
    let client = Client::from_config(&config)?;
    let history = mig_client::config::home().join(".mig_history");
    let mut rl: Editor<Completion, FileHistory> = Editor::new()?;
    rl.set_helper(Some(Completion { words: TOP }));
    let _ = rl.load_history(&history);
    println!("MIG console: `help` for commands, Ctrl-D to quit.");
    let mut mode = Mode::Top;
    loop {
        let (prompt, words) = match &mode {
            Mode::Top => ("mig> ".to_string(), TOP),
            Mode::Action(id) => (format!("mig action {id}> "), ACTION),
            Mode::Create(_) => ("mig create> ".to_string(), CREATE),
        };
        if let Some(h) = rl.helper_mut() {
            h.words = words;
        }
        let line = match rl.readline(&prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line);
        let _ = rl.save_history(&history);
        let (cmd, rest) = line
            .split_once(' ')
            .map_or((line, ""), |(c, r)| (c, r.trim()));
        if cmd == "exit" || cmd == "quit" {
            break;
        }
        if cmd == "history" {
            for (i, h) in rl.history().iter().enumerate() {
                println!("{:>4}  {h}", i + 1);
            }
            continue;
        }
        let outcome = match &mut mode {
            Mode::Top => top(&client, &config, cmd, rest),
            Mode::Action(id) => action(&client, *id, cmd, rest),
            Mode::Create(draft) => create(&client, &config, draft, cmd, rest),
        };
        match outcome {
            Ok(Some(next)) => mode = next,
            Ok(None) => {}
            Err(e) => println!("error: {e:#}"),
        }
    }
    let _ = rl.save_history(&history);
    Ok(crate::exit::FOUND)
}

fn top(client: &Client, config: &Config, cmd: &str, rest: &str) -> anyhow::Result<Option<Mode>> {
    match cmd {
        "help" => println!(
            "search action|agent|command|investigator [where k=v [and k=v…]]\n  \
             keys: name, status, after, before, target, actionid, agentid, investigatorid, found, limit\n\
             action <id>        inspect an action (results, counters, copy, json, cancel)\n\
             agent <id>         an agent's details\n\
             command <id>       a command and its results\n\
             create action      compose, sign and launch an action\n\
             investigator list|show <id>\n\
             status             the platform at a glance\n\
             history            commands typed so far (kept in ~/.mig_history)\n\
             exit"
        ),
        "search" => search(client, rest)?,
        "action" => {
            let id: u64 = rest.parse().map_err(|_| anyhow::anyhow!("usage: action <id>"))?;
            let a = client.action(id)?;
            print_action(&a);
            return Ok(Some(Mode::Action(id)));
        }
        "agent" => {
            let id: u64 = rest.parse().map_err(|_| anyhow::anyhow!("usage: agent <id>"))?;
            let v: Value = client.get(&format!("/api/v1/agents/{id}"), &[])?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        "command" => {
            let id: u64 = rest.parse().map_err(|_| anyhow::anyhow!("usage: command <id>"))?;
            let c: mig_core::Command = client.get(&format!("/api/v1/commands/{id}"), &[])?;
            let modules: Vec<String> = c.action.operations.iter().map(|o| o.module.clone()).collect();
            println!("command {} on {} [{}]", c.id, c.agent.name, c.status);
            for l in text_lines(&c, &modules, Show::All) {
                println!("  {l}");
            }
        }
        "create" if rest == "action" => {
            println!("composing a new action: add <module> <flags>, target <t>, name <n>, expire <d>, preview, sign, launch");
            return Ok(Some(Mode::Create(Box::new(Draft::new()))));
        }
        "investigator" => {
            let (sub, arg) = rest.split_once(' ').map_or((rest, ""), |(a, b)| (a, b.trim()));
            match sub {
                "" | "list" => {
                    let v: Value = client.get("/api/v1/investigators", &[])?;
                    for i in v["investigators"].as_array().into_iter().flatten() {
                        println!("{:>18}  {:<9} {:<13} {}  {}", i["id"], str_of(&i["status"]), str_of(&i["permission"]), str_of(&i["pgpfingerprint"]), str_of(&i["name"]));
                    }
                }
                "show" => {
                    let v: Value = client.get(&format!("/api/v1/investigators/{arg}"), &[])?;
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                _ => anyhow::bail!("usage: investigator list|show <id>"),
            }
        }
        "status" => {
            let v: Value = client.get("/api/v1/overview", &[])?;
            for line in status_table(&v) {
                println!("{line}");
            }
            let _ = config;
        }
        other => anyhow::bail!("unknown command {other:?} (try `help`)"),
    }
    Ok(None)
}

/// The dashboard as a person reads it: counts by kind and status, then the relay's figures
/// and any agents reporting under one name from several places.
fn status_table(v: &Value) -> Vec<String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for kind in ["agents", "actions"] {
        let counts = v[kind].as_object().cloned().unwrap_or_default();
        if counts.is_empty() {
            rows.push(vec![kind.into(), "-".into(), "0".into()]);
        }
        for (status, n) in counts {
            rows.push(vec![kind.into(), status, n.to_string()]);
        }
    }
    rows.push(vec![
        "relay connections".into(),
        String::new(),
        v["relay_connections"].to_string(),
    ]);
    rows.push(vec![
        "queued commands".into(),
        String::new(),
        v["queued_commands"].to_string(),
    ]);
    let mut lines = super::output::columns(&["WHAT", "STATUS", "COUNT"], &rows);
    for d in v["duplicate_agents"].as_array().into_iter().flatten() {
        lines.push(format!(
            "duplicate agent {}: {}",
            str_of(&d["name"]),
            d["queuelocs"]
                .as_array()
                .map(|q| q
                    .iter()
                    .map(|x| str_of(x).to_string())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ));
    }
    lines
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `search <type> [where k=v and k=v]`.
fn search(client: &Client, rest: &str) -> anyhow::Result<()> {
    let (kind, conditions) = rest
        .split_once(" where ")
        .map_or((rest.trim(), ""), |(k, c)| (k.trim(), c));
    if kind.is_empty() {
        anyhow::bail!("usage: search action|agent|command|investigator [where k=v and …]");
    }
    let mut query = vec![("type", kind.to_string())];
    for cond in conditions
        .split(" and ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let (k, v) = cond
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{cond:?}: expected key=value"))?;
        let v = v.trim().trim_matches('\'').trim_matches('"').to_string();
        let k = match k.trim() {
            k @ ("name" | "status" | "after" | "before" | "target" | "actionid" | "agentid"
            | "investigatorid" | "found" | "limit" | "offset") => k,
            other => anyhow::bail!("unknown search key {other:?}"),
        };
        query.push((k, v));
    }
    let v: Value = client.get("/api/v1/find", &query)?;
    let results = v["results"].as_array().cloned().unwrap_or_default();
    // Each column: its header, and where its value is in a result (a path of keys).
    let columns: &[(&str, &[&str])] = match kind {
        "action" => &[
            ("ID", &["id"]),
            ("STATUS", &["status"]),
            ("LAUNCHED", &["starttime"]),
            ("NAME", &["name"]),
        ],
        "agent" => &[
            ("ID", &["id"]),
            ("STATUS", &["status"]),
            ("NAME", &["name"]),
            ("QUEUELOC", &["queueloc"]),
        ],
        "command" => &[
            ("ID", &["id"]),
            ("STATUS", &["status"]),
            ("ACTION", &["action", "id"]),
            ("AGENT", &["agent", "name"]),
        ],
        _ => &[
            ("ID", &["id"]),
            ("STATUS", &["status"]),
            ("PERMISSION", &["permission"]),
            ("NAME", &["name"]),
        ],
    };
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|(_, path)| match path.iter().fold(r, |v, key| &v[*key]) {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    if !results.is_empty() {
        for line in super::output::columns(&header, &rows) {
            println!("{line}");
        }
    }
    println!("{} result(s)", results.len());
    Ok(())
}

fn print_action(a: &Action) {
    let c = a.counters;
    println!(
        "action {} '{}' [{}] target `{}`",
        a.id, a.name, a.status, a.target
    );
    println!(
        "  sent {}  done {}  inflight {}  success {}  failed {}  timeout {}  expired {}  cancelled {}",
        c.sent, c.done, c.inflight, c.success, c.failed, c.timeout, c.expired, c.cancelled
    );
}

fn action(client: &Client, id: u64, cmd: &str, rest: &str) -> anyhow::Result<Option<Mode>> {
    match cmd {
        "help" => println!("results found|notfound|all, counters, copy, json, cancel, back"),
        "back" => return Ok(Some(Mode::Top)),
        "counters" => print_action(&client.action(id)?),
        "json" => println!("{}", client.action(id)?.to_json_pretty()),
        "cancel" => println!("{}", client.cancel(id)?),
        "results" => {
            let show = super::output::Show::parse(if rest.is_empty() { "found" } else { rest })?;
            let found = match show {
                Show::Found => Some(true),
                Show::NotFound => Some(false),
                Show::All => None,
            };
            let a = client.action(id)?;
            let modules: Vec<String> = a.operations.iter().map(|o| o.module.clone()).collect();
            let cmds = client.commands(id, found)?;
            for c in &cmds {
                for l in text_lines(c, &modules, show) {
                    println!("{l}");
                }
            }
            println!("{} command(s)", cmds.len());
        }
        "copy" => {
            let a = client.action(id)?;
            let mut d = Draft::new();
            d.name = a.name.clone();
            d.target = a.target.clone();
            d.operations = a.operations.clone();
            println!("new action from {id}: change what you need, then preview, sign, launch");
            return Ok(Some(Mode::Create(Box::new(d))));
        }
        other => anyhow::bail!("unknown command {other:?} (try `help`)"),
    }
    Ok(None)
}

fn create(
    client: &Client,
    config: &Config,
    d: &mut Draft,
    cmd: &str,
    rest: &str,
) -> anyhow::Result<Option<Mode>> {
    match cmd {
        "help" => println!("add <module> <flags>, name <n>, target <t>, expire <duration>, show, preview, sign, launch, back"),
        "back" => return Ok(Some(Mode::Top)),
        "add" => {
            let mut words = mig_modules::flags::split_words(rest);
            if words.is_empty() {
                anyhow::bail!("usage: add <module> <flags…>");
            }
            let module = words.remove(0);
            let m = mig_modules::lookup(&module).ok_or_else(|| anyhow::anyhow!("unknown module {module:?}"))?;
            let params = m.flags_to_json(&words).map_err(|e| anyhow::anyhow!("{e} (`help {}` lists its flags)", m.name()))?;
            d.operations.push(Operation::new(module, params));
            d.signed = None;
            println!("{} operation(s)", d.operations.len());
        }
        "name" => {
            d.name = rest.to_string();
            d.signed = None;
        }
        "target" => {
            let t = config.target(rest);
            mig_core::target::parse(&t)?;
            d.target = t;
            d.signed = None;
        }
        "expire" => {
            d.expire = build::parse_duration(rest)?;
            d.signed = None;
        }
        "show" => println!("{}", d.signed.clone().unwrap_or_else(|| d.build()).to_json_pretty()),
        "preview" => {
            let (n, sample) = client.preview(&d.target)?;
            println!("target `{}` matches {n} agent(s)", d.target);
            for a in sample {
                println!("  {} ({})", a.name, a.queueloc);
            }
        }
        "sign" => {
            let mut a = d.build();
            build::sign(&mut a, mig_client::signing::signer(config)?.as_ref())?;
            println!("signed ({} signature)", a.pgpsignatures.len());
            d.signed = Some(a);
        }
        "launch" => {
            if d.operations.is_empty() {
                anyhow::bail!("nothing to launch: add an operation first");
            }
            let a = match d.signed.take() {
                Some(a) => a,
                None => {
                    let mut a = d.build();
                    build::sign(&mut a, mig_client::signing::signer(config)?.as_ref())?;
                    a
                }
            };
            let created = client.create_action(&a)?;
            println!("action {} launched; following it (Ctrl-C stops following)", created.id);
            let modules: Vec<String> = created.operations.iter().map(|o| o.module.clone()).collect();
            client.stream(created.id, |ev| {
                match ev {
                    mig_client::api::StreamEvent::Command(c) => {
                        for l in text_lines(&c, &modules, Show::All) {
                            println!("{l}");
                        }
                    }
                    mig_client::api::StreamEvent::Done(status) => println!("action {} {status}", created.id),
                    mig_client::api::StreamEvent::Counters { .. } => {}
                }
                true
            })?;
            return Ok(Some(Mode::Action(created.id)));
        }
        other => anyhow::bail!("unknown command {other:?} (try `help`)"),
    }
    Ok(None)
}
