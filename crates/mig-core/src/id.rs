//! Identifiers of actions, commands, agents and investigators.
//!
//! MIG's IDs are float64 in JSON (Go code and the JavaScript console both read them as doubles),
//! so every ID must fit in 53 bits. MIG wrote them in exponent form (`1.427392971126604e+18`),
//! which we accept on input; we always write plain integers.
//!
//! New IDs are time-ordered: milliseconds since MIG's epoch (2014-01-01) in the high 41 bits,
//! a 12-bit sequence below. The sequence starts at a random point in each process so that two
//! processes rarely collide, and the stores treat a primary-key clash as "draw again".

use serde::{Deserialize, Deserializer};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest integer a float64 represents exactly.
pub const MAX_SAFE_ID: u64 = (1 << 53) - 1;

/// 2014-01-01T00:00:00Z in Unix milliseconds: MIG's epoch.
const MIG_EPOCH_MS: u64 = 1_388_534_400_000;
const SEQUENCE_BITS: u32 = 12;

struct Generator {
    last_ms: u64,
    sequence: u64,
}

static GENERATOR: Mutex<Generator> = Mutex::new(Generator {
    last_ms: 0,
    sequence: 0,
});

/// Returns a new ID, unique within this process and time-ordered.
pub fn generate() -> u64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
        .saturating_sub(MIG_EPOCH_MS);
    let mut g = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if g.last_ms == 0 {
        g.sequence = rand::random::<u64>() & ((1 << SEQUENCE_BITS) - 1);
    }
    if now_ms > g.last_ms {
        g.last_ms = now_ms;
    } else {
        // Same millisecond (or a clock step backwards): continue the sequence, and borrow the
        // next millisecond when it wraps, so IDs never repeat or go backwards.
        g.sequence = (g.sequence + 1) & ((1 << SEQUENCE_BITS) - 1);
        if g.sequence == 0 {
            g.last_ms += 1;
        }
    }
    ((g.last_ms << SEQUENCE_BITS) | g.sequence) & MAX_SAFE_ID
}

/// Reads an ID written as an integer or as MIG's float (`1.427392971126604e+18`).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = serde_json::Number::deserialize(deserializer)?;
    from_json_number(&value).map_err(serde::de::Error::custom)
}

/// Like [`deserialize`] for optional IDs (`null` or absent become 0, MIG's "no ID").
pub fn deserialize_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value: Option<serde_json::Number> = Option::deserialize(deserializer)?;
    match value {
        None => Ok(0),
        Some(n) => from_json_number(&n).map_err(serde::de::Error::custom),
    }
}

/// Converts a JSON number into an ID, refusing negatives, fractions and non-finite values.
pub fn from_json_number(n: &serde_json::Number) -> Result<u64, String> {
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    if n.as_i64().is_some() {
        return Err(format!("invalid id {n}: must not be negative"));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1.8446744073709552e19 => {
            Ok(f as u64)
        }
        _ => Err(format!("invalid id {n}: expected a non-negative integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "deserialize")]
        id: u64,
    }

    #[test]
    fn generated_ids_increase_and_fit_in_53_bits() {
        let mut prev = generate();
        for _ in 0..10_000 {
            let id = generate();
            assert!(id > prev, "{id} <= {prev}");
            assert!(id <= MAX_SAFE_ID);
            prev = id;
        }
    }

    #[test]
    fn accepts_migs_float_encoding() {
        let h: Holder = serde_json::from_str(r#"{"id": 1.427392971126604e+18}"#).unwrap();
        assert_eq!(h.id, 1427392971126604032);
        let h: Holder = serde_json::from_str(r#"{"id": 42}"#).unwrap();
        assert_eq!(h.id, 42);
    }

    #[test]
    fn refuses_negative_and_fractional_ids() {
        for bad in [r#"{"id": -1}"#, r#"{"id": 1.5}"#, r#"{"id": "12"}"#] {
            assert!(serde_json::from_str::<Holder>(bad).is_err(), "{bad}");
        }
    }
}
