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

/// When an action should start: an RFC 3339 time, or `+<duration>` from now (`+2h`).
pub fn parse_start(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Some(after) = text.strip_prefix('+') {
        let d = parse_duration(after)?;
        return Ok(now + chrono::Duration::from_std(d)?);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| anyhow::anyhow!("start {text:?}: not an RFC 3339 time or +duration ({e})"))
}

/// Moves an action's validity window to start at `start` and last `expiration`.
pub fn start_at(
    action: &mut Action,
    start: chrono::DateTime<chrono::Utc>,
    expiration: Duration,
) -> anyhow::Result<()> {
    action.validfrom = GoTime(start);
    action.expireafter = GoTime(start + chrono::Duration::from_std(expiration)?);
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
    fn starts_are_times_or_offsets() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let later = parse_start("+2h", now).unwrap();
        assert_eq!((later - now).num_seconds(), 7200);
        let fixed = parse_start("2026-03-01T08:00:00+01:00", now).unwrap();
        assert_eq!(fixed.to_rfc3339(), "2026-03-01T07:00:00+00:00");
        let err = parse_start("tomorrow", now).unwrap_err().to_string();
        assert!(err.contains("RFC 3339"), "{err}");
        let mut a = action(
            "t",
            "status='online'",
            vec![],
            Duration::from_secs(60),
            false,
        );
        start_at(&mut a, later, Duration::from_secs(600)).unwrap();
        assert_eq!(a.validfrom.0, later);
        assert_eq!((a.expireafter.0 - a.validfrom.0).num_seconds(), 600);
    }

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
