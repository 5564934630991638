//! sshkey: "where are SSH keys?" Private keys (OpenSSH and PEM, encrypted or not), public
//! keys and authorized_keys lines, with MD5 and SHA256 fingerprints as `ssh-keygen -l` prints
//! them. Key material is never returned.
//!
//! A file is a key when it parses as one: a private key file is one PEM block from its first
//! line that decodes to a key (a source file that merely contains a PEM header is not), and
//! package caches full of test fixtures (`~/.cargo/registry`, `~/.pyenv`, `node_modules`…)
//! are skipped unless the parameters say otherwise.

mod der;

use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleError, Report};
use base64::Engine;
use mig_host::der::pem_block;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::path::Path;
use std::time::Instant;

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
/// sshkey's parameters.
pub(crate) struct Params {
    /// Absolute paths to walk (default `/root` and `/home`).
    #[serde(default = "default_paths", deserialize_with = "paths_or_default")]
    pub paths: Vec<String>,
    /// How deep to walk below each path (0 to 1000, default 8).
    #[serde(
        default = "default_depth",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    pub maxdepth: f64,
    /// Directories not walked, as trailing path components (`.cargo/registry` skips every
    /// `…/.cargo/registry`). Absent: [`DEFAULT_SKIP`]; empty: skip nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<Vec<String>>,
}

/// Package caches and tool chains: full of test keys that belong to no one.
pub(crate) const DEFAULT_SKIP: &[&str] = &[
    ".cargo/registry",
    ".cargo/git",
    ".rustup",
    ".pyenv",
    ".npm",
    "node_modules",
    ".cache",
    ".m2",
    ".gradle",
    "go/pkg/mod",
    ".local/lib",
    "site-packages",
    ".venv",
];

impl Params {
    fn skipped(&self) -> Vec<String> {
        match &self.skip {
            Some(list) => list.clone(),
            None => DEFAULT_SKIP.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Does `dir` end with one of the `skip` patterns, component by component?
fn is_skipped(dir: &Path, skip: &[String]) -> bool {
    skip.iter().any(|pattern| {
        let want: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
        let have: Vec<_> = dir.components().collect();
        !want.is_empty()
            && have.len() >= want.len()
            && have[have.len() - want.len()..]
                .iter()
                .zip(&want)
                .all(|(c, w)| c.as_os_str() == std::ffi::OsStr::new(w))
    })
}

fn default_paths() -> Vec<String> {
    vec!["/root".into(), "/home".into()]
}

fn default_depth() -> f64 {
    8.0
}

fn paths_or_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v: Option<Vec<String>> = Option::deserialize(d)?;
    Ok(v.filter(|v| !v.is_empty()).unwrap_or_else(default_paths))
}

/// What sshkey reports, its `elements`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Elements {
    /// The keys found.
    pub keys: Vec<KeyInfo>,
}

/// sshkey's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How many files were looked at.
    pub filescount: u64,
    /// How long the run took.
    pub exectime: String,
}

/// One key found.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub(crate) struct KeyInfo {
    /// Where the key is.
    pub path: String,
    /// `private`, `public` or `authorizedkeys`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-nistp256`… (empty when it cannot be told).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keytype: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Whether a private key is encrypted (passphrase-protected).
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// MD5 fingerprint as `ssh-keygen -E md5 -l` prints it.
    pub fingerprint_md5: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// SHA256 fingerprint as `ssh-keygen -l` prints it.
    pub fingerprint_sha256: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The key's comment.
    pub comment: String,
    /// For authorized_keys: the line number.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

const FLAGS: &[Flag] = &[
    Flag::multi("path", "<dir>", "where to look (default /root and /home)"),
    Flag::value(
        "maxdepth",
        "<n>",
        "directory levels below each path (default 8)",
    ),
    Flag::multi(
        "skip",
        "<dir>",
        "directories not walked, as trailing path components (default: package caches such as .cargo/registry, .pyenv, node_modules)",
    ),
    Flag::bool("noskip", "walk package caches too"),
];

/// Key files are small; anything bigger is not one.
const MAX_KEY_FILE: u64 = 1 << 20;

/// The sshkey module.
pub(crate) struct Sshkey;

