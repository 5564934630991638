//! MIG's API authentication token, `X-PGPAUTHORIZATION`:
//! `1;<RFC 3339 UTC time>;<nonce>;<signature of "1;<time>;<nonce>\n">`.

use crate::error::{PgpError, Result};
use crate::keyring::Keyring;
use crate::sign::Signer;
use crate::verify::Verified;
use chrono::{DateTime, SecondsFormat, Utc};

/// The only token format there is (MIG's `1;<time>;<nonce>;<signature>`).
pub const TOKEN_VERSION: &str = "1";

/// A token that verified: who sent it, and the nonce the caller must remember to refuse replays.
#[derive(Debug, Clone)]
pub struct AuthToken {
    /// Whose key signed it.
    pub signer: Verified,
    /// When it says it was made.
    pub timestamp: DateTime<Utc>,
    /// Its nonce, accepted once.
    pub nonce: u64,
}

/// Makes a token for `now` with a random nonce.
pub fn make_token(signer: &dyn Signer, now: DateTime<Utc>) -> Result<String> {
    // MIG's nonces fit a float64; keep them in 53 bits for its API.
    let nonce: u64 = rand::random::<u64>() >> 11;
    let text = format!(
        "{TOKEN_VERSION};{};{nonce}",
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let sig = signer.sign(format!("{text}\n").as_bytes())?;
    Ok(format!("{text};{sig}"))
}

/// Verifies a token's format, its time (within `window_secs` of `now`) and its signature.
/// Refusing a nonce seen before is up to the caller (it needs shared state).
pub fn verify_token(
    keyring: &Keyring,
    token: &str,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<AuthToken> {
    let bad = |m: String| PgpError::Token(m);
    let parts: Vec<&str> = token.trim().splitn(4, ';').collect();
    if parts.len() != 4 {
        return Err(bad(format!(
            "expected 4 ';'-separated parts, got {}",
            parts.len()
        )));
    }
    if parts[0] != TOKEN_VERSION {
        return Err(bad(format!(
            "unsupported token version {:?}, expected 1",
            parts[0]
        )));
    }
    let timestamp = DateTime::parse_from_rfc3339(parts[1])
        .map_err(|e| bad(format!("timestamp {:?} is not RFC 3339: {e}", parts[1])))?
        .with_timezone(&Utc);
    let skew = (now - timestamp).num_seconds();
    if skew.abs() > window_secs {
        return Err(bad(format!(
            "timestamp {} is {}s away from the server's clock (limit {window_secs}s)",
            parts[1],
            skew.abs()
        )));
    }
    let nonce: u64 = parts[2]
        .parse()
        .map_err(|_| bad(format!("nonce {:?} is not an unsigned integer", parts[2])))?;
    let signed = format!("{};{};{}\n", parts[0], parts[1], parts[2]);
    let signer = keyring.verify(signed.as_bytes(), parts[3], now.timestamp())?;
    Ok(AuthToken {
        signer,
        timestamp,
        nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keygen::{generate_key, KeyAlgorithm};
    use crate::KeySigner;

    fn setup() -> (KeySigner, Keyring) {
        let key = generate_key("Token <t@example.com>", KeyAlgorithm::Ed25519, false).unwrap();
        let signer = KeySigner::new(key, None).unwrap();
        let mut ring = Keyring::new();
        ring.add_bytes(signer.public_key_armored().unwrap().as_bytes(), "t")
            .unwrap();
        (signer, ring)
    }

    #[test]
    fn token_round_trips() {
        let (signer, ring) = setup();
        let now = Utc::now();
        let token = make_token(&signer, now).unwrap();
        assert!(token.starts_with("1;"));
        let t = verify_token(&ring, &token, now, 600).unwrap();
        assert_eq!(t.signer.fingerprint, signer.fingerprint());
    }

    #[test]
    fn old_token_is_refused() {
        let (signer, ring) = setup();
        let then = Utc::now() - chrono::Duration::minutes(11);
        let token = make_token(&signer, then).unwrap();
        let err = verify_token(&ring, &token, Utc::now(), 600).unwrap_err();
        assert!(
            err.to_string().contains("away from the server's clock"),
            "{err}"
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let (signer, ring) = setup();
        let now = Utc::now();
        let good = make_token(&signer, now).unwrap();
        let parts: Vec<&str> = good.splitn(4, ';').collect();
        let cases = [
            "".to_string(),
            "1;2;3".to_string(),
            format!("2;{};{};{}", parts[1], parts[2], parts[3]),
            format!("1;yesterday;{};{}", parts[2], parts[3]),
            format!("1;{};-5;{}", parts[1], parts[3]),
            format!("1;{};{}1;{}", parts[1], parts[2], parts[3]),
        ];
        for bad in cases {
            assert!(verify_token(&ring, &bad, now, 600).is_err(), "{bad}");
        }
    }
}
