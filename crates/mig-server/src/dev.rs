//! `mig-server dev`: the one-command platform for a first look. On first run it creates a
//! data directory (certificates, a development investigator key, an ACL trusting it, SQLite),
//! then starts the server with its built-in relay and N local agents, writes the client's
//! configuration, and says what to type next.

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

pub async fn run(opts: DevOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create {}", opts.data_dir.display()))?;
    let root = opts.data_dir.canonicalize()?;
    let l = Layout { root: root.clone() };
    let api_port = port_of(&opts.api_listen)?;
    let relay_port = port_of(&opts.relay_listen)?;

    let config_path = crate::init::init(
        &root,
        &["localhost".into(), "127.0.0.1".into()],
        &opts.api_listen,
        &opts.relay_listen,
    )?;
    // Development settings: quick heartbeats, so the agents show up as online at once.
    let server_toml = format!(
        "# Written by `mig-server dev`.\ndata_dir = {root:?}\n\n[api]\nlisten = {:?}\n\n[relay]\nlisten = {:?}\n\n\
         [scheduler]\ntick = \"500ms\"\n\n[agents]\nheartbeat_period = \"30s\"\n",
        opts.api_listen,
        opts.relay_listen,
        root = root.display().to_string()
    );
    std::fs::write(&config_path, server_toml)?;
    let signer = investigator_key(&l)?;
    write_acl(&l, signer.fingerprint())?;
    write_client_config(&l, api_port)?;

    let config = Config::load(&config_path)?;
    let store = mig_store::Store::connect(&config.database_url()).await?;
    if store
        .investigator_by_fingerprint(signer.fingerprint())
        .await?
        .is_none()
    {
        store
            .create_investigator(
                "Dev Investigator",
                &signer.public_key_armored()?,
                signer.fingerprint(),
                mig_store::investigators::permission::ADMIN,
                crate::app::now_ms(),
            )
            .await?;
    }
    drop(store);

    let server = tokio::spawn(crate::start(config, true, true));
    // Give the listeners a moment before the agents dial in.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut agents = AgentSet(Vec::new());
    for i in 0..opts.agents {
        agents.0.push(start_agent(&l, i, relay_port)?);
    }

    let client = l.p("client.toml");
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    println!(
        "\nMIG is running: API https://localhost:{api_port}, relay wss://localhost:{relay_port}, {} local agent(s).\n\
         Data in {}.\n\nIn another terminal:\n\n    export PATH={}:$PATH\n    export MIG_CONFIG={}\n    \
         mig file -t all -path /etc -name '^passwd$'\n\nStop with Ctrl-C.\n",
        opts.agents,
        root.display(),
        bin_dir.display(),
        client.display()
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

/// The development investigator: an Ed25519 key kept in the data directory.
fn investigator_key(l: &Layout) -> anyhow::Result<KeySigner> {
    let path = l.p("investigator.asc");
    if !path.exists() {
        let key = generate_key(
            "Dev Investigator <dev@localhost>",
            KeyAlgorithm::Ed25519,
            false,
        )?;
        write_private(&path, armored_secret(&key)?.as_bytes())?;
    }
    let signer = KeySigner::from_file(&path, None)?;
    std::fs::create_dir_all(l.p("keyring"))?;
    std::fs::write(
        l.p("keyring/dev-investigator.asc"),
        signer.public_key_armored()?,
    )?;
    Ok(signer)
}

fn write_acl(l: &Layout, fingerprint: &str) -> anyhow::Result<()> {
    let acl = serde_json::json!({
        "default": {"minimumweight": 1, "investigators": {"Dev Investigator": {"fingerprint": fingerprint, "weight": 1}}}
    });
    std::fs::write(l.p("acl.json"), serde_json::to_vec_pretty(&acl)?)?;
    Ok(())
}

fn write_client_config(l: &Layout, api_port: u16) -> anyhow::Result<()> {
    let text = format!(
        "# Written by `mig-server dev`. Every key: docs/cli.md\napi = \"https://localhost:{api_port}\"\nca = {:?}\n\n\
         [signing]\nkey_file = {:?}\n\n[macros]\nall = \"status='online'\"\nlinux = \"status='online' and os='linux'\"\n",
        l.p("pki/ca.pem").display().to_string(),
        l.p("investigator.asc").display().to_string()
    );
    std::fs::write(l.p("client.toml"), text)?;
    Ok(())
}

fn start_agent(l: &Layout, i: usize, relay_port: u16) -> anyhow::Result<Child> {
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
    let config_path = dir.join("agent.toml");
    std::fs::write(&config_path, config)?;
    let exe = agent_binary()?;
    let log = std::fs::File::create(dir.join("agent.log"))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("--config")
        .arg(&config_path)
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
