//! upgrade: MIG's agent upgrade. Its parameters name, per OS/architecture, the version to
//! run, where to download it (HTTPS) and its SHA-256:
//!
//! ```json
//! {"linux/amd64": {"to_version": "1.2.0", "location": "https://…/mig-agent", "checksum": "…"}}
//! ```
//!
//! The work is split by privilege. This module, in its sandboxed child (network, no writes),
//! downloads the binary, checks its SHA-256 and the version it carries, and writes it to a
//! file the agent opened for it. The agent then checks the file again itself, installs it
//! (keeping the previous binary), starts it and watches it: that part needs to write to the
//! agent's directory and to start processes, which no module process may do (see
//! `mig-agent`'s upgrade code). Run on its own (`mig-agent -m upgrade`), the module refuses.

use crate::agent_binary;
use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleError, Report, SandboxNeeds};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// The file descriptor the agent hands the module to write the binary to (its number, in
/// this environment variable).
pub const OUTPUT_FD_ENV: &str = "MIG_UPGRADE_OUTPUT_FD";
/// A PEM file of certificate authorities the download also trusts (the deployment's CA).
pub const CA_ENV: &str = "MIG_UPGRADE_CA";
/// Set (to 1) when the agent requires a signed release manifest: the module then also
/// fetches `MANIFEST.json` and `MANIFEST.json.asc` from the binary's folder, for the agent to
/// verify.
pub const MANIFEST_ENV: &str = "MIG_UPGRADE_MANIFEST";
/// The largest manifest or signature fetched.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// The largest binary downloaded.
pub const MAX_BINARY_BYTES: u64 = 256 << 20;
/// Connecting, and each read of the download, must not take longer.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(30);

/// One platform's upgrade instruction.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct Instruction {
    /// The version to run, as `mig-agent --version` prints it.
    #[serde(default)]
    pub to_version: String,
    /// Where to download the binary: an https:// URL.
    #[serde(default)]
    pub location: String,
    /// The binary's SHA-256, in hexadecimal.
    #[serde(default)]
    pub checksum: String,
    /// An older version than the running one is installed only when this is true (MIG's
    /// parameters are strings: "true" is accepted too).
    #[serde(
        default,
        deserialize_with = "bool_or_word",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub allow_downgrade: bool,
}

/// upgrade's parameters: one instruction per `os/arch` (Go's names: `linux/amd64`).
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(transparent)]
pub struct Params(pub BTreeMap<String, Instruction>);

/// The parameters, checked.
#[derive(Clone, Debug)]
pub struct Plan {
    instructions: BTreeMap<String, Instruction>,
}

impl Plan {
    /// The instruction for the platform this runs on.
    pub fn for_this_platform(&self) -> Result<&Instruction, ModuleError> {
        let key = platform();
        self.instructions.get(&key).ok_or_else(|| {
            ModuleError::Failed(format!(
                "no upgrade instruction for {key} in the parameters (they have {})",
                self.instructions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// What an upgrade reports, its `elements`: MIG's `oldpid`, and what changed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Elements {
    /// The process ID of the agent that was upgraded (it stops once the new one runs).
    pub oldpid: f64,
    /// The version it ran.
    #[serde(default)]
    pub oldversion: String,
    /// The version now running.
    #[serde(default)]
    pub newversion: String,
    /// Where the new binary was installed.
    #[serde(default)]
    pub binary: String,
    /// The release manifest next to the binary, when the agent asked for it (for the agent
    /// to check; not in the upgrade's result).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// Its detached signature.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest_signature: String,
}

/// MIG's upgrade statistics.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Statistics {
    /// How long the download took (Go's duration format).
    pub downloadtime: String,
    /// Its size in bytes.
    pub downloadsize: f64,
}

const FLAGS: &[Flag] = &[
    Flag::value("to_version", "<version>", "the version to upgrade to"),
    Flag::value("location", "<url>", "where to download the binary (https)"),
    Flag::value("checksum", "<sha256>", "the binary's SHA-256"),
    Flag::value(
        "platform",
        "<os/arch>",
        "the platform the binary is for (default linux/amd64)",
    ),
    Flag::bool(
        "allow_downgrade",
        "install it even if it is older than the running agent",
    ),
];

/// `linux/amd64`: Go's names for this build's OS and architecture, the parameters' keys.
pub fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

fn bool_or_word<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrWord {
        Bool(bool),
        Word(String),
    }
    match BoolOrWord::deserialize(d)? {
        BoolOrWord::Bool(b) => Ok(b),
        BoolOrWord::Word(w) => match w.as_str() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected true or false, got {other:?}"
            ))),
        },
    }
}

/// A version as a file name may carry it: `mig-agent-<version>` is where it is installed.
fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= agent_binary::VERSION_SECTION_LEN - "mig-agent \0".len()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~'))
        && !v.starts_with(['.', '-'])
}

