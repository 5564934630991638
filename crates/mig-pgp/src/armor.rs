//! MIG's signature text: a detached signature "de-armored" into one line,
//! `<base64 of the signature packet>=<base64 of its CRC-24>`, as MIG's `pgp.deArmor` writes it.
//! Fully armored signatures (`-----BEGIN PGP SIGNATURE-----`) are accepted too.

use crate::error::{PgpError, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pgp::composed::{Deserializable, DetachedSignature};
use pgp::ser::Serialize;

/// Signatures are a few hundred bytes; anything larger is hostile or a mistake.
pub const MAX_SIGNATURE_TEXT: usize = 64 * 1024;

/// Writes a signature in MIG's one-line form.
pub fn encode_signature(sig: &DetachedSignature) -> Result<String> {
    let bytes = sig
        .to_bytes()
        .map_err(|e| PgpError::Signing(format!("cannot serialize the signature: {e}")))?;
    Ok(encode_packet_bytes(&bytes))
}

/// MIG's one-line form of raw signature packet bytes.
pub fn encode_packet_bytes(bytes: &[u8]) -> String {
    let crc = crc24(bytes);
    let crc_bytes = [(crc >> 16) as u8, (crc >> 8) as u8, crc as u8];
    format!("{}={}", STANDARD.encode(bytes), STANDARD.encode(crc_bytes))
}

/// Converts an armored signature (as `gpg --armor --detach-sign` prints it) into MIG's form.
pub fn dearmor(armored: &str) -> Result<String> {
    let sig = decode_signature(armored)?;
    encode_signature(&sig)
}

/// Reads a signature in MIG's one-line form, as plain base64, or armored.
pub fn decode_signature(text: &str) -> Result<DetachedSignature> {
    if text.len() > MAX_SIGNATURE_TEXT {
        return Err(PgpError::BadSignatureEncoding(format!(
            "{} bytes, more than the {MAX_SIGNATURE_TEXT} a signature may have",
            text.len()
        )));
    }
    let bytes = if text.contains("-----BEGIN PGP SIGNATURE-----") {
        let (sig, _) = DetachedSignature::from_armor_single(text.as_bytes())
            .map_err(|e| PgpError::BadSignatureEncoding(format!("armored signature: {e}")))?;
        return Ok(sig);
    } else {
        decode_one_line(text)?
    };
    let sig = DetachedSignature::from_bytes(bytes.as_slice())
        .map_err(|e| PgpError::BadSignatureEncoding(e.to_string()))?;
    Ok(sig)
}

/// Who issued a signature, as far as the signature says: its issuer fingerprints and key IDs,
/// upper-case hex (the signing key's: a subkey's when a subkey signed).
pub fn issuers(text: &str) -> Result<Vec<String>> {
    let sig = decode_signature(text)?;
    let sig = &sig.signature;
    let mut out: Vec<String> = sig
        .issuer_fingerprint()
        .iter()
        .map(|f| crate::keyring::hex_upper(f.as_bytes()))
        .collect();
    out.extend(
        sig.issuer_key_id()
            .iter()
            .map(|k| crate::keyring::hex_upper(k.as_ref())),
    );
    Ok(out)
}

fn decode_one_line(text: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(PgpError::BadSignatureEncoding("empty signature".into()));
    }
    // Base64 of the body is a multiple of 4 characters; "=XXXX" after it is the checksum.
    let (body, crc) = if compact.len() >= 5
        && compact.len() % 4 == 1
        && compact.as_bytes()[compact.len() - 5] == b'='
    {
        let (b, c) = compact.split_at(compact.len() - 5);
        (b, Some(&c[1..]))
    } else {
        (compact.as_str(), None)
    };
    let bytes = STANDARD
        .decode(body)
        .map_err(|e| PgpError::BadSignatureEncoding(format!("not base64: {e}")))?;
    if let Some(crc) = crc {
        let want = STANDARD
            .decode(crc)
            .map_err(|e| PgpError::BadSignatureEncoding(format!("checksum is not base64: {e}")))?;
        let got = crc24(&bytes);
        if want.len() != 3 || want != [(got >> 16) as u8, (got >> 8) as u8, got as u8] {
            return Err(PgpError::BadSignatureEncoding(
                "CRC-24 checksum does not match the signature body".into(),
            ));
        }
    }
    Ok(bytes)
}

/// The OpenPGP armor checksum (RFC 4880, section 6.1).
pub fn crc24(data: &[u8]) -> u32 {
    const INIT: u32 = 0x00B7_04CE;
    const POLY: u32 = 0x0186_4CFB;
    let mut crc = INIT;
    for &b in data {
        crc ^= (b as u32) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= POLY;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    // From MIG's test vectors (valid-signed-action1.json).
    const MIG_SIG: &str = "wsBcBAABCAAQBQJZ8LLpCRAPOC0hyEwUOgAA9lgIAIMJwIlhb9FTtT6gcMaoj2JSEnSS921DA3JR7VFd057wCBjmu9IfYD/j47TS2fmE2kwmwBbNQ/uAjqM61FycvH2p/zdfmrmTaiwWUArpGtmRCnEloUfmeDh0d7PcwzkcKa9rmtH1dvEW8SgQq/yDNw9hvfyYJHQWeqk9WzpCLfJlqUu/NLZZbjP/hJuHla8B161q4r0jlzqQwT5gn7nk+O0/q2zw3QzbU8WGT7Q9STB18JcCQ0NyeMLjHCf5yCKqeh1PtGOQ8NTuYo8p4M/xvMe5bLbHsONpay9JYM6NdUdGeyYHdU3odiTYDYaT3JqCdceZVM2Vjsj+IKeOyaVJQgw==Jaj/";

    #[test]
    fn decodes_and_reencodes_migs_form() {
        let sig = decode_signature(MIG_SIG).unwrap();
        assert_eq!(encode_signature(&sig).unwrap(), MIG_SIG);
    }

    #[test]
    fn wrong_checksum_is_refused() {
        let tampered = MIG_SIG.replace("=Jaj/", "=Jaj0");
        let err = decode_signature(&tampered).unwrap_err();
        assert!(err.to_string().contains("CRC-24"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "=",
            "====",
            "abcd=",
            "!!!!",
            "wsBc",
            "AAAA=AAAA",
            &"A".repeat(70_000),
        ] {
            assert!(decode_signature(bad).is_err(), "{bad:.20}");
        }
    }

    #[test]
    fn crc24_of_known_input() {
        // RFC 4880's CRC-24 of "123456789".
        assert_eq!(crc24(b"123456789"), 0x21CF02);
    }
}
