//! `mig <module> [global options] [module options]`: MIG's command line. Global options and
//! the module's own flags may be mixed, as in MIG.

use super::follow::follow;
use super::output::{text_lines, Format, Printer, Show};
use crate::exit;
use anyhow::Context;
use mig_client::config::Config;
use mig_client::{api::Client, build};
use mig_core::Operation;
use mig_modules::DynModule;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// MIG's global options.
struct Global {
    target: String,
    expiration: Duration,
    input: Option<PathBuf>,
    print: bool,
    sign_only: bool,
    show: Show,
    /// `-show` was given (locally the default is everything).
    show_given: bool,
    target_found: Option<u64>,
    target_notfound: Option<u64>,
    name: Option<String>,
    compress: bool,
    verbose: bool,
    format: Format,
    yes: bool,
    version: bool,
    config: Option<PathBuf>,
}

const TAKES_VALUE: &[&str] = &[
    "t",
    "e",
    "i",
    "show",
    "target-found",
    "target-notfound",
    "n",
    "o",
    "config",
];
const SWITCHES: &[&str] = &["p", "s", "z", "v", "y", "V"];

pub const GLOBAL_USAGE: &str = "global options:
  -t <target>            agents to run on (default status='online'); a macro from the config; `local`
  -e <duration>          expiration (default 300s)
  -i <action.json>       run this action file instead of building one from flags
  -p                     print the action and exit
  -s                     sign, print the signed action and exit (for a second signer)
  -show found|notfound|all   which agents' results to print (default found)
  -target-found <id>     only agents whose command for action <id> found something
  -target-notfound <id>  only agents whose command for action <id> found nothing
  -n <name>              the action's name
  -z                     compress the parameters
  -o text|json|ndjson    output format (default text)
  -y                     do not ask for confirmation
  -v                     verbose
  -V                     print the version and exit
exit codes: 0 something was found, 1 nothing was found, 2 error";

/// Separates global options from the module's flags. As in MIG, options given before the first
/// module flag are global; after it, a flag the module itself defines (ping's `-t` and `-p`)
/// belongs to the module, and any other global option is still global.
fn split_args(args: &[String], module_flags: &[&str]) -> anyhow::Result<(Global, Vec<String>)> {
    let mut g = Global {
        target: "status='online'".into(),
        expiration: Duration::from_secs(300),
        input: None,
        print: false,
        sign_only: false,
        show: Show::Found,
        show_given: false,
        target_found: None,
        target_notfound: None,
        name: None,
        compress: false,
        verbose: false,
        format: Format::Text,
        yes: false,
        version: false,
        config: None,
    };
    let mut rest = Vec::new();
    let mut seen_module_flag = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bare = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .unwrap_or("");
        let (flag, inline) = match bare.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (bare, None),
        };
        let modules_own = module_flags.contains(&flag);
        let global = TAKES_VALUE.contains(&flag) || SWITCHES.contains(&flag) && inline.is_none();
        if modules_own && (seen_module_flag || !global) {
            seen_module_flag = true;
            rest.push(arg.clone());
        } else if TAKES_VALUE.contains(&flag) {
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .with_context(|| format!("flag needs an argument: -{flag}"))?
                }
            };
            match flag {
                "t" => g.target = value,
                "e" => g.expiration = build::parse_duration(&value).with_context(|| "-e")?,
                "i" => g.input = Some(PathBuf::from(value)),
                "show" => {
                    g.show = Show::parse(&value)?;
                    g.show_given = true;
                }
                "target-found" => {
                    g.target_found = Some(
                        value
                            .parse()
                            .with_context(|| "-target-found: expected an action ID")?,
                    )
                }
                "target-notfound" => {
                    g.target_notfound = Some(
                        value
                            .parse()
                            .with_context(|| "-target-notfound: expected an action ID")?,
                    )
                }
                "n" => g.name = Some(value),
                "o" => g.format = Format::parse(&value)?,
                _ => g.config = Some(PathBuf::from(value)),
            }
        } else if SWITCHES.contains(&flag) && inline.is_none() {
            match flag {
                "p" => g.print = true,
                "s" => g.sign_only = true,
                "z" => g.compress = true,
                "v" => g.verbose = true,
                "V" => g.version = true,
                _ => g.yes = true,
            }
        } else {
            seen_module_flag |= !bare.is_empty();
            rest.push(arg.clone());
        }
        i += 1;
    }
    Ok((g, rest))
}