fn check(p: &Params) -> Result<Plan, ModuleError> {
    if p.0.is_empty() {
        return Err(ModuleError::Malformed(
            "expected at least one \"os/arch\": {\"to_version\", \"location\", \"checksum\"}"
                .into(),
        ));
    }
    for (key, i) in &p.0 {
        let valid_key = key.split_once('/').is_some_and(|(os, arch)| {
            let word = |w: &str| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            };
            word(os) && word(arch)
        });
        if !valid_key {
            return Err(ModuleError::invalid(
                key,
                "expected an os/arch key such as linux/amd64",
            ));
        }
        if !valid_version(&i.to_version) {
            return Err(ModuleError::invalid(
                format!("{key}.to_version"),
                format!(
                    "{:?} is not a version (letters, digits and . - _ + ~, at most 53)",
                    i.to_version
                ),
            ));
        }
        match url::Url::parse(&i.location) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
            Ok(_) => {
                return Err(ModuleError::invalid(
                    format!("{key}.location"),
                    format!("{:?} is not an https:// URL", i.location),
                ))
            }
            Err(e) => {
                return Err(ModuleError::invalid(
                    format!("{key}.location"),
                    format!("{:?} is not a URL: {e}", i.location),
                ))
            }
        }
        if i.checksum.len() != 64 || !i.checksum.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ModuleError::invalid(
                format!("{key}.checksum"),
                format!("{:?} is not a SHA-256 in hexadecimal", i.checksum),
            ));
        }
    }
    Ok(Plan {
        instructions: p.0.clone(),
    })
}

/// Decodes and checks an upgrade operation's parameters (what the agent does before it
/// starts the download).
pub fn plan(params: &serde_json::Value) -> Result<Plan, ModuleError> {
    crate::Erased::<Upgrade>::decode(params)
}

/// The upgrade module.
pub struct Upgrade;

impl Module for Upgrade {
    const NAME: &'static str = "upgrade";
    const ABOUT: &'static str = "upgrade the agent to another version (MIG's upgrade protocol)";
    // The download; the file it writes to was opened by the agent.
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        network: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        check(p)
    }

    fn run(plan: &Plan, _ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        let instruction = plan.for_this_platform()?;
        let mut output = output_file()?;
        let ca = match std::env::var_os(CA_ENV) {
            Some(path) if !path.is_empty() => std::fs::read(&path).map_err(|e| {
                ModuleError::Failed(format!(
                    "cannot read the CA file {}: {}",
                    std::path::Path::new(&path).display(),
                    gofmt::os_error(&e)
                ))
            })?,
            _ => Vec::new(),
        };
        let start = Instant::now();
        let (size, version) = download(instruction, &ca, &mut output)?;
        let (manifest, manifest_signature) = if std::env::var_os(MANIFEST_ENV).is_some() {
            fetch_manifest(&instruction.location, &ca)?
        } else {
            Default::default()
        };
        Ok(Report {
            foundanything: true,
            elements: Elements {
                newversion: version,
                manifest,
                manifest_signature,
                ..Default::default()
            },
            statistics: Statistics {
                downloadtime: gofmt::duration(start.elapsed()),
                downloadsize: size as f64,
            },
            errors: Vec::new(),
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        let platform = f.value("platform").unwrap_or("linux/amd64").to_string();
        let instruction = Instruction {
            to_version: f.value("to_version").unwrap_or("").to_string(),
            location: f.value("location").unwrap_or("").to_string(),
            checksum: f.value("checksum").unwrap_or("").to_string(),
            allow_downgrade: f.bool("allow_downgrade").unwrap_or(false),
        };
        Ok(Params(BTreeMap::from([(platform, instruction)])))
    }

    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let e = &report.elements;
        if report.foundanything && e.oldpid > 0.0 {
            return vec![format!(
                "agent {} upgraded from {} to {} ({}); downloaded {} bytes in {}",
                e.oldpid,
                e.oldversion,
                e.newversion,
                e.binary,
                report.statistics.downloadsize,
                report.statistics.downloadtime
            )];
        }
        if found_only {
            return Vec::new();
        }
        let mut lines = vec!["agent not upgraded".to_string()];
        lines.extend(report.errors.iter().cloned());
        lines
    }
}

