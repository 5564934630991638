//! Just enough DER and SSH wire format to find the public half of a private key: PKCS#1 RSA,
//! DSA, SEC1 EC and PKCS#8 keys, and OpenSSH's own format. Every read is bounds-checked:
//! malformed input gives `None`, never a panic.

pub(crate) use mig_host::der::ssh_string;
use mig_host::der::{sequence, tlv};

fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn integers<'a>(items: &[(u8, &'a [u8])], n: usize) -> Option<Vec<&'a [u8]>> {
    let ints: Vec<&[u8]> = items
        .iter()
        .filter(|(t, _)| *t == 0x02)
        .map(|(_, v)| *v)
        .collect();
    (ints.len() >= n).then_some(ints)
}

/// PKCS#1 RSAPrivateKey → `ssh-rsa` blob (e, n). DER integers are SSH mpints already.
pub(crate) fn rsa_public_blob(der: &[u8]) -> Option<Vec<u8>> {
    let ints = integers(&sequence(der)?, 3)?;
    let mut out = Vec::new();
    push_string(&mut out, b"ssh-rsa");
    push_string(&mut out, ints[2]);
    push_string(&mut out, ints[1]);
    Some(out)
}

/// DSAPrivateKey (version, p, q, g, y, x) → `ssh-dss` blob.
pub(crate) fn dsa_public_blob(der: &[u8]) -> Option<Vec<u8>> {
    let ints = integers(&sequence(der)?, 5)?;
    let mut out = Vec::new();
    push_string(&mut out, b"ssh-dss");
    for i in &ints[1..5] {
        push_string(&mut out, i);
    }
    Some(out)
}

const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn curve(oid: &[u8]) -> Option<&'static str> {
    match oid {
        OID_P256 => Some("nistp256"),
        OID_P384 => Some("nistp384"),
        OID_P521 => Some("nistp521"),
        _ => None,
    }
}

fn ec_blob(curve_name: &str, point: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_string(&mut out, format!("ecdsa-sha2-{curve_name}").as_bytes());
    push_string(&mut out, curve_name.as_bytes());
    push_string(&mut out, point);
    out
}

/// SEC1 ECPrivateKey { 1, privateKey, [0] curve, [1] publicKey } → `ecdsa-sha2-*` blob.
fn ec_public_blob_with(der: &[u8], curve_hint: Option<&'static str>) -> Option<Vec<u8>> {
    let items = sequence(der)?;
    let mut curve_name = curve_hint;
    let mut point = None;
    for (tag, body) in items {
        match tag {
            0xa0 => {
                let (t, oid, _) = tlv(body, 0)?;
                if t == 0x06 {
                    curve_name = curve(oid).or(curve_name);
                }
            }
            0xa1 => {
                let (t, bits, _) = tlv(body, 0)?;
                // A BIT STRING starts with its count of unused bits (0).
                if t == 0x03 && bits.first() == Some(&0) {
                    point = Some(&bits[1..]);
                }
            }
            _ => {}
        }
    }
    Some(ec_blob(curve_name?, point?))
}

pub(crate) fn ec_public_blob(der: &[u8]) -> Option<Vec<u8>> {
    ec_public_blob_with(der, None)
}

/// PKCS#8 PrivateKeyInfo wrapping an RSA, EC or Ed25519 key.
pub(crate) fn pkcs8_public_blob(der: &[u8]) -> Option<Vec<u8>> {
    let items = sequence(der)?;
    let (_, alg) = items.iter().find(|(t, _)| *t == 0x30)?;
    let (_, key) = items.iter().find(|(t, _)| *t == 0x04)?;
    let mut off = 0;
    let (_, oid, next) = tlv(alg, off)?;
    off = next;
    match oid {
        OID_RSA => rsa_public_blob(key),
        OID_EC => {
            let (_, params, _) = tlv(alg, off)?;
            ec_public_blob_with(key, curve(params))
        }
        OID_ED25519 => ed25519_public_blob(key),
        _ => None,
    }
}

/// RFC 8410's CurvePrivateKey (an OCTET STRING holding the 32-byte seed) → `ssh-ed25519`
/// blob: the public key is derived from the seed (PKCS#8 v1 files do not carry it).
fn ed25519_public_blob(key: &[u8]) -> Option<Vec<u8>> {
    let (tag, seed, _) = tlv(key, 0)?;
    let seed: [u8; 32] = seed.try_into().ok().filter(|_| tag == 0x04)?;
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let mut out = Vec::new();
    push_string(&mut out, b"ssh-ed25519");
    push_string(&mut out, public.as_bytes());
    Some(out)
}

/// OpenSSH's `openssh-key-v1` format: (encrypted, first public key blob). The public key is
/// stored in clear even when the private part is encrypted.
pub(crate) fn openssh_private(body: &[u8]) -> Option<(bool, Vec<u8>)> {
    let rest = body.strip_prefix(b"openssh-key-v1\0")?;
    let (cipher, off) = ssh_string(rest, 0)?;
    let (_kdf, off) = ssh_string(rest, off)?;
    let (_kdfopts, off) = ssh_string(rest, off)?;
    let n = u32::from_be_bytes(rest.get(off..off + 4)?.try_into().ok()?);
    if n == 0 {
        return None;
    }
    let (public, _) = ssh_string(rest, off + 4)?;
    Some((cipher != b"none", public.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x02\x05\x00",
            &[0xffu8; 100],
        ] {
            assert!(rsa_public_blob(bad).is_none());
            assert!(dsa_public_blob(bad).is_none());
            assert!(ec_public_blob(bad).is_none());
            assert!(pkcs8_public_blob(bad).is_none());
            assert!(openssh_private(bad).is_none());
        }
    }
}
