//! timedrift: "is this host's clock right?" SNTP queries to the host's configured time servers
//! (ntpd, chrony, systemd-timesyncd; else the NTP pool), and the local clock's drift from each.
//!
//! Found means a problem: at least one server answered and the clock is off by more than
//! `drift`.

use crate::flags::{self, Flag};
use crate::{gofmt, Context, Module, ModuleError, Report, SandboxNeeds};
use serde::{Deserialize, Serialize};
use std::net::{ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
/// timedrift's parameters.
pub(crate) struct Params {
    /// The largest acceptable drift, e.g. `5s` or `500ms`.
    #[serde(default)]
    pub drift: String,
    /// Not in MIG: query these servers (`host` or `host:port`) instead of the configured ones.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub servers: Vec<String>,
}

const FLAGS: &[Flag] = &[
    Flag::value(
        "drift",
        "<duration>",
        "largest acceptable drift, e.g. 5s or 500ms",
    ),
    Flag::multi(
        "server",
        "<host[:port]>",
        "query this server instead of the configured ones",
    ),
];

/// The acceptable drift, a Go duration (`5s`, `500ms`).
fn parse_drift(s: &str) -> Result<Duration, ModuleError> {
    mig_core::gotime::parse_duration(s).map_err(|e| ModuleError::invalid("drift", e.to_string()))
}

/// Checked parameters.
pub(crate) struct Plan {
    /// The acceptable drift; `None` (no `drift` given): report the local time only, as MIG.
    allowed: Option<Duration>,
    servers: Vec<String>,
}

/// What timedrift reports, MIG's `elements`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Elements {
    /// Whether at least one server answered.
    pub hascheckeddrift: bool,
    /// Whether every answer was within the allowed drift.
    pub iswithindrift: bool,
    /// One line per server the clock drifts too far from.
    pub drifts: Vec<String>,
    /// The local time at the end of the run.
    pub localtime: String,
}

/// timedrift's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How long the run took.
    pub exectime: String,
    /// One entry per server asked.
    pub ntpstats: Vec<NtpStat>,
}

/// What one time server said (MIG's `ntpstats` entries).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct NtpStat {
    /// The server, as given or configured.
    pub host: String,
    /// Whether it answered.
    pub reachable: bool,
    /// Its time (RFC 3339), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The round trip, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// The local clock's offset from it, signed, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
}

/// The timedrift module.
pub(crate) struct Timedrift;

