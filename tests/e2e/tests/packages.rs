//! The Debian packages (deploy/deb/build, docs/install.md), built from this build's binaries:
//! their files, modes, conffiles, control fields and maintainer scripts as dpkg-deb reads them,
//! their units through `systemd-analyze verify`, their configuration examples loaded by the
//! packaged binaries, and a second build byte for byte the same as the first.
//!
//! Then, only as root and with `MIG_TEST_DPKG=1` (CI sets it), the packages are installed for
//! real with `dpkg -i`: a dev server from the installed /usr/sbin/mig-server, the installed
//! /usr/sbin/mig-agent reading the installed /etc/mig/agent.toml, and the installed
//! /usr/bin/mig sees that agent answer; `dpkg -r` keeps configuration and state, and
//! `dpkg --purge` leaves nothing behind. That part changes the machine (/usr, /etc/mig,
//! /var/lib, the `mig` user), hence the opt-in; without it the test says it was skipped.

use mig_e2e::dev::Dev;
use mig_e2e::{stderr, stdout, wait_for};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PACKAGES: [&str; 3] = ["mig-agent", "mig-server", "mig"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `command`; panics with what it said unless it succeeded.
fn run(command: &mut Command) -> Output {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    out
}

fn text(command: &mut Command) -> String {
    stdout(&run(command))
}

/// What a build wrote: the SOURCE_DATE_EPOCH it used and the path of each package.
struct Built {
    epoch: i64,
    debs: BTreeMap<&'static str, PathBuf>,
}

/// Who runs a build: the test's own user, or (when the test runs as root) `nobody` with
/// another umask and home, as a second builder on another machine would be.
#[derive(Clone, Copy, PartialEq)]
enum Builder {
    Me,
    Nobody,
}

/// Is this test running as root?
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0)
}

/// Runs deploy/deb/build on the binaries in `bin_dir`, into `out`.
fn build(bin_dir: &Path, out: &Path, epoch: Option<i64>, builder: Builder) -> Built {
    let mut command = match builder {
        Builder::Me => Command::new("bash"),
        Builder::Nobody => {
            std::fs::create_dir_all(out).unwrap();
            std::os::unix::fs::chown(out, Some(65534), Some(65534)).unwrap();
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .args(["bash", "-c", r#"umask 077; exec bash "$0" "$@""#])
                .env("HOME", "/nonexistent")
                .env("USER", "nobody");
            c
        }
    };
    command
        .arg(repo().join("deploy/deb/build"))
        .arg("--bin-dir")
        .arg(bin_dir)
        .arg("--out")
        .arg(out)
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(epoch) = epoch {
        command.env("SOURCE_DATE_EPOCH", epoch.to_string());
    }
    let said = text(&mut command);
    let epoch: i64 = said
        .lines()
        .find_map(|l| l.strip_prefix("SOURCE_DATE_EPOCH="))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the build did not say its SOURCE_DATE_EPOCH: {said}"));
    let version = env!("CARGO_PKG_VERSION").replace('-', "~");
    let arch = text(Command::new("dpkg").arg("--print-architecture"));
    let debs = PACKAGES
        .iter()
        .map(|p| {
            let deb = out.join(format!("{p}_{version}_{}.deb", arch.trim()));
            assert!(
                said.contains(&format!("wrote {}", deb.display())),
                "{} not reported: {said}",
                deb.display()
            );
            (*p, deb)
        })
        .collect();
    Built { epoch, debs }
}

fn sha256(file: &Path) -> String {
    let out = text(Command::new("sha256sum").arg(file));
    out.split_whitespace().next().unwrap().to_string()
}

/// The control fields of a package (`dpkg-deb --field`), continuation lines joined.
fn fields(deb: &Path) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut last = String::new();
    for line in text(Command::new("dpkg-deb").arg("--field").arg(deb)).lines() {
        if let Some(more) = line.strip_prefix(' ') {
            let value: &mut String = fields.get_mut(&last).unwrap();
            value.push('\n');
            value.push_str(more);
        } else if let Some((name, value)) = line.split_once(": ") {
            last = name.to_string();
            fields.insert(last.clone(), value.to_string());
        }
    }
    fields
}

/// The file entries of a package (`dpkg-deb --contents`, times in UTC): path → (mode, owner,
/// "date time").
fn contents(deb: &Path) -> BTreeMap<String, (String, String, String)> {
    let listing = text(
        Command::new("dpkg-deb")
            .arg("--contents")
            .arg(deb)
            .env("TZ", "UTC"),
    );
    listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 6, "unexpected dpkg-deb --contents line: {l}");
            (
                f[5].trim_start_matches('.').to_string(),
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    format!("{} {}", f[3], f[4]),
                ),
            )
        })
        .collect()
}