impl Module for Sshkey {
    const NAME: &'static str = "sshkey";
    const ABOUT: &'static str =
        "SSH private keys, public keys and authorized_keys, with fingerprints";
    type Params = Params;
    // The parameters are the plan: nothing to compile.
    type Plan = Params;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Params, ModuleError> {
        for path in &p.paths {
            if !path.starts_with('/') {
                return Err(ModuleError::invalid(
                    "paths",
                    format!("{path:?} is not an absolute path"),
                ));
            }
        }
        if !(p.maxdepth >= 0.0 && p.maxdepth <= 1000.0 && p.maxdepth.fract() == 0.0) {
            return Err(ModuleError::invalid(
                "maxdepth",
                format!("expected an integer from 0 to 1000, got {}", p.maxdepth),
            ));
        }
        Ok(p.clone())
    }

    fn run(p: &Params, ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        let mut keys = Vec::new();
        let mut errors = Vec::new();
        let mut files = 0u64;
        let skip = p.skipped();
        for root in &p.paths {
            if !Path::new(root).exists() {
                continue;
            }
            let skip = skip.clone();
            let walk = ignore::WalkBuilder::new(root)
                .standard_filters(false)
                .hidden(false)
                .follow_links(false)
                .max_depth(Some(p.maxdepth as usize + 1))
                .filter_entry(move |e| {
                    !(e.file_type().is_some_and(|t| t.is_dir()) && is_skipped(e.path(), &skip))
                })
                .build();
            for entry in walk {
                if ctx.check().is_err() {
                    errors.push("sshkey stopped early: the module ran out of time".into());
                    break;
                }
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        errors.push(e.to_string());
                        continue;
                    }
                };
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                files += 1;
                let path = entry.path();
                if entry.metadata().map(|m| m.len()).unwrap_or(0) > MAX_KEY_FILE {
                    continue;
                }
                match inspect(path) {
                    Ok(found) => keys.extend(found),
                    Err(e) => errors.push(format!("{}: {e}", path.display())),
                }
                if keys.len() >= ctx.limits.max_elements {
                    errors.push(format!(
                        "results truncated at {} keys",
                        ctx.limits.max_elements
                    ));
                    break;
                }
            }
        }
        Ok(Report {
            foundanything: !keys.is_empty(),
            elements: Elements { keys },
            statistics: Statistics {
                filescount: files,
                exectime: gofmt::duration(start.elapsed()),
            },
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        let paths = f.all("path");
        let skip = f.all("skip");
        Ok(Params {
            paths: if paths.is_empty() {
                default_paths()
            } else {
                paths
            },
            maxdepth: f.int("maxdepth")?.unwrap_or(8) as f64,
            skip: if f.bool("noskip").unwrap_or(false) {
                Some(Vec::new())
            } else if skip.is_empty() {
                None
            } else {
                Some(skip)
            },
        })
    }

    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let mut lines: Vec<String> = report
            .elements
            .keys
            .iter()
            .map(|k| {
                let mut l = format!("{} {} {}", k.kind, k.keytype, k.path);
                if k.line > 0 {
                    l.push_str(&format!(":{}", k.line));
                }
                if k.encrypted {
                    l.push_str(" (encrypted)");
                }
                if !k.fingerprint_sha256.is_empty() {
                    l.push_str(&format!(" {} {}", k.fingerprint_sha256, k.fingerprint_md5));
                }
                if !k.comment.is_empty() {
                    l.push_str(&format!(" {}", k.comment));
                }
                l
            })
            .collect();
        if lines.is_empty() && !found_only {
            lines.push("no SSH key found".into());
        }
        if !found_only {
            lines.extend(report.errors.iter().cloned());
        }
        lines
    }

    fn mask(report: &mut Report<Elements, Statistics>) {
        for k in &mut report.elements.keys {
            k.path = "[masked]".into();
            k.comment.clear();
        }
        crate::mask_errors(&mut report.errors);
    }
}

/// The fingerprints of a public key blob (SSH wire format).
fn fingerprints(blob: &[u8]) -> (String, String) {
    let md5 = md5::Md5::digest(blob);
    let md5 = md5
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let sha = base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(blob));
    (format!("MD5:{md5}"), format!("SHA256:{sha}"))
}

/// The key type named at the start of a blob.
fn blob_type(blob: &[u8]) -> String {
    der::ssh_string(blob, 0)
        .map(|(s, _)| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default()
}

const KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
];