impl Module for Timedrift {
    const NAME: &'static str = "timedrift";
    const ABOUT: &'static str = "the local clock's drift from its time servers (SNTP)";
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        network: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        let allowed = if p.drift.is_empty() {
            None
        } else {
            Some(parse_drift(&p.drift)?)
        };
        Ok(Plan {
            allowed,
            servers: p.servers.clone(),
        })
    }

    fn run(p: &Plan, ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        let Some(allowed) = p.allowed else {
            // MIG: without a drift, the answer is the local time (found), no server is asked.
            return Ok(Report {
                foundanything: true,
                elements: Elements {
                    hascheckeddrift: false,
                    iswithindrift: false,
                    drifts: Vec::new(),
                    localtime: mig_core::GoTime::now().to_rfc3339(),
                },
                statistics: Statistics {
                    exectime: gofmt::duration(start.elapsed()),
                    ntpstats: Vec::new(),
                },
                errors: Vec::new(),
            });
        };
        let mut errors = Vec::new();
        let servers = if p.servers.is_empty() {
            configured_servers(&mut errors)
        } else {
            p.servers.clone()
        };
        let mut stats = Vec::new();
        let mut drifts = Vec::new();
        let mut checked = false;
        let mut within = true;
        for server in &servers {
            if ctx.check().is_err() {
                errors.push("timedrift stopped early: the module ran out of time".into());
                break;
            }
            match sntp(server, Duration::from_secs(3)) {
                Ok(r) => {
                    checked = true;
                    let off = Duration::from_secs_f64(r.offset.abs());
                    if off > allowed {
                        within = false;
                        // MIG's words; the offset is the server's clock minus ours.
                        let side = if r.offset > 0.0 { "behind" } else { "ahead of" };
                        drifts.push(format!(
                            "Local time is {side} ntp host {server} by {}",
                            gofmt::duration(off)
                        ));
                    }
                    let time = chrono::DateTime::<chrono::Utc>::from(r.server_time);
                    stats.push(NtpStat {
                        host: server.clone(),
                        reachable: true,
                        time: Some(mig_core::GoTime(time).to_rfc3339()),
                        latency: Some(gofmt::duration(r.delay)),
                        // MIG's sign: our clock minus the server's (negative: we are behind).
                        drift: Some(signed_duration(-r.offset)),
                    });
                }
                Err(e) => {
                    errors.push(format!("{server}: {e}"));
                    stats.push(NtpStat {
                        host: server.clone(),
                        reachable: false,
                        time: None,
                        latency: None,
                        drift: None,
                    });
                }
            }
        }
        if servers.is_empty() {
            errors.push("no time server configured or given".into());
        }
        if !checked {
            // Nothing to compare with: a failed run, not a clock said to be right.
            return Err(ModuleError::Failed(format!(
                "no time server answered: {}",
                errors.join("; ")
            )));
        }
        Ok(Report {
            foundanything: checked && !within,
            elements: Elements {
                hascheckeddrift: checked,
                iswithindrift: checked && within,
                drifts,
                localtime: mig_core::GoTime::now().to_rfc3339(),
            },
            statistics: Statistics {
                exectime: gofmt::duration(start.elapsed()),
                ntpstats: stats,
            },
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        Ok(Params {
            drift: f.value("drift").unwrap_or("").to_string(),
            servers: f.all("server"),
        })
    }

    /// MIG's lines: the local time, the verdict and the drifts; then errors and statistics.
    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let e = &report.elements;
        let mut lines = vec![format!("local time is {}", e.localtime)];
        if e.hascheckeddrift {
            if e.iswithindrift {
                lines.push("local time is within acceptable drift from NTP servers".into());
            } else {
                lines.push("local time is out of sync from NTP servers".into());
                lines.extend(e.drifts.iter().cloned());
            }
        }
        if found_only {
            return lines;
        }
        lines.extend(report.errors.iter().map(|e| format!("error: {e}")));
        lines.push(format!(
            "stat: execution time was {}",
            report.statistics.exectime
        ));
        let unknown = String::new();
        for s in &report.statistics.ntpstats {
            lines.push(if s.reachable {
                format!(
                    "stat: {} responded in {} with time {}. local time drifts by {}",
                    s.host,
                    s.latency.as_ref().unwrap_or(&unknown),
                    s.time.as_deref().map(go_time).unwrap_or_default(),
                    s.drift.as_ref().unwrap_or(&unknown)
                )
            } else {
                format!("stat: {} was unreachable", s.host)
            });
        }
        lines.push("timedrift module has succeeded".into());
        lines
    }
}

/// An RFC 3339 time as Go's `Time.UTC().String()` prints it, as MIG's printer does.
fn go_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => gofmt::time(std::time::SystemTime::from(t)),
        Err(_) => rfc3339.to_string(),
    }
}

fn signed_duration(secs: f64) -> String {
    let d = gofmt::duration(Duration::from_secs_f64(secs.abs()));
    if secs < 0.0 {
        format!("-{d}")
    } else {
        d
    }
}

/// A time daemon's configuration file: its text, empty when the host has none; a file that
/// is there but cannot be read is reported in `errors` (its servers would be missed).
fn config_text(path: &str, errors: &mut Vec<String>) -> String {
    match mig_host::optional(path, |p| std::fs::read_to_string(p)) {
        Ok(text) => text.unwrap_or_default(),
        Err(e) => {
            errors.push(e.to_string());
            String::new()
        }
    }
}