/// The files (not directories) each package must hold, with their modes.
fn expected_files(package: &str) -> Vec<(String, &'static str)> {
    let mut files: Vec<(String, &str)> = match package {
        "mig-agent" => vec![
            ("/usr/sbin/mig-agent".into(), "-rwxr-xr-x"),
            ("/lib/systemd/system/mig-agent.service".into(), "-rw-r--r--"),
            (
                "/lib/systemd/system/mig-agent-checkin.service".into(),
                "-rw-r--r--",
            ),
            (
                "/lib/systemd/system/mig-agent-checkin.timer".into(),
                "-rw-r--r--",
            ),
            ("/etc/init.d/mig-agent".into(), "-rwxr-xr-x"),
            ("/etc/mig/agent.toml".into(), "-rw-------"),
        ],
        "mig-server" => vec![
            ("/usr/sbin/mig-server".into(), "-rwxr-xr-x"),
            (
                "/lib/systemd/system/mig-server.service".into(),
                "-rw-r--r--",
            ),
            (
                "/lib/systemd/system/mig-server@.service".into(),
                "-rw-r--r--",
            ),
            ("/etc/mig/server.toml".into(), "-rw-r-----"),
        ],
        _ => vec![("/usr/bin/mig".into(), "-rwxr-xr-x")],
    };
    files.push((format!("/usr/share/doc/{package}/copyright"), "-rw-r--r--"));
    files.sort();
    files
}

/// A unit, init script or configuration file as packaged.
fn packaged(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{path} in the extracted packages: {e}"))
}

/// The packaged copy of a file from deploy/: what runs is what deploy/ says, only pointed at
/// /usr/sbin (comments about a manual install under /usr/local may go).
fn check_rewritten(root: &Path, original: &str, path: &str) {
    let source = std::fs::read_to_string(repo().join(original)).unwrap();
    let copy = packaged(root, path);
    assert!(
        !copy.contains("/usr/local"),
        "{path} names /usr/local:\n{copy}"
    );
    let lines: Vec<&str> = copy.lines().collect();
    for line in source.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let expected = line
            .replace("/usr/local/sbin/mig-", "/usr/sbin/mig-")
            .replace("/usr/local/bin/mig-", "/usr/sbin/mig-");
        assert!(
            lines.contains(&expected.as_str()),
            "{path}: `{expected}` (from {original}) is missing:\n{copy}"
        );
    }
}

/// Where systemd's tools are installed, the packaged units must pass `systemd-analyze verify`
/// (as in crates/mig-agent/tests/install.rs: each pointed at the extracted binary, which verify
/// checks is there). A template is verified as an instance of it.
fn verify_units(root: &Path, units: &[&str]) {
    let checked = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for unit in units {
        let text = packaged(root, &format!("/lib/systemd/system/{unit}")).replace(
            "/usr/sbin/",
            &format!("{}/", root.join("usr/sbin").display()),
        );
        std::fs::write(checked.path().join(unit), text).unwrap();
        paths.push(checked.path().join(unit.replace("@.", "@api.")));
    }
    match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
    {
        Ok(v) => assert!(
            v.status.success(),
            "systemd-analyze verify {units:?}: {}",
            stderr(&v)
        ),
        Err(_) => eprintln!("skipped systemd-analyze verify: not installed"),
    }
}

