//! `mig-agent install` and `mig-agent uninstall`: the agent as a service. Install copies this
//! binary to /usr/local/sbin, writes a systemd unit (a timer in check-in mode) or, without
//! systemd, a SysV init script, makes /etc/mig and the state directory, and copies a
//! configuration file if given. Every file and directory it creates is written to a manifest
//! in the state directory, and uninstall removes exactly those (with `--purge`, the state and
//! /etc/mig too), so nothing an operator made is touched. `--root` installs below another
//! directory (a chroot, an image being built, a test) and then starts nothing.

use anyhow::{bail, Context};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const BINARY: &str = "/usr/local/sbin/mig-agent";
const CONFIG_DIR: &str = "/etc/mig";
const CONFIG: &str = "/etc/mig/agent.toml";
const STATE_DIR: &str = "/var/lib/mig-agent";
const MANIFEST: &str = "/var/lib/mig-agent/install.manifest";
const SYSTEMD_DIR: &str = "/etc/systemd/system";
const INIT_SCRIPT: &str = "/etc/init.d/mig-agent";

const SERVICE_UNIT: &str = include_str!("../../../deploy/systemd/mig-agent.service");
const CHECKIN_UNIT: &str = include_str!("../../../deploy/systemd/mig-agent-checkin.service");
const CHECKIN_TIMER: &str = include_str!("../../../deploy/systemd/mig-agent-checkin.timer");
const SYSV_SCRIPT: &str = include_str!("../../../deploy/sysv/mig-agent");

/// How the service is started at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Init {
    /// systemd where /run/systemd/system exists, else SysV.
    Auto,
    /// A systemd unit (a timer and a oneshot unit in check-in mode).
    Systemd,
    /// An /etc/init.d script.
    Sysv,
}

/// What `mig-agent install` was asked.
pub struct InstallOptions {
    /// The directory everything goes below (`/` for this system).
    pub root: PathBuf,
    /// A configuration file to install as /etc/mig/agent.toml.
    pub config: Option<PathBuf>,
    pub init: Init,
    /// Check-in mode: a timer runs the agent every 10 minutes instead of a daemon.
    pub checkin: bool,
    /// Do not enable or start the service (implied by a root other than `/`).
    pub no_start: bool,
}

