//! ping: "can the host reach X?" ICMP echo, a TCP connect (the seed's `netcat -vz`), or a UDP
//! probe, `count` times, with latencies in milliseconds.
//!
//! Latencies as MIG reports them: a reply's round trip in ms; **9999999** when nothing came back
//! before the timeout (for UDP: maybe open); **-1** when the destination answered "no" (TCP
//! reset, ICMP port or host unreachable); **0** for any other failure, explained in `failures`.

use crate::flags::{self, Flag};
use crate::{Context, ExecTime, Module, ModuleError, Report, SandboxNeeds};
use serde::{Deserialize, Serialize};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

/// The latency of a probe nothing answered before its timeout.
pub(crate) const TIMEOUT_LATENCY: f64 = 9_999_999.0;
/// The latency of a probe the destination refused (reset, unreachable).
pub(crate) const REFUSED_LATENCY: f64 = -1.0;
/// The latency of a probe that failed otherwise (see `failures`).
pub(crate) const FAILED_LATENCY: f64 = 0.0;

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
/// ping's parameters, MIG's names.
pub(crate) struct Params {
    /// The host name or IP address to probe.
    pub destination: String,
    /// The port to probe (tcp and udp).
    #[serde(default, serialize_with = "mig_core::gojson::float64::serialize")]
    pub destinationport: f64,
    /// `icmp`, `tcp` or `udp`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// How many probes to send (1 to 100).
    #[serde(
        default = "default_count",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    pub count: f64,
    /// Seconds per probe.
    #[serde(
        default = "default_timeout",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    pub timeout: f64,
}

fn default_protocol() -> String {
    "icmp".into()
}
fn default_count() -> f64 {
    3.0
}
fn default_timeout() -> f64 {
    5.0
}

const FLAGS: &[Flag] = &[
    Flag::value("d", "<host|ip>", "destination"),
    Flag::value("dp", "<port>", "destination port (tcp, udp)"),
    Flag::value("p", "<icmp|tcp|udp>", "protocol (default icmp)"),
    Flag::value("c", "<n>", "number of probes (default 3)"),
    Flag::value("t", "<seconds>", "timeout of each probe (default 5)"),
];

/// How a probe is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// ICMP echo.
    Icmp,
    /// A TCP handshake.
    Tcp,
    /// A UDP datagram.
    Udp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// Checked parameters.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    destination: String,
    port: u16,
    protocol: Protocol,
    count: u16,
    timeout: Duration,
}

/// What a ping reports, MIG's `elements`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Elements {
    /// One latency per probe (see the module's documentation for the sentinels).
    pub latencies: Vec<f64>,
    /// The probe's protocol.
    pub protocol: String,
    /// The destination as probed: `host[:port] (ip)`.
    pub resolvedhost: String,
    /// Why probes failed; Go writes an empty list as null.
    pub failures: Option<Vec<String>>,
}

fn check(p: &Params) -> Result<Plan, ModuleError> {
    if p.destination.trim().is_empty() {
        return Err(ModuleError::invalid(
            "destination",
            "expected a host name or IP address",
        ));
    }
    let protocol = match p.protocol.as_str() {
        "icmp" => Protocol::Icmp,
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => {
            return Err(ModuleError::invalid(
                "protocol",
                format!("{other:?} is not icmp, tcp or udp"),
            ))
        }
    };
    if protocol != Protocol::Icmp
        && !(p.destinationport >= 1.0
            && p.destinationport <= 65535.0
            && p.destinationport.fract() == 0.0)
    {
        return Err(ModuleError::invalid(
            "destinationport",
            format!(
                "{} is not a port (1-65535), needed for {}",
                p.destinationport, p.protocol
            ),
        ));
    }
    // MIG: a count of 0 is the default, 3.
    let count = if p.count == 0.0 {
        default_count()
    } else {
        p.count
    };
    if !((1.0..=100.0).contains(&count) && count.fract() == 0.0) {
        return Err(ModuleError::invalid(
            "count",
            format!("{} is not between 1 and 100", p.count),
        ));
    }
    if !(p.timeout > 0.0 && p.timeout <= 60.0) {
        return Err(ModuleError::invalid(
            "timeout",
            format!("{} is not between 0 and 60 seconds", p.timeout),
        ));
    }
    Ok(Plan {
        destination: p.destination.clone(),
        port: p.destinationport as u16,
        protocol,
        count: count as u16,
        timeout: Duration::from_secs_f64(p.timeout),
    })
}

/// The ping module.
pub(crate) struct Ping;

