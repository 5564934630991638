//! `mig-server dev`: the one-command platform for a first look. On first run it creates a
//! data directory (certificates, development investigator keys, an ACL trusting them, SQLite,
//! the clients' and agents' configurations), then starts the server with its built-in relay
//! and N local agents, and says what to type next. Every file is written only when it is
//! missing: an operator's edit (a stricter ACL, an agent setting) survives restarts, and
//! the start says which files were created and which were kept.

use crate::config::Config;
use anyhow::Context;
use mig_pgp::keygen::{armored_secret, generate_key, KeyAlgorithm};
use mig_pgp::{KeySigner, Signer};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

pub struct DevOptions {
    pub data_dir: PathBuf,
    pub agents: usize,
    /// Development investigators (keys, client configurations), for trying m-of-n ACLs.
    pub investigators: usize,
    pub api_listen: String,
    pub relay_listen: String,
}

/// Files `dev` creates, relative to the data directory.
struct Layout {
    root: PathBuf,
}

impl Layout {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// What `dev` found and what it wrote, for the start-up message.
#[derive(Default)]
struct Report {
    created: Vec<PathBuf>,
    kept: Vec<PathBuf>,
}

impl Report {
    /// Writes `contents` to `path` unless the file exists (then it is the operator's).
    fn write_if_missing(
        &mut self,
        path: PathBuf,
        contents: &[u8],
        private: bool,
    ) -> anyhow::Result<()> {
        if path.exists() {
            self.kept.push(path);
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if private {
            write_private(&path, contents)?;
        } else {
            std::fs::write(&path, contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        self.created.push(path);
        Ok(())
    }

    fn print(&self, root: &Path) {
        let list = |paths: &[PathBuf]| -> String {
            paths
                .iter()
                .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.created.is_empty() {
            println!("created: {}", list(&self.created));
        }
        if !self.kept.is_empty() {
            println!(
                "kept as they are (edit them freely; delete one to have it made again): {}",
                list(&self.kept)
            );
        }
    }
}

/// A development investigator: a name, and where its key and client configuration are.
struct DevInvestigator {
    name: String,
    signer: KeySigner,
    client: PathBuf,
}

pub async fn run(opts: DevOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create {}", opts.data_dir.display()))?;
    let root = opts.data_dir.canonicalize()?;
    let l = Layout { root: root.clone() };
    let api_port = port_of(&opts.api_listen)?;
    let relay_port = port_of(&opts.relay_listen)?;
    let mut report = Report::default();

    // Development settings: quick heartbeats, so the agents show up as online at once.
    // Written before `init`, which writes a production-style server.toml only if none exists.
    let server_toml = format!(
        "# Written by `mig-server dev`. Every key: docs/server.md\ndata_dir = {root:?}\n\n[api]\nlisten = {:?}\n\n[relay]\nlisten = {:?}\n\n\
         [scheduler]\ntick = \"500ms\"\n\n[agents]\nheartbeat_period = \"30s\"\n",
        opts.api_listen,
        opts.relay_listen,
        root = root.display().to_string()
    );
    report.write_if_missing(l.p("server.toml"), server_toml.as_bytes(), false)?;
    let pki_existed = l.p("pki/ca.pem").exists();
    let config_path = crate::init::init(
        &root,
        &["localhost".into(), "127.0.0.1".into()],
        &opts.api_listen,
        &opts.relay_listen,
    )?;
    if pki_existed {
        report.kept.push(l.p("pki"));
    } else {
        report.created.push(l.p("pki"));
    }
    let investigators = (1..=opts.investigators.max(1))
        .map(|n| investigator(&l, n, api_port, &mut report))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let config = Config::load(&config_path)?;
    // The scheduler's key goes in the agents' keyring, trusted for agentdestroy only: the
    // upgrade protocol retires old agents with it.
    let scheduler = crate::retire::ensure_key(&config)?;
    report.write_if_missing(
        l.p("keyring/mig-scheduler.asc"),
        scheduler.public_key_armored()?.as_bytes(),
        false,
    )?;
    write_acl(&l, &investigators, &scheduler, &mut report)?;

    let store = mig_store::Store::connect(&config.database_url()).await?;
    for (i, inv) in investigators.iter().enumerate() {
        if store
            .investigator_by_fingerprint(inv.signer.fingerprint())
            .await?
            .is_none()
        {
            // The first is an admin (it may add more investigators through the API).
            let permission = if i == 0 {
                mig_store::investigators::permission::ADMIN
            } else {
                mig_store::investigators::permission::INVESTIGATOR
            };
            store
                .create_investigator(
                    &inv.name,
                    &inv.signer.public_key_armored()?,
                    inv.signer.fingerprint(),
                    permission,
                    crate::app::now_ms(),
                )
                .await?;
        }
    }
    drop(store);
    let agent_configs = (0..opts.agents)
        .map(|i| agent_config(&l, i, relay_port, &mut report))
        .collect::<anyhow::Result<Vec<_>>>()?;
    report.print(&root);

    let mut server = tokio::spawn(crate::start(config, true, true));
    // The agents dial in once the API and the relay listen; a server that could not start
    // (a port taken) ends dev with its error instead of leaving agents knocking on nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if server.is_finished() {
            return match (&mut server).await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(())) => Err(anyhow::anyhow!("the server stopped as it started")),
                Err(e) => Err(anyhow::anyhow!("server task: {e}")),
            };
        }
        let listening = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if listening(api_port) && listening(relay_port) {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the server does not listen on ports {api_port} and {relay_port} after 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut agents = AgentSet(Vec::new());
    for config in &agent_configs {
        agents.0.push(start_agent(config)?);
    }

    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let others: String = investigators
        .iter()
        .skip(1)
        .map(|inv| {
            format!(
                "    {}: MIG_CONFIG={} (fingerprint {})\n",
                inv.name,
                inv.client.display(),
                inv.signer.fingerprint()
            )
        })
        .collect();
    println!(
        "\nMIG is running: API https://localhost:{api_port}, relay wss://localhost:{relay_port}, {} local agent(s).\n\
         Data in {}.\n\nIn another terminal:\n\n    export PATH={}:$PATH\n    export MIG_CONFIG={}\n    \
         mig file -t all -path /etc -name '^passwd$'\n\n{}{}Stop with Ctrl-C; the same command starts it again with the same data.\n",
        opts.agents,
        root.display(),
        bin_dir.display(),
        investigators[0].client.display(),
        if others.is_empty() {
            String::new()
        } else {
            "Other investigators (docs/acl.md: a two-person rule in dev mode):\n".to_string()
        },
        if others.is_empty() {
            String::new()
        } else {
            format!("{others}\n")
        },
    );
    tokio::select! {
        r = server => match r {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("server task: {e}")),
        },
        _ = tokio::signal::ctrl_c() => {
            println!("stopping");
            Ok(())
        }
        _ = terminated() => {
            println!("stopping");
            Ok(())
        }
    }
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

fn port_of(listen: &str) -> anyhow::Result<u16> {
    listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .with_context(|| format!("{listen:?}: expected host:port"))
}

/// Development investigator number `n` (from 1): an Ed25519 key kept in the data directory,
/// its public key in the agents' keyring, and a client configuration signing with it. The
/// first keeps dev's historical names (`investigator.asc`, `client.toml`).
fn investigator(
    l: &Layout,
    n: usize,
    api_port: u16,
    report: &mut Report,
) -> anyhow::Result<DevInvestigator> {
    let (name, key, public, client) = if n == 1 {
        (
            "Dev Investigator".to_string(),
            l.p("investigator.asc"),
            l.p("keyring/dev-investigator.asc"),
            l.p("client.toml"),
        )
    } else {
        (
            format!("Dev Investigator {n}"),
            l.p(&format!("investigator-{n}.asc")),
            l.p(&format!("keyring/dev-investigator-{n}.asc")),
            l.p(&format!("client-{n}.toml")),
        )
    };
    if !key.exists() {
        let secret = generate_key(
            &format!("{name} <dev{n}@localhost>"),
            KeyAlgorithm::Ed25519,
            false,
        )?;
        report.write_if_missing(key.clone(), armored_secret(&secret)?.as_bytes(), true)?;
    } else {
        report.kept.push(key.clone());
    }
    let signer = KeySigner::from_file(&key, None)?;
    report.write_if_missing(public, signer.public_key_armored()?.as_bytes(), false)?;
    let text = format!(
        "# Written by `mig-server dev`. Every key: docs/cli.md\napi = \"https://localhost:{api_port}\"\nca = {:?}\n\n\
         [signing]\nkey_file = {:?}\n\n[macros]\nall = \"status='online'\"\nlinux = \"status='online' and os='linux'\"\n",
        l.p("pki/ca.pem").display().to_string(),
        key.display().to_string()
    );
    report.write_if_missing(client.clone(), text.as_bytes(), false)?;
    Ok(DevInvestigator {
        name,
        signer,
        client,
    })
}

/// An ACL trusting every dev investigator with weight 1, one signature needed, and the
/// scheduler's key for agentdestroy alone; written once: afterwards it is the operator's
/// (docs/acl.md shows how to require two).
fn write_acl(
    l: &Layout,
    investigators: &[DevInvestigator],
    scheduler: &KeySigner,
    report: &mut Report,
) -> anyhow::Result<()> {
    let members: serde_json::Map<String, serde_json::Value> = investigators
        .iter()
        .map(|inv| {
            (
                inv.name.clone(),
                serde_json::json!({"fingerprint": inv.signer.fingerprint(), "weight": 1}),
            )
        })
        .collect();
    let acl = serde_json::json!({
        "default": {"minimumweight": 1, "investigators": members},
        "agentdestroy": {"minimumweight": 1, "investigators": {
            crate::retire::SCHEDULER_NAME: {"fingerprint": scheduler.fingerprint(), "weight": 1}
        }},
    });
    report.write_if_missing(l.p("acl.json"), &serde_json::to_vec_pretty(&acl)?, false)
}

/// Agent number `i`'s directory and configuration (written when missing).
fn agent_config(
    l: &Layout,
    i: usize,
    relay_port: u16,
    report: &mut Report,
) -> anyhow::Result<PathBuf> {
    let dir = l.p(&format!("agent-{i}"));
    std::fs::create_dir_all(&dir)?;
    let host = crate::scheduler::hostname();
    let config = format!(
        "# Written by `mig-server dev`. Every key: docs/agent.md\nname = \"{host}-dev{i}\"\nrelay = \"wss://localhost:{relay_port}/\"\n\
         ca = {:?}\ncert = {:?}\nkey = {:?}\nkeyring = {:?}\nacl = {:?}\nheartbeat = \"30s\"\n\
         state_dir = {:?}\nrun_dir = {:?}\naudit_log = {:?}\n\n[tags]\nenvironment = \"dev\"\n",
        l.p("pki/ca.pem").display().to_string(),
        l.p("pki/agent.pem").display().to_string(),
        l.p("pki/agent.key").display().to_string(),
        l.p("keyring").display().to_string(),
        l.p("acl.json").display().to_string(),
        dir.join("state").display().to_string(),
        dir.join("run").display().to_string(),
        dir.join("audit.log").display().to_string(),
    );
    let path = dir.join("agent.toml");
    report.write_if_missing(path.clone(), config.as_bytes(), false)?;
    Ok(path)
}

fn start_agent(config_path: &Path) -> anyhow::Result<Child> {
    let dir = config_path.parent().unwrap_or(Path::new("."));
    let exe = agent_binary()?;
    // Appended: a restart keeps what the agents said before.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("agent.log"))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("--config")
        .arg(config_path)
        .stdout(log.try_clone()?)
        .stderr(log);
    // The local agents go when dev goes, however it goes (even SIGKILL).
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd.spawn()
        .with_context(|| format!("cannot start {}", exe.display()))
}

/// mig-agent sits next to mig-server (same cargo target directory or install prefix).
fn agent_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("MIG_AGENT_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let candidate = exe.with_file_name("mig-agent");
    anyhow::ensure!(
        candidate.exists(),
        "{} not found: build it (cargo build --release -p mig-agent) or set MIG_AGENT_BIN",
        candidate.display()
    );
    Ok(candidate)
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    Ok(())
}

/// Local agents stop with the server.
struct AgentSet(Vec<Child>);

impl Drop for AgentSet {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