/// `mig modules`: each module with what it does; `--schema <module>`: the JSON Schema of its
/// parameters.
pub fn list(schema: Option<&str>) -> anyhow::Result<u8> {
    if let Some(name) = schema {
        let module = mig_modules::lookup(name).ok_or_else(|| {
            anyhow::anyhow!("no module called {name:?} (`mig modules` lists them)")
        })?;
        println!("{}", serde_json::to_string_pretty(&module.param_schema())?);
        return Ok(exit::FOUND);
    }
    let rows: Vec<Vec<String>> = mig_modules::registry()
        .iter()
        .map(|m| vec![m.name().to_string(), m.about().to_string()])
        .collect();
    for line in super::output::columns(&["MODULE", "WHAT IT FINDS"], &rows) {
        println!("{line}");
    }
    Ok(exit::FOUND)
}

pub fn run(module: &'static dyn DynModule, args: &[String]) -> anyhow::Result<u8> {
    if args
        .iter()
        .any(|a| a == "-h" || a == "--help" || a == "help")
    {
        println!("{}\n{GLOBAL_USAGE}", module.usage());
        return Ok(exit::FOUND);
    }
    let (g, module_args) = split_args(args, &module.flag_names())?;
    if g.version {
        println!("mig {}", env!("CARGO_PKG_VERSION"));
        return Ok(exit::FOUND);
    }
    if g.target == "local" && g.input.is_none() {
        return run_local(module, &module_args, &g);
    }
    let config = Config::load(&mig_client::config::path(g.config.as_deref()))?;
    let mut action = match &g.input {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            mig_core::Action::from_json(&bytes).with_context(|| path.display().to_string())?
        }
        None => {
            let params = module
                .flags_to_json(&module_args)
                .map_err(|e| anyhow::anyhow!("{e} (see `mig {} -h`)", module.name()))?;
            let mut target = config.target(&g.target);
            if let Some(id) = g.target_found {
                target = format!("({target}) AND found({id})");
            }
            if let Some(id) = g.target_notfound {
                target = format!("({target}) AND notfound({id})");
            }
            let name = g
                .name
                .clone()
                .unwrap_or_else(|| format!("{} {}", module.name(), module_args.join(" ")));
            build::action(
                &name,
                &target,
                vec![Operation::new(module.name(), params)],
                g.expiration,
                g.compress,
            )
        }
    };
    if g.print {
        println!("{}", action.to_json_pretty());
        return Ok(exit::FOUND);
    }
    // An action read with -i may be signed already: it is launched as it is, or with -s it
    // gets this investigator's signature too (the second signer of an m-of-n ACL).
    if action.pgpsignatures.is_empty() || g.sign_only {
        let signer = mig_client::signing::signer(&config)?;
        build::sign(&mut action, signer.as_ref())?;
    }
    if g.sign_only {
        println!("{}", action.to_json_pretty());
        return Ok(exit::FOUND);
    }
    launch(&config, action, g.show, g.format, g.yes, g.verbose)
}

/// Previews the target, asks when it is large, creates the action and follows it.
pub fn launch(
    config: &Config,
    action: mig_core::Action,
    show: Show,
    format: Format,
    yes: bool,
    verbose: bool,
) -> anyhow::Result<u8> {
    let client = Client::from_config(config)?;
    let (count, sample) = client.preview(&action.target)?;
    eprintln!("target `{}` matches {count} agent(s)", action.target);
    if verbose {
        for a in &sample {
            eprintln!("  {} ({}, {})", a.name, a.queueloc, a.status);
        }
    }
    if count == 0 {
        eprintln!("nothing to do");
        return Ok(exit::NOT_FOUND);
    }
    let limit = config.confirm_above.unwrap_or(100);
    if count > limit && !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("the target matches {count} agents (more than {limit}): confirm with -y");
        }
        eprint!("launch on {count} agents? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("not launched");
            return Ok(exit::NOT_FOUND);
        }
    }
    let created = client.create_action(&action)?;
    eprintln!("action {} '{}' launched", created.id, created.name);
    let reconnect = config.follow_reconnect()?;
    follow(client, created, show, format, count, reconnect)
}