impl Module for Ping {
    const NAME: &'static str = "ping";
    const ABOUT: &'static str = "reachability by ICMP echo, TCP connect or UDP probe";
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        network: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Plan;
    type Elements = Elements;
    type Statistics = ExecTime;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Plan, ModuleError> {
        check(p)
    }

    fn run(p: &Plan, ctx: &Context) -> Result<Report<Elements, ExecTime>, ModuleError> {
        let start = Instant::now();
        let port = p.port;
        let ip = resolve(&p.destination, port).map_err(ModuleError::Failed)?;
        let timeout = p.timeout;
        let mut latencies = Vec::new();
        let mut failures = Vec::new();
        let mut errors = Vec::new();
        let mut icmp: Option<IcmpSocket> = None;
        for seq in 0..p.count {
            if ctx.check().is_err() {
                errors.push("ping stopped early: the module ran out of time".into());
                break;
            }
            let probe = match p.protocol {
                Protocol::Tcp => tcp(SocketAddr::new(ip, port), timeout),
                Protocol::Udp => udp(SocketAddr::new(ip, port), timeout),
                Protocol::Icmp => {
                    if icmp.is_none() {
                        icmp = Some(IcmpSocket::open(ip).map_err(ModuleError::Failed)?);
                    }
                    match icmp.as_mut() {
                        Some(s) => s.echo(ip, seq, timeout),
                        None => Ok(TIMEOUT_LATENCY),
                    }
                }
            };
            latencies.push(probe.unwrap_or_else(|e| {
                failures.push(format!("ping #{} failed with error: {e}", seq + 1));
                FAILED_LATENCY
            }));
            // A pause between probes, as MIG makes, against floods.
            if seq + 1 < p.count {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let reached = |l: &f64| match *l {
            REFUSED_LATENCY | FAILED_LATENCY => false,
            TIMEOUT_LATENCY => p.protocol == Protocol::Udp,
            _ => true,
        };
        let mut resolvedhost = p.destination.clone();
        if p.protocol != Protocol::Icmp {
            resolvedhost.push_str(&format!(":{port}"));
        }
        resolvedhost.push_str(&format!(" ({ip})"));
        Ok(Report {
            foundanything: latencies.iter().any(reached),
            elements: Elements {
                latencies,
                protocol: p.protocol.name().to_string(),
                resolvedhost,
                failures: (!failures.is_empty()).then_some(failures),
            },
            statistics: ExecTime::since(start),
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        Ok(Params {
            destination: f.value("d").unwrap_or("").to_string(),
            destinationport: f.number("dp", 0.0)?,
            protocol: f.value("p").unwrap_or("icmp").to_string(),
            count: f.number("c", 3.0)?,
            timeout: f.number("t", 5.0)?,
        })
    }

    /// MIG's lines, word for word.
    fn pretty(report: &Report<Elements, ExecTime>, found_only: bool) -> Vec<String> {
        let e = &report.elements;
        let protocol = e.protocol.as_str();
        let host = e.resolvedhost.as_str();
        let mut lines = Vec::new();
        if report.foundanything {
            lines.push(format!(
                "{protocol} ping of {host} succeeded. Target is reachable."
            ));
        }
        if found_only {
            return lines;
        }
        if !report.foundanything {
            lines.push(format!(
                "{protocol} ping of {host} failed. Target is no reachable."
            ));
        }
        for (i, &l) in e.latencies.iter().enumerate() {
            let n = i + 1;
            lines.push(match l {
                REFUSED_LATENCY => format!("ping #{n} failed, target was unreachable"),
                FAILED_LATENCY => format!("ping #{n} failed, reason unknown"),
                TIMEOUT_LATENCY if protocol == "udp" => {
                    format!("ping #{n} may have succeeded (no udp response)")
                }
                TIMEOUT_LATENCY => format!("ping #{n} failed, connection timed out"),
                ms => format!("ping #{n} succeeded in {ms:.0}ms"),
            });
        }
        lines.extend(e.failures.iter().flatten().cloned());
        lines.extend(report.errors.iter().cloned());
        lines
    }
}

fn resolve(host: &str, port: u16) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| format!("{host} has no address"))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// A TCP handshake, as `nc -vz`: reply = connected; reset = refused.
fn tcp(addr: SocketAddr, timeout: Duration) -> Result<f64, String> {
    let t0 = Instant::now();
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Ok(ms(t0.elapsed())),
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Ok(TIMEOUT_LATENCY)
        }
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(REFUSED_LATENCY),
        Err(e) => Err(format!("tcp {addr}: {e}")),
    }
}

/// A UDP datagram: an ICMP "port unreachable" (refused) proves the host is up and the port
/// closed; a reply proves it open; silence is a timeout (open, or filtered).
fn udp(addr: SocketAddr, timeout: Duration) -> Result<f64, String> {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().unwrap_or(addr)
    } else {
        "[::]:0".parse().unwrap_or(addr)
    };
    let s = UdpSocket::bind(bind).map_err(|e| format!("udp socket: {e}"))?;
    s.connect(addr).map_err(|e| format!("udp {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    s.send(b"mig ping\n")
        .map_err(|e| format!("udp {addr}: {e}"))?;
    let mut buf = [0u8; 512];
    match s.recv(&mut buf) {
        Ok(_) => Ok(ms(t0.elapsed())),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Ok(TIMEOUT_LATENCY)
        }
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(REFUSED_LATENCY),
        Err(e) => Err(format!("udp {addr}: {e}")),
    }
}

/// An ICMP socket: an unprivileged "ping socket" when the system allows it
/// (net.ipv4.ping_group_range), else a raw socket (CAP_NET_RAW).
struct IcmpSocket {
    socket: UdpSocket,
    raw: bool,
    v6: bool,
    ident: u16,
}

impl IcmpSocket {
    fn open(ip: IpAddr) -> Result<IcmpSocket, String> {
        let (family, proto) = match ip {
            IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP),
            IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6),
        };
        for (kind, raw) in [(libc::SOCK_DGRAM, false), (libc::SOCK_RAW, true)] {
            // SAFETY: a plain socket call; the descriptor is owned by the UdpSocket below.
            let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, proto) };
            if fd >= 0 {
                // SAFETY: fd is a fresh, valid datagram-style socket we own.
                let socket = unsafe { UdpSocket::from_raw_fd(fd) };
                return Ok(IcmpSocket {
                    socket,
                    raw,
                    v6: ip.is_ipv6(),
                    ident: (std::process::id() & 0xffff) as u16,
                });
            }
        }
        Err("ICMP needs CAP_NET_RAW or unprivileged ping sockets (sysctl net.ipv4.ping_group_range), and neither is available to the agent; use -p tcp".into())
    }

    fn echo(&mut self, ip: IpAddr, seq: u16, timeout: Duration) -> Result<f64, String> {
        let request_type = if self.v6 { 128u8 } else { 8u8 };
        let reply_type = if self.v6 { 129u8 } else { 0u8 };
        let mut pkt = vec![request_type, 0, 0, 0];
        pkt.extend_from_slice(&self.ident.to_be_bytes());
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(b"mig-ping-payload");
        if self.raw && !self.v6 {
            let sum = checksum(&pkt);
            pkt[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        let deadline = Instant::now() + timeout;
        let t0 = Instant::now();
        self.socket
            .send_to(&pkt, SocketAddr::new(ip, 0))
            .map_err(|e| format!("icmp {ip}: {e}"))?;
        let mut buf = [0u8; 1500];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(TIMEOUT_LATENCY);
            }
            self.socket
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            let (n, from) = match self.socket.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(TIMEOUT_LATENCY)
                }
                Err(e) => return Err(format!("icmp {ip}: {e}")),
            };
            // Raw IPv4 sockets deliver the IP header too.
            let icmp = if self.raw && !self.v6 {
                let ihl = ((buf[0] & 0x0f) as usize) * 4;
                buf.get(ihl..n).unwrap_or(&[])
            } else {
                &buf[..n]
            };
            if from.ip() != ip || icmp.len() < 8 || icmp[0] != reply_type {
                continue;
            }
            let reply_seq = u16::from_be_bytes([icmp[6], icmp[7]]);
            // Ping sockets rewrite the identifier; the kernel already filtered for us.
            let ident_ok = !self.raw || u16::from_be_bytes([icmp[4], icmp[5]]) == self.ident;
            if reply_seq == seq && ident_ok {
                return Ok(ms(t0.elapsed()));
            }
        }
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum += word as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;
    use crate::ModuleResult;
    use serde_json::json;

    fn run(p: serde_json::Value) -> ModuleResult {
        lookup("ping").unwrap().run_json(&p, &Context::default())
    }

    #[test]
    fn tcp_open_and_closed_ports() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let r = run(
            json!({"destination": "127.0.0.1", "destinationport": port, "protocol": "tcp", "count": 2, "timeout": 2}),
        );
        assert!(r.foundanything, "{r:?}");
        assert!(r.elements["latencies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l.as_f64().unwrap() >= 0.0));
        assert_eq!(
            r.elements["resolvedhost"],
            format!("127.0.0.1:{port} (127.0.0.1)")
        );
        assert_eq!(r.elements["failures"], serde_json::Value::Null);
        let lines = lookup("ping").unwrap().pretty(&r, false);
        assert_eq!(
            lines[0],
            format!("tcp ping of 127.0.0.1:{port} (127.0.0.1) succeeded. Target is reachable.")
        );
        assert!(lines[1].starts_with("ping #1 succeeded in "), "{lines:?}");
        drop(l);
        let r = run(
            json!({"destination": "127.0.0.1", "destinationport": port, "protocol": "tcp", "count": 1, "timeout": 2}),
        );
        assert!(!r.foundanything);
        assert_eq!(r.elements["latencies"][0], REFUSED_LATENCY);
        assert_eq!(
            lookup("ping").unwrap().pretty(&r, false),
            vec![
                format!("tcp ping of 127.0.0.1:{port} (127.0.0.1) failed. Target is no reachable."),
                "ping #1 failed, target was unreachable".to_string()
            ]
        );
        assert!(lookup("ping").unwrap().pretty(&r, true).is_empty());
    }

    #[test]
    fn sentinels_print_as_mig_prints_them() {
        let r = ModuleResult {
            foundanything: true,
            success: true,
            elements: json!({"latencies": [9999999, 0, -1, 12.4], "protocol": "udp",
                "resolvedhost": "h:53 (10.0.0.1)", "failures": ["ping #2 failed with error: x"]}),
            statistics: json!({}),
            errors: vec![],
        };
        assert_eq!(
            lookup("ping").unwrap().pretty(&r, false),
            vec![
                "udp ping of h:53 (10.0.0.1) succeeded. Target is reachable.",
                "ping #1 may have succeeded (no udp response)",
                "ping #2 failed, reason unknown",
                "ping #3 failed, target was unreachable",
                "ping #4 succeeded in 12ms",
                "ping #2 failed with error: x",
            ]
        );
    }

    #[test]
    fn udp_closed_port_is_refused() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        drop(s);
        let r = run(
            json!({"destination": "127.0.0.1", "destinationport": port, "protocol": "udp", "count": 1, "timeout": 1}),
        );
        assert_eq!(r.elements["latencies"][0], REFUSED_LATENCY, "{r:?}");
    }

    #[test]
    fn icmp_to_loopback_or_a_clear_error() {
        let r = run(json!({"destination": "127.0.0.1", "count": 1, "timeout": 2}));
        if r.success {
            assert!(r.foundanything, "{r:?}");
        } else {
            assert!(r.errors[0].contains("CAP_NET_RAW"), "{:?}", r.errors);
        }
    }

    #[test]
    fn validation_and_flags() {
        for (p, want) in [
            (json!({"destination": ""}), "destination"),
            (json!({"destination": "x", "protocol": "sctp"}), "protocol"),
            (
                json!({"destination": "x", "protocol": "tcp"}),
                "destinationport",
            ),
            (json!({"destination": "x", "count": 101}), "count"),
            (json!({"destination": "x", "count": 0.5}), "count"),
            (json!({"destination": "x", "timeout": 100}), "timeout"),
        ] {
            let r = run(p);
            assert!(r.errors[0].contains(want), "{want}: {:?}", r.errors);
        }
        // MIG: a count of 0 is its default, 3.
        let ping = lookup("ping").unwrap();
        assert!(ping
            .check_json(&json!({"destination": "127.0.0.1", "count": 0}))
            .is_ok());
        let plan = check(&serde_json::from_value(json!({"destination": "x", "count": 0})).unwrap())
            .unwrap();
        assert_eq!(plan.count, 3);
        let p = Ping::parse_flags(&[
            "-d".into(),
            "10.0.0.1".into(),
            "-dp".into(),
            "22".into(),
            "-p".into(),
            "tcp".into(),
            "-c".into(),
            "1".into(),
        ])
        .unwrap();
        assert_eq!(
            (
                p.destination.as_str(),
                p.destinationport,
                p.protocol.as_str(),
                p.count,
                p.timeout
            ),
            ("10.0.0.1", 22.0, "tcp", 1.0, 5.0)
        );
        assert_eq!(checksum(&[0x08, 0, 0, 0, 0, 1, 0, 1]), 0xf7fd);
    }
}