/// A configuration example with every default uncommented (`#key = value` and `#[table]`
/// lines; prose comments have a space after the `#`).
fn uncommented(example: &str) -> String {
    let mut out = String::new();
    for line in example.lines() {
        let setting = line.strip_prefix('#').filter(|rest| {
            rest.starts_with('[')
                || rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
        });
        out.push_str(setting.unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Every key the table of `docs` lists is in the example: set to its default in its table
/// (`tick = "1s"` under `[scheduler]`), or, for a key without one, named in a comment there
/// (`# cert and key: …`). A key documented later and left out of the example fails here.
fn check_documented(example: &str, docs: &str, name: &str) {
    let page = std::fs::read_to_string(repo().join(docs)).unwrap();
    let table = page
        .split("## Configuration keys and defaults")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or_else(|| panic!("no key table in {docs}"));
    // The example's lines by table ("" before the first).
    let mut sections: Vec<(String, &str)> = Vec::new();
    let mut current = String::new();
    for line in example.lines() {
        if let Some(table) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = table.to_string();
        }
        sections.push((current.clone(), line));
    }
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        for key in row.split('|').nth(1).unwrap().split('`').skip(1).step_by(2) {
            let (table, key) = key.split_once('.').unwrap_or(("", key));
            let found = sections.iter().any(|(section, line)| {
                *line == format!("[{key}]")
                    || section == table
                        && (line.starts_with(&format!("{key} = "))
                            || line.starts_with('#')
                                && line
                                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                                    .any(|word| word == key))
            });
            assert!(
                found,
                "{docs} documents `{}{}{key}`, which {name} does not show",
                table,
                if table.is_empty() { "" } else { "." }
            );
        }
    }
}

/// Sets `key`'s value (a quoted path) in a TOML text.
fn set(text: &str, key: &str, value: &Path) -> String {
    let prefix = format!("{key} = ");
    assert!(
        text.lines().any(|l| l.starts_with(&prefix)),
        "no {key} in:\n{text}"
    );
    text.lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{:?}\n", value.display().to_string())
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The shipped examples show every documented key, and the packaged binaries load them with
/// every default uncommented (unknown keys and bad values are refused, so a typo fails).
fn check_examples(root: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let agent = uncommented(&packaged(root, "/etc/mig/agent.toml"));
    check_documented(&agent, "docs/agent.md", "deploy/deb/agent.toml");
    let mut agent = set(&agent, "state_dir", &scratch.path().join("state"));
    agent = set(&agent, "run_dir", &scratch.path().join("run"));
    agent = set(&agent, "audit_log", &scratch.path().join("audit.log"));
    std::fs::write(scratch.path().join("agent.toml"), agent).unwrap();
    let said = text(
        Command::new(root.join("usr/sbin/mig-agent"))
            .arg("--config")
            .arg(scratch.path().join("agent.toml"))
            .arg("identity"),
    );
    assert!(said.contains("queueloc"), "{said}");

    let server = uncommented(&packaged(root, "/etc/mig/server.toml"));
    check_documented(&server, "docs/server.md", "deploy/deb/server.toml");
    let server = set(&server, "data_dir", &scratch.path().join("server"));
    std::fs::create_dir(scratch.path().join("server")).unwrap();
    std::fs::write(scratch.path().join("server.toml"), server).unwrap();
    run(Command::new(root.join("usr/sbin/mig-server"))
        .arg("--config")
        .arg(scratch.path().join("server.toml"))
        .args(["investigator", "list"]));
}

/// Every maintainer script parses (`sh -n`), and passes shellcheck where it is installed; so
/// does the build script.
fn check_scripts(debs: &BTreeMap<&str, PathBuf>) {
    let control = tempfile::tempdir().unwrap();
    let mut scripts = vec![(repo().join("deploy/deb/build"), "bash")];
    for (package, deb) in debs {
        let dir = control.path().join(package);
        run(Command::new("dpkg-deb").arg("--control").arg(deb).arg(&dir));
        for script in ["postinst", "prerm", "postrm"] {
            let path = dir.join(script);
            if *package == "mig" {
                assert!(!path.exists(), "the client has no {script} to run");
                continue;
            }
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{package}'s {script}: {e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755, "{package}'s {script}");
            scripts.push((path, "sh"));
        }
    }
    let shellcheck = Command::new("shellcheck").arg("--version").output().is_ok();
    for (script, shell) in &scripts {
        run(Command::new(shell).arg("-n").arg(script));
        if shellcheck {
            run(Command::new("shellcheck").args(["-s", shell]).arg(script));
        }
    }
    if !shellcheck {
        eprintln!("skipped shellcheck: not installed (sh -n passed)");
    }
}

#[test]
fn debian_packages_build_reproducibly_and_install() {
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    // A snapshot of the binaries: a cargo build alongside may replace them between the two
    // builds below, or between building and installing.
    let bin_dir = work.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    for name in ["mig-agent", "mig-server", "mig"] {
        std::fs::copy(mig_e2e::bin(name), bin_dir.join(name)).unwrap();
    }

    // Built twice, at once (xz on ~100 MB debug binaries takes minutes; two builds use both
    // cores): one with the last commit's time (the default), one with that time given and,
    // when the test runs as root, by another user (nobody, umask 077, another home); the
    // bytes must be the same.
    let second_builder = if running_as_root() {
        // nobody must reach the binaries (the temporary folder is private to its owner).
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Builder::Nobody
    } else {
        Builder::Me
    };
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| stdout(&o))
    };
    let last_commit: Option<i64> =
        git(&["log", "-1", "--format=%ct"]).map(|t| t.trim().parse().unwrap());
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| {
            // Outside a git checkout the script needs the time given.
            let epoch = last_commit.is_none().then_some(1_700_000_000);
            build(&bin_dir, &work.path().join("first"), epoch, Builder::Me)
        });
        let epoch = last_commit.unwrap_or(1_700_000_000);
        let second = build(
            &bin_dir,
            &work.path().join("second"),
            Some(epoch),
            second_builder,
        );
        (first.join().unwrap(), second)
    });
    if last_commit.is_some() {
        // A commit made while the two started (the checkout is shared) would show here.
        let recent = git(&["log", "-20", "--format=%ct"]).unwrap_or_default();
        assert!(
            recent.lines().any(|t| t == first.epoch.to_string()),
            "SOURCE_DATE_EPOCH={} is not a commit's time",
            first.epoch
        );
    }
    assert_eq!(
        first.epoch, second.epoch,
        "the two builds took different times"
    );
    for package in PACKAGES {
        let (a, b) = (&first.debs[package], &second.debs[package]);
        assert_eq!(sha256(a), sha256(b), "{package}: two builds differ");
        println!("{package}: {} {}", sha256(a), a.display());
    }
    println!("built twice in {:.1?}", started.elapsed());

    let arch = text(Command::new("dpkg").arg("--print-architecture"));
    let cargo_toml = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let homepage = cargo_toml
        .lines()
        .find_map(|l| l.strip_prefix("repository = "))
        .map(|v| v.trim_matches('"'))
        .expect("the workspace's repository");
    let date = chrono::DateTime::from_timestamp(first.epoch, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M")
        .to_string();
    for (package, deb) in &first.debs {
        let f = fields(deb);
        assert_eq!(f["Package"], *package);
        assert_eq!(f["Version"], env!("CARGO_PKG_VERSION").replace('-', "~"));
        assert_eq!(f["Architecture"], arch.trim());
        assert_eq!(f["Homepage"], homepage);
        assert_eq!(f["Section"], "admin");
        assert_eq!(f["Priority"], "optional");
        assert!(
            f["Maintainer"].contains('<'),
            "Maintainer: {}",
            f["Maintainer"]
        );
        assert!(
            f["Depends"].contains("libc6 (>= 2."),
            "{package}: Depends: {}",
            f["Depends"]
        );
        assert!(f["Description"].lines().count() > 2, "{package}: {f:?}");
        let binary = bin_dir.join(package);
        let kib = std::fs::metadata(&binary).unwrap().len() / 1024;
        let installed: u64 = f["Installed-Size"].parse().unwrap();
        assert!(installed > kib, "{package}: Installed-Size {installed}");

        let files = contents(deb);
        for (path, (mode, owner, time)) in &files {
            assert_eq!(owner, "root/root", "{package}: {path}");
            assert_eq!(*time, date, "{package}: {path}'s time");
            if path.ends_with('/') {
                assert_eq!(mode, "drwxr-xr-x", "{package}: {path}");
            }
        }
        let got: Vec<(String, &str)> = files
            .iter()
            .filter(|(path, _)| !path.ends_with('/'))
            .map(|(path, (mode, _, _))| (path.clone(), mode.as_str()))
            .collect();
        assert_eq!(got, expected_files(package), "{package}'s files");

        let info = text(Command::new("dpkg-deb").arg("--info").arg(deb));
        let conffiles = match *package {
            "mig-agent" => "/etc/init.d/mig-agent\n/etc/mig/agent.toml\n",
            "mig-server" => "/etc/mig/server.toml\n",
            _ => {
                assert!(!info.contains("conffiles"), "{info}");
                continue;
            }
        };
        let listed = text(
            Command::new("dpkg-deb")
                .arg("--info")
                .arg(deb)
                .arg("conffiles"),
        );
        assert_eq!(listed, conffiles, "{package}'s conffiles");
    }

    // What the packages hold, extracted as dpkg would install it.
    let root = work.path().join("root");
    for deb in first.debs.values() {
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    }
    for name in PACKAGES {
        let path = if name == "mig" { "usr/bin" } else { "usr/sbin" };
        assert!(
            std::fs::read(root.join(path).join(name)).unwrap()
                == std::fs::read(bin_dir.join(name)).unwrap(),
            "the packaged {name} is not the binary given"
        );
    }
    for (original, path) in [
        (
            "deploy/systemd/mig-agent.service",
            "/lib/systemd/system/mig-agent.service",
        ),
        (
            "deploy/systemd/mig-agent-checkin.service",
            "/lib/systemd/system/mig-agent-checkin.service",
        ),
        (
            "deploy/systemd/mig-agent-checkin.timer",
            "/lib/systemd/system/mig-agent-checkin.timer",
        ),
        (
            "deploy/systemd/mig-server.service",
            "/lib/systemd/system/mig-server.service",
        ),
        (
            "deploy/systemd/mig-server@.service",
            "/lib/systemd/system/mig-server@.service",
        ),
        ("deploy/sysv/mig-agent", "/etc/init.d/mig-agent"),
    ] {
        check_rewritten(&root, original, path);
    }
    assert!(packaged(&root, "/lib/systemd/system/mig-agent.service")
        .contains("ExecStart=/usr/sbin/mig-agent --config /etc/mig/agent.toml\n"));
    assert!(packaged(&root, "/lib/systemd/system/mig-server.service")
        .contains("ExecStart=/usr/sbin/mig-server --config /etc/mig/server.toml\n"));
    assert!(packaged(&root, "/etc/init.d/mig-agent").contains("DAEMON=/usr/sbin/mig-agent\n"));
    verify_units(&root, &["mig-agent.service"]);
    verify_units(
        &root,
        &["mig-agent-checkin.service", "mig-agent-checkin.timer"],
    );
    verify_units(&root, &["mig-server.service", "mig-server@.service"]);
    check_examples(&root);
    check_scripts(&first.debs);
    println!("packages checked in {:.1?}", started.elapsed());

    let root_user = text(Command::new("id").arg("-u")).trim() == "0";
    if !root_user || std::env::var("MIG_TEST_DPKG").as_deref() != Ok("1") {
        println!(
            "skipped installing the packages with dpkg: needs root and MIG_TEST_DPKG=1 (CI sets it)"
        );
        return;
    }
    install_and_run(&first.debs, work.path());
    println!("installed, run and purged in {:.1?}", started.elapsed());
}