/// Keys in one file.
fn inspect(path: &Path) -> Result<Vec<KeyInfo>, String> {
    let bytes = std::fs::read(path).map_err(|e| crate::gofmt::os_error(&e))?;
    let text = String::from_utf8_lossy(&bytes);
    let display = path.display().to_string();
    // A private key file starts with its PEM block (OpenSSH and OpenSSL write nothing
    // before it): a header further down is a file that talks about keys (source, docs).
    let head = text.trim_start();
    if head.starts_with("-----BEGIN ") {
        if let Some(block) = pem_block(head, "OPENSSH PRIVATE KEY") {
            return Ok(der::openssh_private(&block.body)
                .map(|(encrypted, blob)| private_key(&display, encrypted, Some(blob), path))
                .into_iter()
                .collect());
        }
        for (label, decode) in [
            (
                "RSA PRIVATE KEY",
                der::rsa_public_blob as fn(&[u8]) -> Option<Vec<u8>>,
            ),
            ("DSA PRIVATE KEY", der::dsa_public_blob),
            ("EC PRIVATE KEY", der::ec_public_blob),
            ("PRIVATE KEY", der::pkcs8_public_blob),
        ] {
            let Some(block) = pem_block(head, label) else {
                continue;
            };
            if block.encrypted {
                return Ok(vec![private_key(&display, true, None, path)]);
            }
            // Only what decodes to a key is one.
            return Ok(decode(&block.body)
                .map(|blob| private_key(&display, false, Some(blob), path))
                .into_iter()
                .collect());
        }
        if pem_block(head, "ENCRYPTED PRIVATE KEY").is_some() {
            return Ok(vec![private_key(&display, true, None, path)]);
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let authorized = name.starts_with("authorized_keys");
    if !(authorized || name.ends_with(".pub")) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((keytype, blob, comment)) = public_line(line) else {
            continue;
        };
        let (md5, sha) = fingerprints(&blob);
        out.push(KeyInfo {
            path: display.clone(),
            kind: if authorized {
                "authorizedkeys"
            } else {
                "public"
            }
            .into(),
            keytype,
            fingerprint_md5: md5,
            fingerprint_sha256: sha,
            comment,
            line: if authorized { n as u64 + 1 } else { 0 },
            ..Default::default()
        });
    }
    Ok(out)
}

fn private_key(path: &str, encrypted: bool, blob: Option<Vec<u8>>, file: &Path) -> KeyInfo {
    // An encrypted PEM key hides its public half: its .pub neighbour may have it.
    let blob = blob.or_else(|| {
        let text = std::fs::read_to_string(format!("{}.pub", file.display())).ok()?;
        text.lines().find_map(public_line).map(|(_, b, _)| b)
    });
    let (md5, sha, keytype) = match &blob {
        Some(b) => {
            let (m, s) = fingerprints(b);
            (m, s, blob_type(b))
        }
        None => Default::default(),
    };
    KeyInfo {
        path: path.to_string(),
        kind: "private".into(),
        keytype,
        encrypted,
        fingerprint_md5: md5,
        fingerprint_sha256: sha,
        ..Default::default()
    }
}

/// `[options] type base64 [comment]` → (type, blob, comment).
fn public_line(line: &str) -> Option<(String, Vec<u8>, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let words = mig_core::words::split(line, mig_core::words::Quotes::KeepDouble);
    let i = words.iter().position(|w| KEY_TYPES.contains(&w.as_str()))?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(words.get(i + 1)?)
        .ok()?;
    if blob_type(&blob) != words[i] {
        return None;
    }
    Some((words[i].clone(), blob, words[i + 2..].join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorized_keys_lines_with_options() {
        let blob_b64 = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let line = format!("from=\"10.0.0.1,10.0.0.2\",no-pty ssh-ed25519 {blob_b64} alice@laptop");
        let (t, blob, comment) = public_line(&line).unwrap();
        assert_eq!(t, "ssh-ed25519");
        assert_eq!(comment, "alice@laptop");
        let (md5, sha) = fingerprints(&blob);
        assert!(md5.starts_with("MD5:") && md5.len() == 4 + 47);
        assert!(sha.starts_with("SHA256:") && !sha.ends_with('='));
        assert!(public_line("# a comment").is_none());
        assert!(public_line("ssh-rsa notbase64!").is_none());
    }
}
