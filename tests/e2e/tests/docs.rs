//! The commands the documentation shows work as shown. Every line of a `sh` block in README.md
//! and docs/cli.md, and every `mig …` in README's quick start prose, runs against a dev
//! platform made the way README says (`mig-server dev`, here with `--investigators 2`), from
//! the directory holding `mig-dev/`, with README's `PATH` and `MIG_CONFIG`. Lines that set up
//! (`cargo …`, `./target/…`, `export …`) are what this test does itself; synopses (`<module>`,
//! `[options]`, `a|b`) are not commands. `alice$` and `bob$` prompts pick the first and the
//! second dev investigator. A command succeeds when it exits 0 (found) or 1 (nothing found).

use mig_e2e::{bin, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The lines of the ```sh blocks of a Markdown text.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            inside = !inside && (trimmed == "```sh" || trimmed == "```bash");
            continue;
        }
        if inside {
            out.push(trimmed.to_string());
        }
    }
    out
}

/// The `mig …` code spans of a Markdown text's prose.
fn inline_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("mig ") || span.starts_with("cat mig-dev/"))
        .map(str::to_string)
        .collect()
}

/// A line as a command to run, or None when it is set-up, a comment or a synopsis.
fn runnable(line: &str) -> Option<String> {
    let line = match line.find("  #") {
        Some(i) => line[..i].trim_end(),
        None => line,
    };
    if line.is_empty()
        || line.starts_with('#')
        || ["cargo ", "./target/", "export "]
            .iter()
            .any(|p| line.starts_with(p))
    {
        return None;
    }
    let synopsis = line.contains('[')
        || line.contains('…')
        || line.contains("<module>")
        || line.contains("create|")
        || line.contains("<id>") && !line.starts_with("mig action show");
    (!synopsis).then(|| line.to_string())
}

#[test]
fn every_command_the_docs_show_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    let dev_dir = work.path().join("mig-dev");
    // HOME for `mig console` history and `mig config import-migrc`.
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".migrc"),
        "[api]\n    url = \"https://localhost:8443/api/v1/\"\n[targets]\n    macro = all:status='online'\n",
    )
    .unwrap();
    let dev = mig_e2e::dev::Dev::start(&dev_dir, &["--investigators", "2"]);
    let bin_dir: PathBuf = bin("mig").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config_of = |who: &str| {
        let name = if who == "bob" {
            "client-2.toml"
        } else {
            "client.toml"
        };
        dev_dir.canonicalize().unwrap().join(name)
    };
    let run = |command: &str, who: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(work.path())
            .env("PATH", &path)
            .env("HOME", &home)
            .env("MIG_CONFIG", config_of(who))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // The dev agent first.
    mig_e2e::wait_for("the dev agent", std::time::Duration::from_secs(30), || {
        stderr(&run(
            "mig file -t all -path /etc -name '^hostname$'",
            "alice",
        ))
        .contains("matches 1 agent(s)")
        .then_some(())
    });

    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let cli = std::fs::read_to_string(root.join("docs/cli.md")).unwrap();
    let mut lines = sh_blocks(&readme);
    lines.extend(inline_commands(&readme));
    lines.extend(sh_blocks(&cli));
    let mut ran = 0;
    for line in lines.iter().filter_map(|l| runnable(l)) {
        let (who, command) = match line.split_once("$ ") {
            Some((who @ ("alice" | "bob"), rest)) => (who, rest.trim().to_string()),
            _ => ("alice", line.clone()),
        };
        let command = if command.contains("<id>") {
            let last = run("mig action list --limit 1", "alice");
            let id = stdout(&last)
                .lines()
                .nth(1)
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_default()
                .to_string();
            command.replace("<id>", &id)
        } else {
            command
        };
        eprintln!("docs: {who}$ {command}");
        let o = run(&command, who);
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "`{command}` as {who} exited {:?}:\n{}\n{}",
            o.status,
            stdout(&o),
            stderr(&o)
        );
        assert!(
            !stderr(&o).contains("panicked"),
            "{command}: {}",
            stderr(&o)
        );
        ran += 1;
    }
    assert!(ran >= 12, "only {ran} commands found in the docs");
    dev.stop();
}
