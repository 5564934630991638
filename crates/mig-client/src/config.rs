//! The client's configuration: `--config`, `$MIG_CONFIG`, then `~/.config/mig/client.toml`.

use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
/// The client's configuration (`client.toml`; docs/cli.md lists the keys).
pub struct Config {
    /// The API's base URL, e.g. `https://mig.example.com:8443`.
    pub api: String,
    /// The CA that signed the API's certificate (default: the system's roots).
    pub ca: Option<PathBuf>,
    /// An API key (`mig_<id>_<secret>`) instead of signed tokens, for automation.
    pub api_key: Option<String>,
    /// How actions are signed.
    pub signing: Signing,
    /// Target macros: `-t linux` means the macro's text.
    pub macros: BTreeMap<String, String>,
    /// Ask before launching on more agents than this (skip with -y).
    pub confirm_above: Option<i64>,
    /// How long `mig` keeps trying to reconnect a lost result stream while it follows an
    /// action (a Go duration; default 30s); the action runs on regardless.
    pub follow_reconnect: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
/// The investigator's signing key: a key file, or a GnuPG key.
pub struct Signing {
    /// An armored secret key file.
    pub key_file: Option<PathBuf>,
    /// The environment variable holding the key file's passphrase, if it has one.
    pub passphrase_env: Option<String>,
    /// Or a GnuPG key (id, fingerprint or user ID), signed through `gpg`.
    pub gpg_key: Option<String>,
    /// GnuPG's home directory (default: gpg's own, `~/.gnupg`).
    pub gpg_home: Option<PathBuf>,
}

/// Where the configuration comes from.
pub fn path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("MIG_CONFIG") {
        return PathBuf::from(p);
    }
    home().join(".config/mig/client.toml")
}

/// The user's home directory (`$HOME`, else `/`).
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

impl Config {
    /// `follow_reconnect`, or its default.
    pub fn follow_reconnect(&self) -> anyhow::Result<std::time::Duration> {
        match &self.follow_reconnect {
            None => Ok(std::time::Duration::from_secs(30)),
            Some(d) => mig_core::gotime::parse_duration_or_seconds(d)
                .map_err(|e| anyhow::anyhow!("follow_reconnect: {e}")),
        }
    }

    /// Reads the configuration at `path`; the error says where it was looked for and how to make one.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the client configuration {} (set MIG_CONFIG, use --config, or run `mig config import-migrc`)",
                path.display()
            )
        })?;
        let mut c: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // Relative paths are relative to the configuration file.
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(x) = p {
                if x.is_relative() {
                    *x = base.join(&x);
                }
            }
        };
        resolve(&mut c.ca);
        resolve(&mut c.signing.key_file);
        resolve(&mut c.signing.gpg_home);
        Ok(c)
    }

    /// Expands a target macro, or returns the target as written.
    pub fn target(&self, t: &str) -> String {
        self.macros.get(t).cloned().unwrap_or_else(|| t.to_string())
    }
}

/// `mig config import-migrc`: MIG's `~/.migrc` (gcfg/INI) to our TOML.
///
/// ```ini
/// [api]
///     url = "https://mig.example.net/api/v1/"
/// [gpg]
///     home = "/home/bob/.gnupg/"
///     keyid = "E60892BB9BD89A69F759A1A0A3D652F0FE4A5AF6"
/// [targets]
///     macro = all:status='online'
/// ```
pub fn import_migrc(text: &str) -> anyhow::Result<String> {
    let mut section = String::new();
    let mut api = String::new();
    let mut gpg_home = None;
    let mut keyid = None;
    let mut macros = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_lowercase();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .with_context(|| format!("line {}: expected key = value", n + 1))?;
        let key = key.trim().to_lowercase();
        let value = value.trim().trim_matches('"').to_string();
        match (section.as_str(), key.as_str()) {
            ("api", "url") => api = value,
            ("gpg", "home") => gpg_home = Some(value),
            ("gpg", "keyid") => keyid = Some(value),
            ("targets", "macro") => {
                let (name, target) = value
                    .split_once(':')
                    .with_context(|| format!("line {}: a macro is name:target", n + 1))?;
                macros.insert(name.trim().to_string(), target.trim().to_string());
            }
            _ => {}
        }
    }
    // MIG's URL ends in /api/v1/; ours is the server's base URL.
    let api = api
        .trim_end_matches('/')
        .trim_end_matches("/api/v1")
        .to_string();
    let mut out = String::from("# Imported from ~/.migrc by `mig config import-migrc`.\n");
    out.push_str(&format!("api = {api:?}\n\n[signing]\n"));
    if let Some(k) = keyid {
        out.push_str(&format!("gpg_key = {k:?}\n"));
    }
    if let Some(h) = gpg_home {
        out.push_str(&format!("gpg_home = {h:?}\n"));
    }
    out.push_str("\n[macros]\n");
    for (name, target) in macros {
        out.push_str(&format!("{name:?} = {target:?}\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrc_is_imported() {
        let migrc = "[api]\n    url = \"https://mig.example.net/api/v1/\"\n[gpg]\n    home = \"/home/bob/.gnupg/\"\n    keyid = \"E60892BB\"\n[targets]\n    macro = allonline:status='online'\n    macro = linux:os='linux' and status='online'\n";
        let toml_text = import_migrc(migrc).unwrap();
        let c: Config = toml::from_str(&toml_text).unwrap();
        assert_eq!(c.api, "https://mig.example.net");
        assert_eq!(c.signing.gpg_key.as_deref(), Some("E60892BB"));
        assert_eq!(c.macros["linux"], "os='linux' and status='online'");
        assert_eq!(c.target("allonline"), "status='online'");
        assert_eq!(c.target("os='x'"), "os='x'");
        assert!(import_migrc("[targets]\nmacro = nocolon\n").is_err());
    }
}
