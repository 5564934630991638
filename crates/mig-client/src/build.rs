//! Building and signing actions.

use mig_core::{Action, GoTime, Operation};
use mig_pgp::Signer;
use std::time::Duration;

/// Actions start a minute in the past, so agents whose clocks run a little behind accept them.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A new, unsigned action valid from about now for `expiration`.
pub fn action(
    name: &str,
    target: &str,
    operations: Vec<Operation>,
    expiration: Duration,
    compress: bool,
) -> Action {
    let now = chrono::Utc::now();
    let from = now - chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
    let until = now + chrono::Duration::from_std(expiration).unwrap_or_default();
    let mut a = Action {
        name: name.to_string(),
        target: target.to_string(),
        validfrom: GoTime(from),
        expireafter: GoTime(until),
        operations,
        syntaxversion: mig_core::action::SYNTAX_VERSION,
        ..Default::default()
    };
    if compress {
        for op in &mut a.operations {
            op.want_compressed = true;
        }
        a.compress_operations();
    }
    a
}

/// Adds the signer's signature (MIG's signing text, one-line signature form).
pub fn sign(action: &mut Action, signer: &dyn Signer) -> anyhow::Result<()> {
    // A second signature by the same key would make agents refuse the action (a signer
    // counts once, and a duplicate is an error).
    let fingerprint = signer.fingerprint().to_ascii_uppercase();
    let key_id = &fingerprint[fingerprint.len().saturating_sub(16)..];
    for existing in &action.pgpsignatures {
        let issuers = mig_pgp::armor::issuers(existing).unwrap_or_default();
        if issuers.iter().any(|i| *i == fingerprint || i == key_id) {
            anyhow::bail!("the action is already signed by {fingerprint}");
        }
    }
    let sig = signer.sign(action.signing_text().as_bytes())?;
    action.pgpsignatures.push(sig);
    Ok(())
}

/// `30s`, `5m`, `2h`, `1d`, Go-style durations as MIG's `-e` takes them; a bare number is
/// seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    mig_core::gotime::parse_duration_or_seconds(text).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("300s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn actions_are_valid_and_compress() {
        let a = action(
            "t",
            "status='online'",
            vec![Operation::new("file", serde_json::json!({"a": 1}))],
            Duration::from_secs(300),
            true,
        );
        assert!(a.operations[0].is_compressed);
        let mut a2 = a.clone();
        a2.pgpsignatures.push("x".into());
        a2.validate(GoTime::now()).unwrap();
    }
}
