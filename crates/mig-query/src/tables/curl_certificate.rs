//! curl_certificate: the certificate a TLS server presents, with its fields written as osquery
//! writes them (OpenSSL's text forms: `Digital Signature, Key Encipherment`,
//! `DNS:a, IP Address:1.2.3.4`, `Jan  6 17:49:03 2027 GMT`). It reaches other machines, like
//! curl: it runs only where the ACL names it.

use super::super::row::table_row;
use super::super::schema::*;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::time::Duration;
use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::der_parser::der::parse_der_sequence;
use x509_parser::extensions::{AccessDescription, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// osquery's handshake timeout when the query gives none, in seconds.
const DEFAULT_TIMEOUT: i64 = 4;

table_row! {
    /// The certificate one host presents.
    struct CertificateRow {
        hostname: text = "Hostname to CURL (domain[:port], e.g. osquery.io)",
        common_name: Option<text> = "Common name of company issued to",
        organization: Option<text> = "Organization issued to",
        organization_unit: Option<text> = "Organization unit issued to",
        serial_number: text = "Certificate serial number",
        issuer_common_name: Option<text> = "Issuer common name",
        issuer_organization: Option<text> = "Issuer organization",
        issuer_organization_unit: Option<text> = "Issuer organization unit",
        valid_from: text = "Period of validity start date",
        valid_to: text = "Period of validity end date",
        sha256_fingerprint: text = "SHA-256 fingerprint",
        sha1_fingerprint: text = "SHA1 fingerprint",
        version: integer = "Version Number",
        signature_algorithm: text = "Signature Algorithm",
        signature: text = "Signature",
        subject_key_identifier: text = "Subject Key Identifier",
        authority_key_identifier: text = "Authority Key Identifier",
        key_usage: text = "Usage of key in certificate",
        extended_key_usage: text = "Extended usage of key in certificate",
        policies: text = "Certificate Policies",
        subject_alternative_names: text = "Subject Alternative Name",
        issuer_alternative_names: text = "Issuer Alternative Name",
        info_access: text = "Authority Information Access",
        subject_info_access: text = "Subject Information Access",
        policy_mappings: text = "Policy Mappings",
        has_expired: integer = "1 if the certificate has expired, 0 otherwise",
        basic_constraint: text = "Basic Constraints",
        name_constraints: text = "Name Constraints",
        policy_constraints: text = "Policy Constraints",
        #[hidden]
        dump_certificate: integer = "Set this value to '1' to dump certificate",
        timeout: integer = "Set this value to the timeout in seconds to complete the TLS handshake (default 4s, use 0 for no timeout)",
        pem: Option<text> = "Certificate PEM format",
    }
}

pub(crate) static CURL_CERTIFICATE: Table = Table {
    name: "curl_certificate",
    about: "Inspect TLS certificates by connecting to input hostnames: the certificate each `hostname` (`=` or `IN`; `domain[:port]`, port 443 by default) presents, trusted or not; `pem` when `dump_certificate = 1`; `timeout` (seconds, default 4) bounds the handshake. A host that cannot be reached has no row.",
    columns: CertificateRow::COLUMNS,
    index: &["hostname", "dump_certificate", "timeout"],
    required: &["hostname"],
    like: &[],
    generate: gen_curl_certificate,
    reach: Reach::Network,
    example: "SELECT hostname, common_name, issuer_common_name, valid_to, has_expired FROM curl_certificate WHERE hostname = '127.0.0.1:1'",
};

fn gen_curl_certificate(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let hosts = q
        .texts("hostname")
        .ok_or_else(|| q.table.missing_required())?;
    let dump = q
        .ints("dump_certificate")
        .and_then(|d| d.first().copied())
        .unwrap_or(0);
    let timeout = q
        .ints("timeout")
        .and_then(|t| t.first().copied())
        .unwrap_or(DEFAULT_TIMEOUT);
    // 0 is "no timeout" in osquery: the query's own time limit bounds it here.
    let wait = match timeout {
        t if t > 0 => Duration::from_secs(t as u64),
        _ => q.budget.remaining().unwrap_or(Duration::from_secs(60)),
    };
    let mut rows = Vec::new();
    for hostname in hosts {
        q.check()?;
        let (host, port) = split_host_port(&hostname);
        let Ok(der) = mig_host::http::peer_certificate(host, port, wait) else {
            continue;
        };
        let Ok((_, cert)) = X509Certificate::from_der(&der) else {
            continue;
        };
        rows.push(certificate_row(
            hostname.clone(),
            &der,
            &cert,
            dump,
            timeout,
        ));
    }
    Ok(VecRows::boxed(rows))
}

/// `example.com:8443` → (`example.com`, 8443); `[::1]:443` and `::1` for IPv6; 443 by default.
fn split_host_port(hostname: &str) -> (&str, u16) {
    if let Some(rest) = hostname.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host, port.unwrap_or(443));
        }
    }
    match hostname.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().unwrap_or(443)),
        _ => (hostname, 443),
    }
}