/// `-t local`: the module runs here, in this process; no server, no signature.
fn run_local(module: &'static dyn DynModule, args: &[String], g: &Global) -> anyhow::Result<u8> {
    let params = module
        .flags_to_json(args)
        .map_err(|e| anyhow::anyhow!("{e} (see `mig {} -h`)", module.name()))?;
    let ctx = mig_modules::Context::new(Some(g.expiration));
    let result = module.run_json(&params, &ctx);
    let command = mig_core::Command {
        agent: mig_core::Agent {
            name: "local".into(),
            ..Default::default()
        },
        status: if result.success { "success" } else { "failed" }.into(),
        results: vec![result],
        ..Default::default()
    };
    let action = mig_core::Action {
        name: format!("local {}", module.name()),
        target: "local".into(),
        operations: vec![mig_core::Operation::new(module.name(), params.clone())],
        ..Default::default()
    };
    let mut printer = Printer::new(g.format, g.show, &action);
    if g.format == Format::Text {
        // Locally there is one "agent": unless -show says otherwise, everything MIG's printer
        // has to say, statistics included.
        let show = if g.show_given { g.show } else { Show::All };
        let wanted = show != Show::NotFound || !command.found_anything();
        let lines = text_lines(&command, &[module.name().to_string()], show);
        for line in lines.iter().filter(|_| wanted) {
            println!("{}", line.strip_prefix("local ").unwrap_or(line));
        }
    } else {
        printer.command(&command);
        printer.finish();
    }
    if command.status != "success" {
        return Ok(exit::ERROR);
    }
    Ok(if command.found_anything() {
        exit::FOUND
    } else {
        exit::NOT_FOUND
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str], module: &[&str]) -> (Global, Vec<String>) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        split_args(&args, module).unwrap()
    }

    #[test]
    fn globals_first_then_the_modules_own_flags() {
        let ping = ["d", "dp", "p", "c", "t"];
        let (g, rest) = split(
            &["-t", "os='linux'", "-d", "10.0.0.1", "-p", "tcp", "-t", "2"],
            &ping,
        );
        assert_eq!(g.target, "os='linux'");
        assert!(!g.print, "-p after a module flag is ping's protocol");
        assert_eq!(rest, vec!["-d", "10.0.0.1", "-p", "tcp", "-t", "2"]);
        // Global options the module does not define may come anywhere.
        let (g, rest) = split(
            &["-path", "/etc", "-name", "x", "-show", "all", "-e", "30s"],
            &["path", "name"],
        );
        assert_eq!(g.show, Show::All);
        assert!(g.show_given);
        assert_eq!(g.expiration, Duration::from_secs(30));
        assert_eq!(rest, vec!["-path", "/etc", "-name", "x"]);
    }

    #[test]
    fn every_switch_of_the_usage_is_parsed() {
        let (g, rest) = split(&["-V", "-z", "-y", "-v", "-s", "-path", "/"], &["path"]);
        assert!(g.version && g.compress && g.yes && g.verbose && g.sign_only);
        assert!(!g.show_given);
        assert_eq!(rest, vec!["-path", "/"]);
        // Every option GLOBAL_USAGE lists is one split_args knows.
        for line in GLOBAL_USAGE.lines().skip(1) {
            let Some(flag) = line.trim().strip_prefix('-') else {
                continue;
            };
            let name = flag.split_whitespace().next().unwrap_or("");
            assert!(
                TAKES_VALUE.contains(&name) || SWITCHES.contains(&name),
                "-{name} is in the usage but not parsed"
            );
        }
    }
}
