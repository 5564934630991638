//! MIG's API authentication token, `X-PGPAUTHORIZATION`:
//! `1;<RFC 3339 UTC time>;<nonce>;<signature of "1;<time>;<nonce>\n">`.

use crate::error::{PgpError, Result};
use crate::keyring::Keyring;
use crate::sign::Signer;
use crate::verify::Verified;
use chrono::{DateTime, SecondsFormat, Utc};

pub const TOKEN_VERSION: &str = "1";

/// A token that verified: who sent it, and the nonce the caller must remember to refuse replays.
#[derive(Debug, Clone)]
pub struct AuthToken {
    pub signer: Verified,
    pub timestamp: DateTime<Utc>,
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
