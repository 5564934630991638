//! A platform for end-to-end tests: a real `mig-server` process (SQLite or PostgreSQL),
//! real `mig-agent` processes with their own keyrings and ACLs, and the real `mig` client,
//! all talking over real TLS sockets in a temporary directory.

#![forbid(unsafe_code)]

pub mod attack;
pub mod dev;
pub mod services;

use mig_pgp::keygen::{armored_secret, generate_key, KeyAlgorithm};
use mig_pgp::{KeySigner, Signer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A binary of the workspace, from the target directory this test was built into.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds every binary)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `f` until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An investigator: a key pair on disk.
pub struct Investigator {
    pub name: String,
    pub key_file: PathBuf,
    pub public_file: PathBuf,
    pub fingerprint: String,
}

/// A running agent process.
pub struct AgentProc {
    pub name: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub child: Option<Child>,
    /// The binary it runs: the workspace's, unless a test gave it a copy of its own.
    pub exe: PathBuf,
}

impl AgentProc {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "agent {} already runs", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("agent.log"))
            .unwrap();
        self.child = Some(
            Command::new(&self.exe)
                .arg("--config")
                .arg(&self.config)
                .env("RUST_LOG", "info")
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start mig-agent"),
        );
    }

    /// Points the agent at another relay (takes effect at its next start).
    pub fn set_relay(&self, url: &str) {
        let config = std::fs::read_to_string(&self.config).unwrap();
        let config: String = config
            .lines()
            .map(|l| {
                if l.starts_with("relay = ") {
                    format!("relay = {url:?}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&self.config, config).unwrap();
    }

    /// Runs `mig-agent identity`: (queueloc, public key).
    pub fn identity(&self) -> (String, String) {
        let out = Command::new(bin("mig-agent"))
            .arg("--config")
            .arg(&self.config)
            .arg("identity")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("no {name} in {text}"))
        };
        (field("queueloc"), field("publickey"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    /// The processes running a binary from this agent's directory (an upgraded agent runs
    /// one the test did not start), by pid, with their executable.
    pub fn processes(&self) -> Vec<(u32, PathBuf)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(exe) = std::fs::read_link(entry.path().join("exe")) else {
                continue;
            };
            let text = exe.to_string_lossy();
            let exe = PathBuf::from(text.strip_suffix(" (deleted)").unwrap_or(&text));
            if exe.starts_with(&self.dir) {
                found.push((pid, exe));
            }
        }
        found
    }

    pub fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.join("audit.log")).unwrap_or_default()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.stop();
        // Agents the test did not start itself (an upgrade's new agent) go too.
        for (pid, _) in self.processes() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

pub struct Platform {
    pub dir: tempfile::TempDir,
    pub api_port: u16,
    pub relay_port: u16,
    /// The server processes, by role (`run`, `api`, `scheduler`), in start order.
    servers: Vec<(String, Child)>,
    roles: Vec<String>,
    /// What agents are told to connect to.
    agent_relay: String,
    pub admin: Investigator,
}

/// Extra server settings for a test.
#[derive(Default, Clone)]
pub struct ServerOptions {
    /// Extra TOML appended to server.toml.
    pub extra: String,
    /// Extra keys of server.toml's `[relay]` table (which `mig-server init` writes).
    pub relay: String,
    /// PostgreSQL URL instead of SQLite.
    pub database_url: Option<String>,
    /// RabbitMQ URL: the relay is AMQP (no built-in relay), and agents connect there.
    pub amqp_url: Option<String>,
    /// The server processes to run (`mig-server <role>`); empty means one `run`.
    pub roles: Vec<String>,
}

impl Platform {
    pub fn start() -> Platform {
        Platform::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> Platform {
        // Ports are picked free and bound by the server a moment later: something else may
        // take one in between (another test's outgoing connection gets an ephemeral port from
        // the same range). Then the whole platform starts again on other ports; with a shared
        // database once only, since the first try already wrote to it.
        let attempts = if opts.database_url.is_none() { 3 } else { 1 };
        for attempt in 1..=attempts {
            let mut p = Platform::configure(&opts);
            match p.try_start_server() {
                Ok(()) => return p,
                Err(log) if attempt < attempts && log.contains("in use") => continue,
                Err(log) => panic!("the server did not start:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// A data directory, server.toml and admin investigator, on fresh ports; nothing started.
    fn configure(opts: &ServerOptions) -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let api_port = free_port();
        let relay_port = free_port();
        let data = dir.path().join("server");
        let out = Command::new(bin("mig-server"))
            .args(["init", "--data-dir"])
            .arg(&data)
            .args(["--api-listen", &format!("127.0.0.1:{api_port}")])
            .args(["--relay-listen", &format!("127.0.0.1:{relay_port}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut toml = std::fs::read_to_string(data.join("server.toml")).unwrap();
        if let Some(url) = &opts.database_url {
            toml = toml.replace("[database]\n", &format!("[database]\nurl = {url:?}\n"));
        }
        let mut agent_relay = format!("wss://localhost:{relay_port}/");
        if let Some(url) = &opts.amqp_url {
            let listen = format!("listen = \"127.0.0.1:{relay_port}\"\n");
            assert!(toml.contains(&listen), "server.toml: {toml}");
            toml = toml.replace(&listen, &format!("listen = \"\"\namqp_url = {url:?}\n"));
            agent_relay = url.clone();
        }
        if !opts.relay.is_empty() {
            toml = toml.replace("[relay]\n", &format!("[relay]\n{}\n", opts.relay));
        }
        toml.push_str("\n[scheduler]\ntick = \"200ms\"\n");
        toml.push_str(&opts.extra);
        std::fs::write(data.join("server.toml"), toml).unwrap();
        let p = Platform {
            admin: new_investigator(dir.path(), "Admin Alice"),
            dir,
            api_port,
            relay_port,
            servers: Vec::new(),
            roles: if opts.roles.is_empty() {
                vec!["run".to_string()]
            } else {
                opts.roles.clone()
            },
            agent_relay,
        };
        p.add_investigator(&p.admin_clone(), "admin");
        p
    }

    fn admin_clone(&self) -> Investigator {
        Investigator {
            name: self.admin.name.clone(),
            key_file: self.admin.key_file.clone(),
            public_file: self.admin.public_file.clone(),
            fingerprint: self.admin.fingerprint.clone(),
        }
    }

    pub fn server_config(&self) -> PathBuf {
        self.dir.path().join("server/server.toml")
    }

    pub fn pki(&self, f: &str) -> PathBuf {
        self.dir.path().join("server/pki").join(f)
    }

    /// Registers an investigator directly in the server's database (as an operator would).
    pub fn add_investigator(&self, inv: &Investigator, permission: &str) {
        let out = Command::new(bin("mig-server"))
            .arg("--config")
            .arg(self.server_config())
            .args([
                "investigator",
                "add",
                "--name",
                &inv.name,
                "--permission",
                permission,
                "--key",
            ])
            .arg(&inv.public_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "investigator add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn investigator(&self, name: &str) -> Investigator {
        new_investigator(self.dir.path(), name)
    }

    /// Starts the server processes (all of them, after `kill_server`).
    pub fn start_server(&mut self) {
        if let Err(log) = self.try_start_server() {
            panic!("the server did not start:\n{log}");
        }
    }

    fn try_start_server(&mut self) -> Result<(), String> {
        assert!(self.servers.is_empty());
        for role in self.roles.clone() {
            self.try_start_role(&role)?;
        }
        Ok(())
    }

    /// Starts one more `mig-server <role>` process; returns its index.
    pub fn start_role(&mut self, role: &str) -> usize {
        self.try_start_role(role)
            .unwrap_or_else(|log| panic!("mig-server {role} did not start:\n{log}"))
    }

    /// The same; if the process exits or its API does not answer, its log.
    fn try_start_role(&mut self, role: &str) -> Result<usize, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(bin("mig-server"))
            .arg("--config")
            .arg(self.server_config())
            .arg(role)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.servers.push((role.to_string(), child));
        let index = self.servers.len() - 1;
        if role != "scheduler" {
            let url = format!("https://127.0.0.1:{}/api/v1/health", self.api_port);
            let http = self.http();
            let start = Instant::now();
            loop {
                let answered = http.get(&url).send().ok();
                if answered.is_some_and(|r| r.status().is_success()) {
                    break;
                }
                if let Ok(Some(status)) = self.servers[index].1.try_wait() {
                    return Err(format!("exited ({status}):\n{}", self.server_log()));
                }
                if start.elapsed() > Duration::from_secs(30) {
                    return Err(format!("no API answer after 30 s:\n{}", self.server_log()));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(index)
    }

    /// Kills every server process at once (SIGKILL): no clean shutdown.
    pub fn kill_server(&mut self) {
        for (_, mut c) in self.servers.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills one server process (SIGKILL), by its index in start order.
    pub fn kill_process(&mut self, index: usize) {
        let (_, c) = &mut self.servers[index];
        let _ = c.kill();
        let _ = c.wait();
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn http(&self) -> reqwest::blocking::Client {
        let pem = std::fs::read(self.pki("ca.pem")).unwrap();
        reqwest::blocking::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.api_port)
    }

    /// A client configuration signing as `inv`.
    pub fn client_config(&self, inv: &Investigator) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("client-{}.toml", slug(&inv.name)));
        let text = format!(
            "api = \"https://localhost:{}\"\nca = {:?}\nconfirm_above = 1000\n\n[signing]\nkey_file = {:?}\n\n[macros]\nall = \"status='online'\"\n",
            self.api_port,
            self.pki("ca.pem").display().to_string(),
            inv.key_file.display().to_string()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `mig` with `args` as `inv`, not started (no input).
    pub fn mig_command(&self, inv: &Investigator, args: &[&str]) -> Command {
        let mut c = Command::new(bin("mig"));
        c.args(args)
            .env("MIG_CONFIG", self.client_config(inv))
            .stdin(Stdio::null());
        c
    }

    /// Runs `mig` with `args` as `inv`.
    pub fn mig(&self, inv: &Investigator, args: &[&str]) -> Output {
        self.mig_command(inv, args).output().unwrap()
    }

    /// An agent process with its own keyring (the given investigators) and ACL.
    pub fn agent(
        &self,
        name: &str,
        trusted: &[&Investigator],
        acl: Value,
        extra: &str,
    ) -> AgentProc {
        let mut a = self.agent_stopped(name, trusted, acl, extra);
        a.start();
        a
    }

    /// The same, configured but not started.
    pub fn agent_stopped(
        &self,
        name: &str,
        trusted: &[&Investigator],
        acl: Value,
        extra: &str,
    ) -> AgentProc {
        let dir = self.dir.path().join(format!("agent-{name}"));
        std::fs::create_dir_all(dir.join("keyring")).unwrap();
        for inv in trusted {
            std::fs::copy(
                &inv.public_file,
                dir.join("keyring").join(format!("{}.asc", slug(&inv.name))),
            )
            .unwrap();
        }
        std::fs::write(
            dir.join("acl.json"),
            serde_json::to_vec_pretty(&acl).unwrap(),
        )
        .unwrap();
        let config = format!(
            "name = {name:?}\nrelay = {:?}\nca = {:?}\ncert = {:?}\nkey = {:?}\nkeyring = {:?}\nacl = {:?}\n\
             state_dir = {:?}\nrun_dir = {:?}\naudit_log = {:?}\nreconnect_max = \"2s\"\n{extra}\n",
            self.agent_relay,
            self.pki("ca.pem").display().to_string(),
            self.pki("agent.pem").display().to_string(),
            self.pki("agent.key").display().to_string(),
            dir.join("keyring").display().to_string(),
            dir.join("acl.json").display().to_string(),
            dir.join("state").display().to_string(),
            dir.join("run").display().to_string(),
            dir.join("audit.log").display().to_string(),
        );
        let config_path = dir.join("agent.toml");
        std::fs::write(&config_path, config).unwrap();
        AgentProc {
            name: name.to_string(),
            dir,
            config: config_path,
            child: None,
            exe: bin("mig-agent"),
        }
    }

    /// Waits until the server lists `name` as online.
    pub fn wait_online(&self, name: &str) -> Value {
        let client = self.api(&self.admin);
        wait_for(
            &format!("agent {name} online"),
            Duration::from_secs(30),
            || {
                let agents: Vec<mig_core::Agent> =
                    client.agents(&[("status", "online".into())]).ok()?;
                agents
                    .into_iter()
                    .find(|a| a.name == name)
                    .map(|a| serde_json::to_value(a).unwrap())
            },
        )
    }

    pub fn api(&self, inv: &Investigator) -> mig_client::api::Client {
        let config = mig_client::config::Config::load(&self.client_config(inv)).unwrap();
        mig_client::api::Client::from_config(&config).unwrap()
    }

    /// Builds an action of one operation, signs it as `inv` and launches it through the API;
    /// returns its id. Each gets its own name: agents refuse a signed action they already ran,
    /// and MIG's signing text has a resolution of one second.
    pub fn launch(
        &self,
        inv: &Investigator,
        target: &str,
        module: &str,
        parameters: Value,
        expiration: Duration,
    ) -> u64 {
        let op = mig_core::Operation::new(module, parameters);
        static LAUNCHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = LAUNCHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("e2e {n}");
        let mut action = mig_client::build::action(&name, target, vec![op], expiration, false);
        let signer = KeySigner::from_file(&inv.key_file, None).unwrap();
        mig_client::build::sign(&mut action, &signer).unwrap();
        self.api(inv).create_action(&action).unwrap().id
    }

    /// Waits until action `id` has finished, and returns it.
    pub fn wait_action(&self, id: u64, timeout: Duration) -> mig_core::Action {
        let client = self.api(&self.admin);
        wait_for(&format!("action {id} to finish"), timeout, || {
            let a = client.action(id).ok()?;
            a.status.is_finished().then_some(a)
        })
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.kill_server();
    }
}

fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

fn new_investigator(dir: &Path, name: &str) -> Investigator {
    let key = generate_key(
        &format!("{name} <{}@example.com>", slug(name)),
        KeyAlgorithm::Ed25519,
        false,
    )
    .unwrap();
    let signer = KeySigner::new(key.clone(), None).unwrap();
    let key_file = dir.join(format!("{}.key.asc", slug(name)));
    let public_file = dir.join(format!("{}.pub.asc", slug(name)));
    std::fs::write(&key_file, armored_secret(&key).unwrap()).unwrap();
    std::fs::write(&public_file, signer.public_key_armored().unwrap()).unwrap();
    Investigator {
        name: name.to_string(),
        key_file,
        public_file,
        fingerprint: signer.fingerprint().to_string(),
    }
}

/// An ACL where every module needs `min` weight and each investigator weighs 1.
pub fn acl(min: u32, investigators: &[&Investigator]) -> Value {
    let mut invs = serde_json::Map::new();
    for i in investigators {
        invs.insert(
            i.name.clone(),
            json!({"fingerprint": i.fingerprint, "weight": 1}),
        );
    }
    json!({"default": {"minimumweight": min, "investigators": invs}})
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