fn certificate_row(
    hostname: String,
    der: &[u8],
    cert: &X509Certificate<'_>,
    dump: i64,
    timeout: i64,
) -> CertificateRow {
    let cn = |n: &X509Name<'_>| {
        n.iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok().map(str::to_string))
    };
    let o = |n: &X509Name<'_>| {
        n.iter_organization()
            .next()
            .and_then(|a| a.as_str().ok().map(str::to_string))
    };
    let ou = |n: &X509Name<'_>| {
        n.iter_organizational_unit()
            .next()
            .and_then(|a| a.as_str().ok().map(str::to_string))
    };
    let extension = |wanted: &str| {
        cert.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == wanted)
            .map(|e| extension_text(e.parsed_extension(), e.value))
            .unwrap_or_default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    CertificateRow {
        hostname,
        common_name: cn(cert.subject()),
        organization: o(cert.subject()),
        organization_unit: ou(cert.subject()),
        serial_number: serial_hex(cert.raw_serial()),
        issuer_common_name: cn(cert.issuer()),
        issuer_organization: o(cert.issuer()),
        issuer_organization_unit: ou(cert.issuer()),
        valid_from: openssl_time(cert.validity().not_before.timestamp()),
        valid_to: openssl_time(cert.validity().not_after.timestamp()),
        sha256_fingerprint: hex(&Sha256::digest(der), ""),
        sha1_fingerprint: hex(&Sha1::digest(der), ""),
        version: i64::from(cert.version().0) + 1,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        signature: hex(&cert.signature_value.data, ":"),
        subject_key_identifier: extension("2.5.29.14"),
        authority_key_identifier: extension("2.5.29.35"),
        key_usage: extension("2.5.29.15"),
        extended_key_usage: extension("2.5.29.37"),
        policies: extension("2.5.29.32"),
        subject_alternative_names: extension("2.5.29.17"),
        issuer_alternative_names: extension("2.5.29.18"),
        info_access: extension("1.3.6.1.5.5.7.1.1"),
        subject_info_access: extension("1.3.6.1.5.5.7.1.11"),
        policy_mappings: extension("2.5.29.33"),
        has_expired: i64::from(cert.validity().not_after.timestamp() <= now),
        basic_constraint: extension("2.5.29.19"),
        name_constraints: extension("2.5.29.30"),
        policy_constraints: extension("2.5.29.36"),
        dump_certificate: dump,
        timeout,
        pem: (dump == 1).then(|| pem(der)),
    }
}

fn hex(bytes: &[u8], separator: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(separator)
}

/// OpenSSL's key identifiers: upper-case hex, colon-separated.
fn key_id(bytes: &[u8]) -> String {
    hex(bytes, ":").to_ascii_uppercase()
}