/// What the packages install (and the test's own additions) is removed however the test ends:
/// a failed assertion must not leave a half-installed platform on the machine.
struct Installed {
    made_user: bool,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .arg("--purge")
            .args(PACKAGES)
            .stdin(Stdio::null())
            .output();
        if self.made_user {
            // Debian leaves system users behind on purge; this one only existed for the test.
            let _ = Command::new("userdel").arg("mig").output();
        }
    }
}

/// The installed agent, killed with the test.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The paths the packages (and their maintainer scripts) own on the machine.
const INSTALLED_PATHS: [&str; 12] = [
    "/usr/sbin/mig-agent",
    "/usr/sbin/mig-server",
    "/usr/bin/mig",
    "/lib/systemd/system/mig-agent.service",
    "/lib/systemd/system/mig-server.service",
    "/etc/init.d/mig-agent",
    "/etc/mig",
    "/var/lib/mig-agent",
    "/var/log/mig-agent",
    "/var/lib/mig",
    "/usr/share/doc/mig-agent",
    "/usr/share/doc/mig",
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Abbrev}", package])
        .output()
        .is_ok_and(|o| o.status.success() && stdout(&o).starts_with("ii"))
}

fn mode(path: &str) -> (u32, u32, u32) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.mode() & 0o7777, m.uid(), m.gid())
}

