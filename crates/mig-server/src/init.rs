//! `mig-server init`: a data directory with certificates and a configuration file.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Creates `<data_dir>/pki/*` and `<data_dir>/server.toml` unless they exist; returns the
/// configuration file's path.
pub fn init(
    data_dir: &Path,
    server_names: &[String],
    api_listen: &str,
    relay_listen: &str,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    let pki_dir = data_dir.join("pki");
    if !pki_dir.join("ca.pem").exists() {
        let pki = mig_relay::pki::generate(server_names)
            .map_err(|e| anyhow::anyhow!("certificates: {e}"))?;
        mig_relay::pki::write(&pki, &pki_dir)
            .with_context(|| format!("cannot write {}", pki_dir.display()))?;
    }
    let config = data_dir.join("server.toml");
    if !config.exists() {
        let text = format!(
            "# mig-server configuration; every key and its default: docs/server.md\n\
             data_dir = {dir:?}\n\n[database]\n# url = \"postgres://mig@db/mig\"\n\n\
             [api]\nlisten = {api_listen:?}\n\n[relay]\nlisten = {relay_listen:?}\n",
            dir = data_dir.display().to_string()
        );
        std::fs::write(&config, text)
            .with_context(|| format!("cannot write {}", config.display()))?;
    }
    Ok(config)
}