/// The serial as OpenSSL's BN_bn2hex writes it: upper-case, no leading zeros.
fn serial_hex(raw: &[u8]) -> String {
    let text = hex(raw, "").to_ascii_uppercase();
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else if trimmed.len() % 2 == 1 {
        // BN_bn2hex writes whole bytes.
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// ASN1_TIME_print's form: `Jan  6 17:49:03 2027 GMT`.
fn openssl_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%b %e %H:%M:%S %Y GMT").to_string())
        .unwrap_or_default()
}

/// OpenSSL's short names of signature algorithms (OBJ_nid2sn).
fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "RSA-MD5",
        "1.2.840.113549.1.1.5" => "RSA-SHA1",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "RSA-SHA256",
        "1.2.840.113549.1.1.12" => "RSA-SHA384",
        "1.2.840.113549.1.1.13" => "RSA-SHA512",
        "1.2.840.113549.1.1.14" => "RSA-SHA224",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        other => return other.to_string(),
    }
    .to_string()
}

/// OpenSSL's long names of key purposes.
fn purpose_name(oid: &str) -> String {
    match oid {
        "1.3.6.1.5.5.7.3.1" => "TLS Web Server Authentication",
        "1.3.6.1.5.5.7.3.2" => "TLS Web Client Authentication",
        "1.3.6.1.5.5.7.3.3" => "Code Signing",
        "1.3.6.1.5.5.7.3.4" => "E-mail Protection",
        "1.3.6.1.5.5.7.3.8" => "Time Stamping",
        "1.3.6.1.5.5.7.3.9" => "OCSP Signing",
        "2.5.29.37.0" => "Any Extended Key Usage",
        other => return other.to_string(),
    }
    .to_string()
}

fn general_name(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::RFC822Name(e) => format!("email:{e}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        GeneralName::IPAddress(ip) => match ip.len() {
            4 => format!(
                "IP Address:{}",
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default())
            ),
            16 => {
                // OpenSSL writes every group, upper-case, without shortening.
                let groups: Vec<String> = ip
                    .chunks(2)
                    .map(|g| format!("{:X}", u16::from_be_bytes([g[0], g[1]])))
                    .collect();
                format!("IP Address:{}", groups.join(":"))
            }
            _ => "IP Address:<invalid>".into(),
        },
        GeneralName::DirectoryName(name) => format!("DirName:{}", openssl_dn(name)),
        GeneralName::RegisteredID(oid) => format!("Registered ID:{}", oid.to_id_string()),
        GeneralName::OtherName(..) => "othername:<unsupported>".into(),
        GeneralName::X400Address(_) => "X400Name:<unsupported>".into(),
        GeneralName::EDIPartyName(_) => "EdiPartyName:<unsupported>".into(),
        GeneralName::Invalid(..) => "<invalid>".into(),
    }
}

