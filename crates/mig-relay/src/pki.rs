//! A small PKI for a MIG deployment (`mig-server init`): a CA, the server's certificate, and
//! the client certificate bundle agents present to the relay (shared by all agents, as in MIG:
//! a network filter, not an identity; each agent's identity is its own key).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::Path;

/// PEM files of one certificate and its key.
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

/// A deployment's certificates, as [`generate`] makes them.
pub struct Pki {
    /// The CA that signs the other two, which the server and the agents trust.
    pub ca: Pem,
    /// The server's certificate, for the names given to [`generate`].
    pub server: Pem,
    /// The client certificate every agent presents to the relay.
    pub agent: Pem,
}

fn err(e: rcgen::Error) -> String {
    e.to_string()
}

/// Creates a CA, a server certificate valid for `server_names` (DNS names or IP addresses),
/// and an agent client certificate.
pub fn generate(server_names: &[String]) -> Result<Pki, String> {
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "MIG CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_after = rcgen::date_time_ymd(2046, 1, 1);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let server_key = KeyPair::generate().map_err(err)?;
    let mut server_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "mig-server");
    for name in server_names {
        server_params
            .subject_alt_names
            .push(match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(name.clone().try_into().map_err(err)?),
            });
    }
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(err)?;

    let agent_key = KeyPair::generate().map_err(err)?;
    let mut agent_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    agent_params
        .distinguished_name
        .push(DnType::CommonName, "mig-agent");
    agent_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    agent_params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let agent_cert = agent_params.signed_by(&agent_key, &issuer).map_err(err)?;

    Ok(Pki {
        ca: Pem {
            cert: ca_cert.pem(),
            key: ca_key.serialize_pem(),
        },
        server: Pem {
            cert: server_cert.pem(),
            key: server_key.serialize_pem(),
        },
        agent: Pem {
            cert: agent_cert.pem(),
            key: agent_key.serialize_pem(),
        },
    })
}

/// Writes the PKI under `dir` (keys 0600): ca.pem, ca.key, server.pem, server.key,
/// agent.pem, agent.key.
pub fn write(pki: &Pki, dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir)?;
    let files = [
        ("ca.pem", &pki.ca.cert, 0o644),
        ("ca.key", &pki.ca.key, 0o600),
        ("server.pem", &pki.server.cert, 0o644),
        ("server.key", &pki.server.key, 0o600),
        ("agent.pem", &pki.agent.cert, 0o644),
        ("agent.key", &pki.agent.key, 0o600),
    ];
    for (name, content, mode) in files {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(dir.join(name))?;
        std::io::Write::write_all(&mut f, content.as_bytes())?;
    }
    Ok(())
}
