//! Timestamps as MIG's Go code reads and writes them.
//!
//! Go's `time.Time` marshals to RFC 3339 with up to nine fractional digits, trailing zeros
//! trimmed, and its zero value is `0001-01-01T00:00:00Z`. MIG uses that zero value to mean
//! "not set" (`starttime`, `finishtime` of an action that never ran), so it is the default here.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A duration as Go's `time.ParseDuration` reads it (`300ms`, `30s`, `1h30m`; units ns, us,
/// µs, ms, s, m, h), plus `d` for days, which MIG users type for action expirations. The error
/// quotes the text.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{text:?} is not a duration like 500ms, 30s, 5m or 1h30m");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut secs = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (number, after) = rest.split_at(digits);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let n: f64 = number.parse().map_err(|_| bad())?;
        secs += n * match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        rest = next;
    }
    // Far beyond any validity window, and safe for Duration.
    if !secs.is_finite() || secs > 1e12 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// [`parse_duration`], or a bare number of seconds (configuration files, `mig -e 300`).
pub fn parse_duration_or_seconds(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(secs) => Ok(std::time::Duration::from_secs(secs)),
        Err(_) => parse_duration(t),
    }
}

/// Go's `time.Duration.String()`: `2.017849ms`, `1m30.5s`, `0s`.
pub fn format_duration(d: std::time::Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos, 1_000_000));
    }
    let total_secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    let secs = trim_fraction(s * 1_000_000_000 + frac, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// `value / unit` with the fraction's trailing zeros removed (Go's fmtFrac).
fn trim_fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = unit.to_string().len() - 1;
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A UTC instant with Go's JSON form and zero value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime(pub DateTime<Utc>);

impl GoTime {
    /// Go's zero time, 0001-01-01T00:00:00Z.
    pub fn zero() -> GoTime {
        let date = NaiveDate::from_ymd_opt(1, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        // The literal date is valid; the fallback only satisfies the type checker.
        GoTime(date.map(|d| Utc.from_utc_datetime(&d)).unwrap_or_default())
    }

    /// The current time.
    pub fn now() -> GoTime {
        GoTime(Utc::now())
    }

    /// Whether it is Go's zero time: "not set".
    pub fn is_zero(&self) -> bool {
        *self == GoTime::zero()
    }

    /// Seconds since the Unix epoch, rounded down as Go's `Time.Unix()` does.
    pub fn unix(&self) -> i64 {
        self.0.timestamp()
    }

    /// The instant `secs` seconds after the Unix epoch; `None` when out of range.
    pub fn from_unix(secs: i64) -> Option<GoTime> {
        DateTime::from_timestamp(secs, 0).map(GoTime)
    }

    /// The instant `ms` milliseconds after the Unix epoch; `None` when out of range.
    pub fn from_unix_millis(ms: i64) -> Option<GoTime> {
        DateTime::from_timestamp_millis(ms).map(GoTime)
    }

    /// Milliseconds since the Unix epoch, rounded down (what the stores keep).
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Parses RFC 3339 with any offset and optional fractional seconds.
    pub fn parse(s: &str) -> Result<GoTime, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| GoTime(t.with_timezone(&Utc)))
    }

    /// RFC 3339 with Go's `RFC3339Nano` fraction rule (trailing zeros trimmed).
    pub fn to_rfc3339(&self) -> String {
        let t = &self.0;
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let nanos = t.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }
}

impl Default for GoTime {
    fn default() -> Self {
        GoTime::zero()
    }
}

impl fmt::Debug for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl From<DateTime<Utc>> for GoTime {
    fn from(t: DateTime<Utc>) -> Self {
        GoTime(t)
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Go leaves a time untouched on `null`; we read it as the zero time.
        let s: Option<String> = Option::deserialize(deserializer)?;
        match s {
            None => Ok(GoTime::zero()),
            Some(s) => GoTime::parse(&s)
                .map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 time {s:?}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn parses_go_durations() {
        assert_eq!(
            super::parse_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            super::parse_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            super::parse_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            super::parse_duration("2d").unwrap(),
            Duration::from_secs(172_800)
        );
        assert_eq!(
            super::parse_duration("10us").unwrap(),
            Duration::from_micros(10)
        );
        assert_eq!(
            super::parse_duration_or_seconds("90").unwrap(),
            Duration::from_secs(90)
        );
        for bad in ["", "soon", "5y", "90", "s", "1e400h"] {
            let e = super::parse_duration(bad).unwrap_err();
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
    }

    use super::*;

    #[test]
    fn zero_time_round_trips() {
        let z = GoTime::zero();
        assert_eq!(z.to_rfc3339(), "0001-01-01T00:00:00Z");
        assert_eq!(GoTime::parse("0001-01-01T00:00:00Z").unwrap(), z);
        assert!(z.is_zero());
    }

    #[test]
    fn fraction_trimmed_like_go() {
        let t = GoTime::parse("2017-10-25T15:50:05.220759533Z").unwrap();
        assert_eq!(t.unix(), 1508946605);
        assert_eq!(t.to_rfc3339(), "2017-10-25T15:50:05.220759533Z");
        let t = GoTime::parse("2017-10-25T15:50:05.500Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2017-10-25T15:50:05.5Z");
    }

    #[test]
    fn offsets_convert_to_utc() {
        let t = GoTime::parse("2014-07-31T14:00:20.00442837-07:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2014-07-31T21:00:20.00442837Z");
    }

    #[test]
    fn unix_rounds_down_before_epoch() {
        let t = GoTime::parse("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(t.unix(), -1);
    }

    #[test]
    fn bad_time_names_the_text() {
        let err = serde_json::from_str::<GoTime>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