/// General names as OpenSSL lists them: `DNS:a, IP Address:1.2.3.4`.
fn name_list(names: &[GeneralName<'_>]) -> String {
    names
        .iter()
        .map(general_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name as OpenSSL's one-line form writes it in extensions (`/C=US/O=Example/CN=x`).
fn openssl_dn(name: &X509Name<'_>) -> String {
    name.iter_attributes()
        .map(|a| {
            let key = match a.attr_type().to_id_string().as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                other => other.to_string(),
            };
            format!("/{key}={}", a.as_str().unwrap_or_default())
        })
        .collect()
}

/// Access descriptions (authority and subject information access), one line each:
/// `OCSP - URI:http://…`.
fn access_lines(descriptions: &[AccessDescription<'_>]) -> Vec<String> {
    descriptions
        .iter()
        .map(|d| {
            format!(
                "{} - {}",
                access_method(&d.access_method.to_id_string()),
                general_name(&d.access_location)
            )
        })
        .collect()
}

/// An access description's method, as OpenSSL names it.
fn access_method(oid: &str) -> String {
    match oid {
        "1.3.6.1.5.5.7.48.1" => "OCSP",
        "1.3.6.1.5.5.7.48.2" => "CA Issuers",
        "1.3.6.1.5.5.7.48.3" => "Time Stamping",
        "1.3.6.1.5.5.7.48.5" => "CA Repository",
        other => return other.to_string(),
    }
    .to_string()
}

/// An extension as X509V3_EXT_print writes it, its lines joined with `;` as osquery joins them.
fn extension_text(parsed: &ParsedExtension<'_>, raw: &[u8]) -> String {
    let lines: Vec<String> = match parsed {
        ParsedExtension::SubjectKeyIdentifier(id) => vec![key_id(id.0)],
        ParsedExtension::AuthorityKeyIdentifier(aki) => {
            let mut lines = Vec::new();
            if let Some(id) = &aki.key_identifier {
                lines.push(key_id(id.0));
            }
            if let Some(issuer) = &aki.authority_cert_issuer {
                lines.extend(issuer.iter().map(general_name));
            }
            if let Some(serial) = aki.authority_cert_serial {
                lines.push(format!("serial:{}", key_id(serial)));
            }
            lines
        }
        ParsedExtension::KeyUsage(ku) => {
            const NAMES: [&str; 9] = [
                "Digital Signature",
                "Non Repudiation",
                "Key Encipherment",
                "Data Encipherment",
                "Key Agreement",
                "Certificate Sign",
                "CRL Sign",
                "Encipher Only",
                "Decipher Only",
            ];
            let set: Vec<&str> = NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| ku.flags & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            vec![set.join(", ")]
        }
        // In the certificate's order, which the parsed form does not keep.
        ParsedExtension::ExtendedKeyUsage(_) => vec![oids_in_sequence(raw)
            .iter()
            .map(|o| purpose_name(o))
            .collect::<Vec<_>>()
            .join(", ")],
        ParsedExtension::SubjectAlternativeName(san) => vec![name_list(&san.general_names)],
        ParsedExtension::IssuerAlternativeName(ian) => vec![name_list(&ian.general_names)],
        ParsedExtension::BasicConstraints(bc) => {
            let mut line = format!("CA:{}", if bc.ca { "TRUE" } else { "FALSE" });
            if let Some(len) = bc.path_len_constraint {
                line.push_str(&format!(", pathlen:{len}"));
            }
            vec![line]
        }
        ParsedExtension::CertificatePolicies(policies) => policies
            .iter()
            .map(|p| format!("Policy: {}", p.policy_id.to_id_string()))
            .collect(),
        ParsedExtension::AuthorityInfoAccess(aia) => access_lines(&aia.accessdescs),
        ParsedExtension::SubjectInfoAccess(sia) => access_lines(&sia.accessdescs),
        // Rare in server certificates: their DER, as OpenSSL prints what it cannot decode.
        _ => vec![hex(raw, ":").to_ascii_uppercase()],
    };
    lines.join(";")
}

/// The OIDs of a DER SEQUENCE OF OBJECT IDENTIFIER, in order.
fn oids_in_sequence(raw: &[u8]) -> Vec<String> {
    let Ok((_, seq)) = parse_der_sequence(raw) else {
        return Vec::new();
    };
    let BerObjectContent::Sequence(items) = seq.content else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|o| o.as_oid().ok().map(|oid| oid.to_id_string()))
        .collect()
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_serials_and_times_as_openssl_writes_them() {
        assert_eq!(split_host_port("example.com"), ("example.com", 443));
        assert_eq!(split_host_port("example.com:8443"), ("example.com", 8443));
        assert_eq!(split_host_port("[::1]:9443"), ("::1", 9443));
        assert_eq!(split_host_port("::1"), ("::1", 443));
        assert_eq!(serial_hex(&[0x00, 0x0a, 0xbc]), "0ABC");
        assert_eq!(serial_hex(&[0x49, 0xa0]), "49A0");
        assert_eq!(serial_hex(&[0]), "0");
        assert_eq!(openssl_time(1_799_257_743), "Jan  6 17:49:03 2027 GMT");
    }
}