/// What the host's time daemons are configured with, else the NTP pool; configuration that
/// cannot be read is reported in `errors`.
pub(crate) fn configured_servers(errors: &mut Vec<String>) -> Vec<String> {
    let mut servers = Vec::new();
    for path in [
        "/etc/ntp.conf",
        "/etc/ntpsec/ntp.conf",
        "/etc/chrony/chrony.conf",
        "/etc/chrony.conf",
    ] {
        let text = config_text(path, errors);
        for line in text.lines() {
            let mut w = line.split_whitespace();
            if matches!(w.next(), Some("server" | "pool" | "peer")) {
                if let Some(host) = w.next() {
                    servers.push(host.to_string());
                }
            }
        }
    }
    let mut timesyncd = vec!["/etc/systemd/timesyncd.conf".to_string()];
    if let Ok(d) = std::fs::read_dir("/etc/systemd/timesyncd.conf.d") {
        timesyncd.extend(d.flatten().map(|e| e.path().display().to_string()));
    }
    for path in timesyncd {
        let text = config_text(&path, errors);
        for line in text.lines() {
            if let Some(v) = line
                .trim()
                .strip_prefix("NTP=")
                .or_else(|| line.trim().strip_prefix("FallbackNTP="))
            {
                servers.extend(v.split_whitespace().map(str::to_string));
            }
        }
    }
    if servers.is_empty() {
        servers = vec![
            "0.pool.ntp.org".into(),
            "1.pool.ntp.org".into(),
            "2.pool.ntp.org".into(),
        ];
    }
    servers.dedup();
    servers
}

/// One SNTP answer (RFC 4330).
pub(crate) struct Sntp {
    /// Server clock minus local clock, in seconds.
    pub offset: f64,
    /// The round trip to the server.
    pub delay: Duration,
    /// The server's time.
    pub server_time: SystemTime,
}

const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

fn to_ntp(t: SystemTime) -> [u8; 8] {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = (d.as_secs() + NTP_UNIX_OFFSET) as u32;
    let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&secs.to_be_bytes());
    b[4..].copy_from_slice(&(frac as u32).to_be_bytes());
    b
}

fn from_ntp(b: &[u8]) -> f64 {
    let secs = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64;
    let frac = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as f64 / 4_294_967_296.0;
    secs - NTP_UNIX_OFFSET as f64 + frac
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One SNTP exchange with `server` (`host` or `host:port`), within `timeout`.
pub(crate) fn sntp(server: &str, timeout: Duration) -> Result<Sntp, String> {
    let target = if server
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !server.contains("::")
    {
        server.to_string()
    } else {
        format!("{server}:123")
    };
    let addr = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .next()
        .ok_or("no address")?;
    let socket = UdpSocket::bind(if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    socket.connect(addr).map_err(|e| e.to_string())?;
    let mut req = [0u8; 48];
    req[0] = 0x23; // LI 0, version 4, mode 3 (client)
    let t1 = SystemTime::now();
    let t1_ntp = to_ntp(t1);
    req[40..48].copy_from_slice(&t1_ntp);
    socket.send(&req).map_err(|e| e.to_string())?;
    let mut resp = [0u8; 68];
    let n = socket.recv(&mut resp).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "no answer".to_string(),
        _ => e.to_string(),
    })?;
    let t4 = SystemTime::now();
    if n < 48 {
        return Err(format!("short answer ({n} bytes)"));
    }
    if resp[0] & 0x07 != 4 {
        return Err("not a server answer".into());
    }
    if resp[1] == 0 {
        return Err("kiss-of-death (stratum 0)".into());
    }
    if resp[24..32] != t1_ntp {
        return Err("the answer is not for our request".into());
    }
    let (t1s, t4s) = (unix_secs(t1), unix_secs(t4));
    let t2 = from_ntp(&resp[32..40]);
    let t3 = from_ntp(&resp[40..48]);
    let offset = ((t2 - t1s) + (t3 - t4s)) / 2.0;
    let delay = ((t4s - t1s) - (t3 - t2)).max(0.0);
    Ok(Sntp {
        offset,
        delay: Duration::from_secs_f64(delay),
        server_time: UNIX_EPOCH + Duration::from_secs_f64(t3.max(0.0)),
    })
}