/// Below `root`: `/etc/mig` under `/tmp/x` is `/tmp/x/etc/mig`.
fn under(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

/// What this install made, in the order made, for uninstall to remove.
#[derive(Default)]
struct Manifest {
    entries: Vec<String>,
}

impl Manifest {
    /// `dir` and its missing parents, each recorded when this made it.
    fn dir(&mut self, root: &Path, dir: &str, mode: u32) -> anyhow::Result<()> {
        let mut missing = Vec::new();
        let mut current = Some(Path::new(dir));
        while let Some(d) = current {
            if d == Path::new("/") || under(root, &d.to_string_lossy()).exists() {
                break;
            }
            missing.push(d.to_path_buf());
            current = d.parent();
        }
        for d in missing.into_iter().rev() {
            let path = under(root, &d.to_string_lossy());
            std::fs::DirBuilder::new()
                .mode(mode)
                .create(&path)
                .with_context(|| format!("cannot make {}", path.display()))?;
            self.entries.push(d.to_string_lossy().into_owned());
        }
        Ok(())
    }

    /// Writes `file` (its directory made first); refuses to replace one this did not make.
    fn file(&mut self, root: &Path, file: &str, content: &[u8], mode: u32) -> anyhow::Result<()> {
        if let Some(parent) = Path::new(file).parent() {
            self.dir(root, &parent.to_string_lossy(), 0o755)?;
        }
        let path = under(root, file);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .with_context(|| {
                format!(
                    "cannot write {}: uninstall first, or remove it if it is not the agent's",
                    path.display()
                )
            })?;
        self.entries.push(file.to_string());
        f.write_all(content)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        // The umask must not narrow what the service needs.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    }

    fn save(&self, root: &Path) -> anyhow::Result<()> {
        let path = under(root, MANIFEST);
        let mut text =
            String::from("# written by mig-agent install; read by mig-agent uninstall\n");
        for e in &self.entries {
            text.push_str(e);
            text.push('\n');
        }
        text.push_str(MANIFEST);
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

fn systemd_runs(root: &Path) -> bool {
    root == Path::new("/") && Path::new("/run/systemd/system").is_dir()
}

/// Installs the agent; returns what it did, one line each.
pub fn install(o: &InstallOptions) -> anyhow::Result<Vec<String>> {
    let root = &o.root;
    if under(root, MANIFEST).exists() {
        bail!(
            "the agent is already installed under {} (see {}): run mig-agent uninstall first",
            root.display(),
            under(root, MANIFEST).display()
        );
    }
    let init = match o.init {
        Init::Auto if systemd_runs(root) || under(root, "/run/systemd/system").is_dir() => {
            Init::Systemd
        }
        Init::Auto => Init::Sysv,
        chosen => chosen,
    };
    if o.checkin && init == Init::Sysv {
        bail!("check-in mode needs systemd (its timer); without it, run `mig-agent --checkin` from cron");
    }
    let binary =
        std::fs::read(std::env::current_exe()?).context("cannot read this agent's own binary")?;
    let config = match &o.config {
        Some(c) => Some(std::fs::read(c).with_context(|| format!("cannot read {}", c.display()))?),
        None => None,
    };
    let mut m = Manifest::default();
    let mut done = Vec::new();
    m.dir(root, STATE_DIR, 0o700)?;
    m.file(root, BINARY, &binary, 0o755)?;
    done.push(format!("binary     {}", under(root, BINARY).display()));
    m.dir(root, CONFIG_DIR, 0o755)?;
    if let Some(text) = &config {
        m.file(root, CONFIG, text, 0o600)?;
        done.push(format!("config     {}", under(root, CONFIG).display()));
    }
    let units: Vec<(&str, &str)> = match (init, o.checkin) {
        (Init::Systemd, false) => vec![("mig-agent.service", SERVICE_UNIT)],
        (Init::Systemd, true) => vec![
            ("mig-agent-checkin.service", CHECKIN_UNIT),
            ("mig-agent-checkin.timer", CHECKIN_TIMER),
        ],
        _ => Vec::new(),
    };
    for (name, text) in &units {
        let file = format!("{SYSTEMD_DIR}/{name}");
        m.file(root, &file, text.as_bytes(), 0o644)?;
        done.push(format!("unit       {}", under(root, &file).display()));
    }
    if init == Init::Sysv {
        m.file(root, INIT_SCRIPT, SYSV_SCRIPT.as_bytes(), 0o755)?;
        done.push(format!("init       {}", under(root, INIT_SCRIPT).display()));
    }
    m.save(root)?;
    done.push(format!("manifest   {}", under(root, MANIFEST).display()));
    if root == Path::new("/") && !o.no_start {
        let unit = if o.checkin {
            "mig-agent-checkin.timer"
        } else {
            "mig-agent.service"
        };
        let started = match init {
            Init::Systemd => run("systemctl", &["daemon-reload"])
                .and_then(|_| run("systemctl", &["enable", "--now", unit])),
            _ => run("update-rc.d", &["mig-agent", "defaults"])
                .and_then(|_| run(INIT_SCRIPT, &["start"])),
        };
        match started {
            Ok(()) => done.push(format!("started    {unit}")),
            Err(e) => done.push(format!("not started: {e:#}")),
        }
    }
    Ok(done)
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("{program} {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Removes what install made (listed in its manifest); with `purge`, the agent's state and
/// /etc/mig too. Returns what it removed, one line each.
pub fn uninstall(root: &Path, purge: bool) -> anyhow::Result<Vec<String>> {
    let manifest = under(root, MANIFEST);
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "no install manifest at {}: the agent was not installed by mig-agent install",
            manifest.display()
        )
    })?;
    if root == Path::new("/") {
        // Best effort: a service that is not there is not an error.
        for unit in ["mig-agent.service", "mig-agent-checkin.timer"] {
            let _ = Command::new("systemctl")
                .args(["disable", "--now", unit])
                .status();
        }
        if under(root, INIT_SCRIPT).exists() {
            let _ = Command::new(INIT_SCRIPT).arg("stop").status();
            let _ = Command::new("update-rc.d")
                .args(["mig-agent", "remove"])
                .status();
        }
    }
    let entries: Vec<&str> = text.lines().filter(|l| l.starts_with('/')).collect();
    let mut removed = Vec::new();
    if purge {
        for dir in [STATE_DIR, CONFIG_DIR] {
            let path = under(root, dir);
            if path.exists() {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                removed.push(format!("purged     {}", path.display()));
            }
        }
    }
    // Upgrades install versions beside the binary (`mig-agent-<version>`, and `mig-agent`
    // becomes a link to one): they are the agent's too.
    let binary = under(root, BINARY);
    if let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) {
        let prefix = format!("{}-", name.to_string_lossy());
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&prefix) {
                let path = entry.path();
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                removed.push(format!("removed    {}", path.display()));
            }
        }
    }
    // Files first, then directories deepest first, each only if still there; a directory
    // that now holds something else (the agent's state, an operator's file) stays.
    for entry in entries.iter().rev() {
        let path = under(root, entry);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let result = if meta.is_dir() {
            std::fs::remove_dir(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed.push(format!("removed    {}", path.display())),
            Err(_) if meta.is_dir() => {
                removed.push(format!("kept       {} (not empty)", path.display()))
            }
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    if root == Path::new("/") {
        let _ = Command::new("systemctl").arg("daemon-reload").status();
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                if p.is_dir() {
                    walk(&p, root, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(root, root, &mut out);
        out.sort();
        out
    }

    fn options(root: &Path) -> InstallOptions {
        InstallOptions {
            root: root.to_path_buf(),
            config: None,
            init: Init::Systemd,
            checkin: false,
            no_start: true,
        }
    }

    #[test]
    fn install_then_uninstall_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("given.toml");
        std::fs::write(&config, "[relay]\nurl = \"wss://mig.example:4443/relay\"\n").unwrap();
        let before = tree(root.path());
        let done = install(&InstallOptions {
            config: Some(config.clone()),
            ..options(root.path())
        })
        .unwrap();
        assert!(
            done.iter().any(|l| l.contains("mig-agent.service")),
            "{done:?}"
        );
        let r = root.path();
        let binary = std::fs::metadata(under(r, BINARY)).unwrap();
        assert_eq!(binary.permissions().mode() & 0o777, 0o755);
        assert_eq!(
            std::fs::read(under(r, BINARY)).unwrap(),
            std::fs::read(std::env::current_exe().unwrap()).unwrap()
        );
        let state = std::fs::metadata(under(r, STATE_DIR)).unwrap();
        assert_eq!(state.permissions().mode() & 0o777, 0o700);
        let conf = std::fs::metadata(under(r, CONFIG)).unwrap();
        assert_eq!(conf.permissions().mode() & 0o777, 0o600);
        let unit =
            std::fs::read_to_string(under(r, "/etc/systemd/system/mig-agent.service")).unwrap();
        assert!(unit.contains(&format!("ExecStart={BINARY} --config {CONFIG}")));
        // A second install refuses rather than clobbering.
        let again = install(&options(r)).unwrap_err().to_string();
        assert!(again.contains("already installed"), "{again}");
        let removed = uninstall(r, false).unwrap();
        assert!(
            removed.iter().all(|l| !l.starts_with("kept")),
            "{removed:?}"
        );
        assert_eq!(tree(r), before, "only the given config file is left");
    }

    #[test]
    fn uninstall_removes_what_upgrades_installed_beside_the_binary() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let before = tree(r);
        install(&options(r)).unwrap();
        // An upgrade's layout: the first binary kept under its version, the new one beside
        // it, and the installed name a link to the new one.
        let bin = under(r, BINARY);
        let dir = bin.parent().unwrap();
        std::fs::rename(&bin, dir.join("mig-agent-0.1.0")).unwrap();
        std::fs::write(dir.join("mig-agent-0.2.0"), "new").unwrap();
        std::os::unix::fs::symlink("mig-agent-0.2.0", &bin).unwrap();
        uninstall(r, false).unwrap();
        assert_eq!(tree(r), before);
    }

    #[test]
    fn what_the_agent_or_an_operator_made_stays_unless_purged() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        // /etc exists already (an operator's): install must not list it as its own.
        std::fs::create_dir_all(r.join("etc/ssl")).unwrap();
        install(&InstallOptions {
            init: Init::Sysv,
            ..options(r)
        })
        .unwrap();
        let script = std::fs::metadata(under(r, INIT_SCRIPT)).unwrap();
        assert_eq!(script.permissions().mode() & 0o777, 0o755);
        assert!(!under(r, "/etc/systemd").exists());
        // The agent ran and made its identity; an operator added a CA.
        std::fs::write(under(r, "/var/lib/mig-agent/identity.key"), "k").unwrap();
        std::fs::write(under(r, "/etc/mig/ca.pem"), "ca").unwrap();
        let removed = uninstall(r, false).unwrap();
        assert!(removed.iter().any(|l| l.starts_with("kept")), "{removed:?}");
        assert!(under(r, "/var/lib/mig-agent/identity.key").exists());
        assert!(under(r, "/etc/mig/ca.pem").exists());
        assert!(!under(r, BINARY).exists() && !under(r, INIT_SCRIPT).exists());
        assert!(r.join("etc/ssl").is_dir(), "what was there before stays");
        // Purging removes the state and the configuration directory.
        std::fs::write(under(r, MANIFEST), format!("{STATE_DIR}\n{CONFIG_DIR}\n")).unwrap();
        uninstall(r, true).unwrap();
        assert!(!under(r, STATE_DIR).exists() && !under(r, CONFIG_DIR).exists());
        assert!(uninstall(r, false)
            .unwrap_err()
            .to_string()
            .contains("no install manifest"));
    }

    #[test]
    fn checkin_mode_installs_a_timer_and_needs_systemd() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let e = install(&InstallOptions {
            init: Init::Sysv,
            checkin: true,
            ..options(r)
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs systemd"), "{e}");
        install(&InstallOptions {
            checkin: true,
            ..options(r)
        })
        .unwrap();
        let timer =
            std::fs::read_to_string(under(r, "/etc/systemd/system/mig-agent-checkin.timer"))
                .unwrap();
        assert!(timer.contains("OnUnitActiveSec=10min"));
        let unit =
            std::fs::read_to_string(under(r, "/etc/systemd/system/mig-agent-checkin.service"))
                .unwrap();
        assert!(unit.contains("--checkin"));
        assert!(!under(r, "/etc/systemd/system/mig-agent.service").exists());
        uninstall(r, false).unwrap();
        assert!(tree(r).is_empty(), "{:?}", tree(r));
    }
}