fn id(flag: &str, name: &str) -> u32 {
    text(Command::new("id").args([flag, name]))
        .trim()
        .parse()
        .unwrap()
}

fn install_and_run(debs: &BTreeMap<&str, PathBuf>, work: &Path) {
    // This test purges what it installs: on a machine that has MIG already it would remove it.
    for package in PACKAGES {
        assert!(
            !installed(package),
            "{package} is installed on this machine: the test would purge it; remove it or unset MIG_TEST_DPKG"
        );
    }
    for path in INSTALLED_PATHS {
        assert!(
            !Path::new(path).exists(),
            "{path} exists on this machine: the test would remove it; remove it or unset MIG_TEST_DPKG"
        );
    }
    let guard = Installed {
        made_user: !Command::new("getent")
            .args(["passwd", "mig"])
            .output()
            .is_ok_and(|o| o.status.success()),
    };
    let said = stdout(&run(Command::new("dpkg").arg("-i").args(debs.values())));
    // Nothing is configured yet, so nothing was started: the scripts say what to do.
    assert!(said.contains("mig-agent: not started"), "{said}");
    assert!(said.contains("mig-server: not started"), "{said}");
    for package in PACKAGES {
        assert!(
            installed(package),
            "{package} is not installed after dpkg -i"
        );
    }
    run(Command::new("dpkg").arg("--verify").args(PACKAGES));
    let mig = (id("-u", "mig"), id("-g", "mig"));
    assert_eq!(mode("/var/lib/mig-agent"), (0o700, 0, 0));
    assert_eq!(mode("/var/lib/mig"), (0o750, mig.0, mig.1));
    assert_eq!(mode("/etc/mig/server.toml"), (0o640, 0, mig.1));
    assert_eq!(mode("/etc/mig/agent.toml"), (0o600, 0, 0));

    // A dev platform from the installed server (no agents of its own)…
    let dev_dir = work.join("dev");
    let dev = Dev::start_from(
        Path::new("/usr/sbin/mig-server"),
        &dev_dir,
        &["--agents", "0"],
    );
    // …and the installed agent, with the defaults the package set up (its state in
    // /var/lib/mig-agent, its audit log in /var/log/mig-agent), configured in the conffile it
    // reads when given no --config.
    let name = format!("pkg-{}", std::process::id());
    let dev_file = |f: &str| dev_dir.join(f).display().to_string();
    let config = format!(
        "name = {name:?}\nrelay = \"wss://localhost:{}/\"\nca = {:?}\ncert = {:?}\nkey = {:?}\nkeyring = {:?}\nacl = {:?}\nheartbeat = \"30s\"\n",
        dev.ports.1,
        dev_file("pki/ca.pem"),
        dev_file("pki/agent.pem"),
        dev_file("pki/agent.key"),
        dev_file("keyring"),
        dev_file("acl.json"),
    );
    std::fs::write("/etc/mig/agent.toml", config).unwrap();
    let log = std::fs::File::create(work.join("agent.log")).unwrap();
    let agent = Agent(
        Command::new("/usr/sbin/mig-agent")
            .env_remove("MIG_AGENT_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the installed /usr/sbin/mig-agent"),
    );
    let mig = |args: &[&str]| {
        Command::new("/usr/bin/mig")
            .args(args)
            .env("MIG_CONFIG", dev_dir.join("client.toml"))
            .stdin(Stdio::null())
            .output()
            .expect("run the installed /usr/bin/mig")
    };
    let agent_log = || std::fs::read_to_string(work.join("agent.log")).unwrap_or_default();
    wait_for(
        &format!("the installed agent {name} online"),
        Duration::from_secs(60),
        || {
            stdout(&mig(&["agents", "--status", "online"]))
                .contains(&name)
                .then_some(())
        },
    );
    // The installed client asks the installed agent something only the package put there.
    let found = mig(&[
        "file",
        "-t",
        &format!("name='{name}'"),
        "-path",
        "/usr/sbin",
        "-name",
        "^mig-agent$",
    ]);
    assert!(
        stdout(&found).contains("/usr/sbin/mig-agent"),
        "mig file: {}\n{}\nagent: {}",
        stdout(&found),
        stderr(&found),
        agent_log()
    );
    assert!(
        Path::new("/var/lib/mig-agent/identity.json").exists(),
        "the agent's identity is not in its packaged state directory; agent: {}",
        agent_log()
    );
    let audit = std::fs::read_to_string("/var/log/mig-agent/audit.log").unwrap_or_default();
    assert!(audit.contains("file"), "audit log: {audit}");
    drop(agent);
    dev.stop();

    // Removing keeps what is the operator's (configuration) and the agent's identity…
    run(Command::new("dpkg").arg("-r").args(PACKAGES));
    for gone in [
        "/usr/sbin/mig-agent",
        "/usr/sbin/mig-server",
        "/usr/bin/mig",
        "/lib/systemd/system/mig-agent.service",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after dpkg -r");
    }
    for kept in [
        "/etc/mig/agent.toml",
        "/etc/mig/server.toml",
        "/etc/init.d/mig-agent",
        "/var/lib/mig-agent/identity.json",
    ] {
        assert!(Path::new(kept).exists(), "{kept} is gone after dpkg -r");
    }
    // …and purging removes everything.
    run(Command::new("dpkg").arg("--purge").args(PACKAGES));
    for path in INSTALLED_PATHS {
        assert!(
            !Path::new(path).exists(),
            "{path} is left after dpkg --purge"
        );
    }
    for package in PACKAGES {
        let known = Command::new("dpkg-query")
            .args(["-W", package])
            .output()
            .unwrap();
        assert!(
            !known.status.success(),
            "dpkg still knows {package} after the purge: {}",
            stdout(&known)
        );
    }
    drop(guard);
}