/// A test SNTP server on loopback whose clock is `skew` seconds ahead of ours. Returns its
/// address; it answers until the process ends.
#[cfg(any(test, feature = "test-modules"))]
// Public through `testing::sntp_server` with `test-modules`; only the crate's own tests use it
// without.
#[cfg_attr(not(feature = "test-modules"), allow(unreachable_pub))]
pub fn spawn_test_server(skew: f64) -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP port");
    let addr = socket.local_addr().expect("its address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 48];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n < 48 {
                continue;
            }
            let now = || {
                let t = unix_secs(SystemTime::now()) + skew;
                to_ntp(UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0)))
            };
            let mut resp = [0u8; 48];
            resp[0] = 0x24; // version 4, mode 4 (server)
            resp[1] = 2; // stratum
            resp[24..32].copy_from_slice(&buf[40..48]);
            resp[32..40].copy_from_slice(&now());
            resp[40..48].copy_from_slice(&now());
            let _ = socket.send_to(&resp, from);
        }
    });
    addr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;
    use serde_json::json;

    #[test]
    fn within_and_beyond_the_drift() {
        let good = spawn_test_server(0.0);
        let ahead = spawn_test_server(10.0);
        let m = lookup("timedrift").unwrap();
        let r = m.run_json(
            &json!({"drift": "2s", "servers": [good.to_string()]}),
            &Context::default(),
        );
        assert!(r.success, "{r:?}");
        assert_eq!(r.elements["hascheckeddrift"], true);
        assert_eq!(r.elements["iswithindrift"], true);
        assert!(!r.foundanything);
        let r = m.run_json(
            &json!({"drift": "2s", "servers": [good.to_string(), ahead.to_string()]}),
            &Context::default(),
        );
        assert!(r.foundanything, "{r:?}");
        assert_eq!(r.elements["iswithindrift"], false);
        // The server is 10 s ahead: our clock is behind, and MIG's drift is negative.
        let said = r.elements["drifts"][0].as_str().unwrap();
        assert!(
            said.starts_with(&format!("Local time is behind ntp host {ahead} by ")),
            "{said}"
        );
        assert_eq!(r.statistics["ntpstats"].as_array().unwrap().len(), 2);
        let drift = r.statistics["ntpstats"][1]["drift"].as_str().unwrap();
        assert!(
            drift.starts_with("-9.") || drift.starts_with("-10."),
            "{drift}"
        );
        let lines = m.pretty(&r, false);
        assert_eq!(lines[1], "local time is out of sync from NTP servers");
        assert_eq!(lines[2], said);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("stat: {ahead} responded in "))
                    && l.contains(" +0000 UTC. local time drifts by -")),
            "{lines:?}"
        );
        assert_eq!(lines.last().unwrap(), "timedrift module has succeeded");
        // A server behind us: we are ahead.
        let behind = spawn_test_server(-10.0);
        let r = m.run_json(
            &json!({"drift": "2s", "servers": [behind.to_string()]}),
            &Context::default(),
        );
        let said = r.elements["drifts"][0].as_str().unwrap();
        assert!(
            said.starts_with("Local time is ahead of ntp host "),
            "{said}"
        );
    }

    #[test]
    fn without_a_drift_the_local_time_is_the_answer_as_in_mig() {
        let r = lookup("timedrift")
            .unwrap()
            .run_json(&json!({}), &Context::default());
        assert!(r.success && r.foundanything, "{r:?}");
        assert_eq!(r.elements["hascheckeddrift"], false);
        assert!(r.elements["localtime"].as_str().unwrap().contains('T'));
        assert_eq!(r.statistics["ntpstats"], json!([]));
        let lines = lookup("timedrift").unwrap().pretty(&r, true);
        assert!(lines[0].starts_with("local time is "), "{lines:?}");
        // And `mig timedrift` without -drift is accepted.
        assert!(Timedrift::parse_flags(&[]).is_ok());
    }

    #[test]
    fn unreachable_server_is_reported() {
        let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let r = lookup("timedrift").unwrap().run_json(
            &json!({"drift": "1s", "servers": [addr.to_string()]}),
            &Context::default(),
        );
        // No answer: a failed run naming why, not a clock said to be right.
        assert!(!r.success, "{r:?}");
        assert!(
            r.errors[0].starts_with("no time server answered: ")
                && r.errors[0].contains(&addr.to_string()),
            "{:?}",
            r.errors
        );
    }

    #[test]
    fn drift_must_be_a_duration() {
        assert!(parse_drift("5s").is_ok());
        assert_eq!(parse_drift("500ms").unwrap(), Duration::from_millis(500));
        for bad in ["5", "five", "5y"] {
            assert!(parse_drift(bad).is_err(), "{bad}");
        }
    }
}