/// The file the agent opened for the download.
fn output_file() -> Result<std::fs::File, ModuleError> {
    use std::os::fd::FromRawFd;
    let fd: i32 = std::env::var(OUTPUT_FD_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| {
            ModuleError::Failed(
                "the upgrade module runs only inside the agent (which gives it the file to download into)"
                    .into(),
            )
        })?;
    // SAFETY: the agent opened this descriptor for this process and nothing else uses it.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Downloads the binary into `output` and checks it: its SHA-256 is the one signed, and it is
/// a mig-agent of the version signed. Returns its size and version.
fn download(
    instruction: &Instruction,
    ca: &[u8],
    output: &mut std::fs::File,
) -> Result<(u64, String), ModuleError> {
    let location = &instruction.location;
    let user_agent = format!("mig-agent-upgrade/{}", instruction.to_version);
    let response =
        crate::os::http::get_trusting(location, &user_agent, NETWORK_TIMEOUT, MAX_BINARY_BYTES, ca)
            .map_err(|e| ModuleError::Failed(format!("download failed: {e}")))?;
    if response.status != 200 {
        return Err(ModuleError::Failed(format!(
            "download failed: {location} answered HTTP {}",
            response.status
        )));
    }
    let body = response.body;
    let checksum = crate::os::hash::hex(&sha256(&body));
    if !checksum.eq_ignore_ascii_case(&instruction.checksum) {
        return Err(ModuleError::Failed(format!(
            "checksum mismatch: {location} has SHA-256 {checksum}, the action expects {}",
            instruction.checksum.to_lowercase()
        )));
    }
    output
        .write_all(&body)
        .and_then(|_| output.sync_all())
        .map_err(|e| {
            ModuleError::Failed(format!(
                "cannot write the download: {}",
                gofmt::os_error(&e)
            ))
        })?;
    let version = agent_binary::version_of(output)
        .map_err(|e| ModuleError::Failed(format!("{location} is not a mig-agent binary: {e}")))?;
    if version != instruction.to_version {
        return Err(ModuleError::Failed(format!(
            "version mismatch: {location} is mig-agent {version}, the action expects {}",
            instruction.to_version
        )));
    }
    Ok((body.len() as u64, version))
}

/// `MANIFEST.json` and its signature from the folder of `location`.
fn fetch_manifest(location: &str, ca: &[u8]) -> Result<(String, String), ModuleError> {
    let base = location
        .rsplit_once('/')
        .map(|(dir, _)| dir)
        .unwrap_or(location);
    let fetch = |name: &str| -> Result<String, ModuleError> {
        let url = format!("{base}/{name}");
        let response = crate::os::http::get_trusting(
            &url,
            "mig-agent-upgrade",
            NETWORK_TIMEOUT,
            MAX_MANIFEST_BYTES,
            ca,
        )
        .map_err(|e| ModuleError::Failed(format!("the release manifest: {e}")))?;
        if response.status != 200 {
            return Err(ModuleError::Failed(format!(
                "the release manifest: {url} answered HTTP {}",
                response.status
            )));
        }
        String::from_utf8(response.body)
            .map_err(|_| ModuleError::Failed(format!("the release manifest: {url} is not text")))
    };
    Ok((fetch("MANIFEST.json")?, fetch("MANIFEST.json.asc")?))
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> Result<Plan, ModuleError> {
        check(&serde_json::from_value(v).map_err(|e| ModuleError::Malformed(e.to_string()))?)
    }

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn migs_parameters_are_checked_per_platform() {
        let plan = params(json!({"linux/amd64": {"to_version": "1.2.0",
            "location": "https://example.com/mig-agent", "checksum": SUM}}))
        .unwrap();
        if platform() == "linux/amd64" {
            assert_eq!(plan.for_this_platform().unwrap().to_version, "1.2.0");
        }
        let refused = |v, want: &str| {
            let e = params(v).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        };
        refused(json!({}), "at least one");
        refused(
            json!({"linux": {"to_version": "1", "location": "https://e/x", "checksum": SUM}}),
            "os/arch",
        );
        refused(
            json!({"linux/amd64": {"to_version": "../../x", "location": "https://e/x", "checksum": SUM}}),
            "to_version",
        );
        refused(
            json!({"linux/amd64": {"to_version": "1", "location": "http://e/x", "checksum": SUM}}),
            "https://",
        );
        refused(
            json!({"linux/amd64": {"to_version": "1", "location": "https://e/x", "checksum": "abc"}}),
            "SHA-256",
        );
    }

    #[test]
    fn allow_downgrade_takes_migs_string_or_a_bool() {
        for (v, want) in [
            (json!(true), true),
            (json!("true"), true),
            (json!("false"), false),
        ] {
            let p: Params = serde_json::from_value(json!({"linux/amd64": {"to_version": "1",
                "location": "https://e/x", "checksum": SUM, "allow_downgrade": v}}))
            .unwrap();
            assert_eq!(p.0["linux/amd64"].allow_downgrade, want);
        }
        assert!(
            serde_json::from_value::<Params>(json!({"linux/amd64": {"to_version": "1",
            "location": "https://e/x", "checksum": SUM, "allow_downgrade": "yes"}}))
            .is_err()
        );
    }

    #[test]
    fn outside_the_agent_the_module_refuses() {
        std::env::remove_var(OUTPUT_FD_ENV);
        let e = output_file().unwrap_err().to_string();
        assert!(e.contains("only inside the agent"), "{e}");
    }
}
