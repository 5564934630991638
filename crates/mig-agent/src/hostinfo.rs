//! What the agent says about its host in heartbeats.

use mig_core::{Agent, AgentEnv, GoTime};

pub fn hostname() -> String {
    match mig_host::system::read_trimmed("/proc/sys/kernel/hostname") {
        Ok(name) if !name.is_empty() => name,
        Ok(_) => "localhost".into(),
        Err(e) => {
            // The agent still starts, under a name that says it is not the machine's own.
            tracing::warn!("the host name cannot be read, using localhost: {e}");
            "localhost".into()
        }
    }
}

pub fn os() -> &'static str {
    std::env::consts::OS
}

/// Go's GOARCH names, as MIG reports them.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The distribution, from os-release(5)'s PRETTY_NAME.
pub fn ident() -> String {
    match mig_host::system::os_release() {
        Ok(release) => release.get("PRETTY_NAME").cloned().unwrap_or_default(),
        Err(e) => {
            // The heartbeat goes out without it; the log says why.
            tracing::warn!("the distribution cannot be told: {e}");
            String::new()
        }
    }
}

pub fn init_system() -> &'static str {
    if std::path::Path::new("/run/systemd/system").exists() {
        "systemd"
    } else if std::path::Path::new("/sbin/upstart").exists() {
        "upstart"
    } else {
        "sysvinit"
    }
}

/// The host's addresses in CIDR form (`10.0.0.5/24`), loopback excluded, as MIG's agents
/// report them; read at each heartbeat, since they change (DHCP, VPNs).
pub fn addresses() -> Vec<String> {
    use mig_host::net::{local_addresses, Namespace};
    let addresses = local_addresses(&Namespace::own()).unwrap_or_else(|e| {
        // The heartbeat goes out without them; the log says why.
        tracing::warn!("the host's addresses cannot be read: {e}");
        Vec::new()
    });
    addresses
        .into_iter()
        .filter(|a| !a.addr.is_loopback())
        .map(|a| format!("{}/{}", a.addr, a.prefix))
        .collect()
}

/// Facts that do not change while the agent runs.
pub struct Host {
    pub name: String,
    pub ident: String,
    pub init: &'static str,
    pub start: GoTime,
}

impl Host {
    pub fn detect() -> Host {
        Host {
            name: hostname(),
            ident: ident(),
            init: init_system(),
            start: GoTime::now(),
        }
    }

    pub fn heartbeat(
        &self,
        queueloc: &str,
        mode: &mig_core::agent::AgentMode,
        tags: &std::collections::BTreeMap<String, String>,
        proxy: &str,
    ) -> Agent {
        Agent {
            name: self.name.clone(),
            queueloc: queueloc.to_string(),
            mode: mode.clone(),
            os: os().to_string(),
            version: crate::version::current().to_string(),
            pid: std::process::id() as i64,
            starttime: self.start,
            heartbeatts: GoTime::now(),
            environment: AgentEnv {
                init: self.init.to_string(),
                ident: self.ident.clone(),
                os: os().to_string(),
                arch: arch().to_string(),
                isproxied: !proxy.is_empty(),
                proxy: proxy.to_string(),
                addresses: addresses(),
                modules: mig_modules::registry()
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect(),
                ..Default::default()
            },
            tags: tags.clone(),
            ..Default::default()
        }
    }
}
