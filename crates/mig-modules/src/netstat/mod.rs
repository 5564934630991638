//! netstat: "who talks to this IP?", "which hosts listen on this port?", local and neighbour
//! addresses. MIG's parameters and results; each connection also names its process.

use crate::flags::{self, Flag};
use crate::os::net::{self, IpMatch, Namespace, Owner};
use crate::os::Gathered;
use crate::{gofmt, Context, Module, ModuleError, Report, SandboxNeeds};
use regex::RegexBuilder;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, Default, PartialEq)]
/// netstat's parameters, MIG's names: each list is a question, answered separately.
pub(crate) struct Params {
    /// Local MAC addresses (case-insensitive regexes).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub localmac: Vec<String>,
    /// Local IP addresses or networks (CIDR).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub localip: Vec<String>,
    /// Neighbour MAC addresses (case-insensitive regexes).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub neighbormac: Vec<String>,
    /// Neighbour IP addresses or networks (CIDR).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub neighborip: Vec<String>,
    /// Remote IP addresses or networks of connections.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub connectedip: Vec<String>,
    /// Listening ports.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "mig_core::action::null_as_default"
    )]
    pub listeningport: Vec<String>,
    /// Also search every other network namespace (containers).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub namespaces: bool,
}

/// One match (MIG's element, plus the owning process for sockets).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Element {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The local interface's MAC address.
    pub localmacaddr: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The neighbour's MAC address.
    pub remotemacaddr: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The local address.
    pub localaddr: String,
    // Whole numbers, written as Go writes a float64 (`22`, not `22.0`).
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    /// The local port.
    pub localport: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The remote (or neighbour) address.
    pub remoteaddr: String,
    // Whole numbers, written as Go writes a float64 (`22`, not `22.0`).
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    /// The remote port.
    pub remoteport: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The network namespace, when namespaces were searched.
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// `tcp`, `udp`, `tcp6`… for connections and listeners.
    pub protocol: String,
    // Whole numbers, written as Go writes a float64 (`22`, not `22.0`).
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        serialize_with = "mig_core::gojson::float64::serialize"
    )]
    /// The process owning the socket.
    pub pid: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// Its command name.
    pub process: String,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Whether a MAC address is one: not empty and not all zeros (loopback's `00:00:00:00:00:00`).
fn has_hardware_address(mac: &str) -> bool {
    mac.split(':')
        .any(|octet| !octet.trim_start_matches('0').is_empty())
}

const FLAGS: &[Flag] = &[
    Flag::multi(
        "lm",
        "<regex>",
        "local MAC address (case-insensitive regex)",
    ),
    Flag::multi("li", "<ip|cidr>", "local IP address or network"),
    Flag::multi(
        "nm",
        "<regex>",
        "neighbour MAC address (case-insensitive regex)",
    ),
    Flag::multi("ni", "<ip|cidr>", "neighbour IP address or network"),
    Flag::multi("ci", "<ip|cidr>", "connected remote IP address or network"),
    Flag::multi("lp", "<port>", "listening port"),
    Flag::bool("namespaces", "search every network namespace"),
];

/// The netstat module.
pub(crate) struct Netstat;

/// What netstat reports, its `elements`: for each kind of question, the answers to each
/// question as asked. MIG always returns the six maps.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Elements {
    /// Answers to `localmac` questions.
    pub localmac: BTreeMap<String, Vec<Element>>,
    /// Answers to `neighbormac` questions.
    pub neighbormac: BTreeMap<String, Vec<Element>>,
    /// Answers to `localip` questions.
    pub localip: BTreeMap<String, Vec<Element>>,
    /// Answers to `neighborip` questions.
    pub neighborip: BTreeMap<String, Vec<Element>>,
    /// Answers to `connectedip` questions.
    pub connectedip: BTreeMap<String, Vec<Element>>,
    /// Answers to `listeningport` questions.
    pub listeningport: BTreeMap<String, Vec<Element>>,
}

impl Elements {
    /// Each kind with its answers, in the order MIG's JSON object lists them (by name).
    fn by_kind(&self) -> [(&'static str, &BTreeMap<String, Vec<Element>>); 6] {
        [
            ("connectedip", &self.connectedip),
            ("listeningport", &self.listeningport),
            ("localip", &self.localip),
            ("localmac", &self.localmac),
            ("neighborip", &self.neighborip),
            ("neighbormac", &self.neighbormac),
        ]
    }
}

/// netstat's `statistics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Statistics {
    /// How many answers were found.
    pub totalhits: usize,
    /// How long the run took.
    pub exectime: String,
}

/// Parameters checked and compiled once.
pub(crate) struct Compiled {
    namespaces: bool,
    localmac: Vec<(String, regex::Regex)>,
    neighbormac: Vec<(String, regex::Regex)>,
    localip: Vec<(String, IpMatch)>,
    neighborip: Vec<(String, IpMatch)>,
    connectedip: Vec<(String, IpMatch)>,
    listeningport: Vec<(String, u16)>,
}

impl Compiled {
    fn new(p: &Params) -> Result<Compiled, ModuleError> {
        if p.localmac.is_empty()
            && p.localip.is_empty()
            && p.neighbormac.is_empty()
            && p.neighborip.is_empty()
            && p.connectedip.is_empty()
            && p.listeningport.is_empty()
        {
            // MIG accepted a netstat that asks nothing (`-namespaces` alone) and found nothing.
            return Err(ModuleError::Request(
                "expected at least one of localmac, localip, neighbormac, neighborip, connectedip, listeningport (namespaces alone asks nothing: MIG accepted it and found nothing)".into(),
            ));
        }
        let macs =
            |field: &str, v: &[String]| -> Result<Vec<(String, regex::Regex)>, ModuleError> {
                v.iter()
                    .map(|m| {
                        mac_regex(m).map(|r| (m.clone(), r)).map_err(|e| {
                            ModuleError::invalid(field, format!("MAC regex {m:?}: {e}"))
                        })
                    })
                    .collect()
            };
        let ips = |field: &str, v: &[String]| -> Result<Vec<(String, IpMatch)>, ModuleError> {
            v.iter()
                .map(|ip| {
                    IpMatch::parse(ip)
                        .map(|m| (ip.clone(), m))
                        .map_err(|e| ModuleError::invalid(field, e.to_string()))
                })
                .collect()
        };
        Ok(Compiled {
            namespaces: p.namespaces,
            localmac: macs("localmac", &p.localmac)?,
            neighbormac: macs("neighbormac", &p.neighbormac)?,
            localip: ips("localip", &p.localip)?,
            neighborip: ips("neighborip", &p.neighborip)?,
            connectedip: ips("connectedip", &p.connectedip)?,
            listeningport: p
                .listeningport
                .iter()
                .map(|q| parse_port(q).map(|port| (q.clone(), port)))
                .collect::<Result<_, _>>()?,
        })
    }
}

impl Module for Netstat {
    const NAME: &'static str = "netstat";
    const ABOUT: &'static str = "local and neighbour addresses, connections and listening ports";
    // Who owns a socket is in other processes' /proc/PID/fd, which landlock would hide; IPv6
    // neighbours come from the kernel over route netlink.
    const SANDBOX: SandboxNeeds = SandboxNeeds {
        netlink: true,
        ptrace: true,
        ..SandboxNeeds::READ_ONLY
    };
    type Params = Params;
    type Plan = Compiled;
    type Elements = Elements;
    type Statistics = Statistics;
    const FLAGS: &'static [Flag] = FLAGS;

    fn validate(p: &Params) -> Result<Compiled, ModuleError> {
        Compiled::new(p)
    }

    fn run(c: &Compiled, ctx: &Context) -> Result<Report<Elements, Statistics>, ModuleError> {
        let start = Instant::now();
        let mut hits = Hits::new();
        let mut errors = Vec::new();
        let namespaces = if c.namespaces {
            let all = net::namespaces();
            // Without the list, the agent's own namespace is still searched.
            gathered(all, "network namespaces", &mut errors)
                .unwrap_or_else(|| vec![Namespace::own()])
        } else {
            vec![Namespace::own()]
        };
        let needs_sockets = !c.connectedip.is_empty() || !c.listeningport.is_empty();
        let owners: HashMap<u64, Owner> = if needs_sockets {
            // Without owners, sockets are still listed, without their process.
            gathered(
                net::socket_owners(),
                "the processes owning sockets",
                &mut errors,
            )
            .unwrap_or_default()
        } else {
            HashMap::new()
        };
        let mut report = |r: std::io::Result<()>| {
            if let Err(e) = r {
                errors.push(e.to_string());
            }
        };
        report(local_macs(c, &mut hits));
        for ns in &namespaces {
            if ctx.check().is_err() {
                report(Err(std::io::Error::other(
                    "netstat stopped early: the module ran out of time",
                )));
                break;
            }
            // Elements name their namespace only when namespaces were asked for.
            let ns_name = if c.namespaces { ns.id.as_str() } else { "" };
            report(local_ips(c, ns, ns_name, c.namespaces, &mut hits));
            report(neighbours(c, ns, ns_name, &mut hits));
            if needs_sockets {
                report(sockets(c, ns, ns_name, &owners, &mut hits));
            }
        }
        let mut take = |kind: &str| hits.remove(kind).unwrap_or_default();
        let elements = Elements {
            localmac: take("localmac"),
            neighbormac: take("neighbormac"),
            localip: take("localip"),
            neighborip: take("neighborip"),
            connectedip: take("connectedip"),
            listeningport: take("listeningport"),
        };
        let total: usize = elements
            .by_kind()
            .iter()
            .flat_map(|(_, answers)| answers.values())
            .map(Vec::len)
            .sum();
        Ok(Report {
            foundanything: total > 0,
            elements,
            statistics: Statistics {
                totalhits: total,
                exectime: gofmt::duration(start.elapsed()),
            },
            errors,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Params, ModuleError> {
        let f = flags::parse(FLAGS, args)?;
        f.no_positional()?;
        Ok(Params {
            localmac: f.all("lm"),
            localip: f.all("li"),
            neighbormac: f.all("nm"),
            neighborip: f.all("ni"),
            connectedip: f.all("ci"),
            listeningport: f.all("lp"),
            namespaces: f.bool("namespaces").unwrap_or(false),
        })
    }

    fn pretty(report: &Report<Elements, Statistics>, found_only: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for (kind, queries) in report.elements.by_kind() {
            for (query, hits) in queries {
                if hits.is_empty() && !found_only {
                    lines.push(format!("no {kind} matches {query}"));
                }
                for h in hits {
                    let ns = if h.namespace.is_empty() {
                        String::new()
                    } else {
                        format!(" in namespace {}", h.namespace)
                    };
                    let who = if h.pid > 0.0 {
                        format!(" by {} (pid {})", h.process, h.pid)
                    } else {
                        String::new()
                    };
                    lines.push(match kind {
                        "localmac" => format!("found local mac {} ({}) for netstat localmac:'{query}'{ns}", h.localmacaddr, h.localaddr),
                        "localip" => format!("found local ip {} for netstat localip:'{query}'{ns}", h.localaddr),
                        "neighbormac" => format!("found neighbor mac {} with ip {} for netstat neighbormac:'{query}'{ns}", h.remotemacaddr, h.remoteaddr),
                        "neighborip" => format!("found neighbor ip {} with mac {} for netstat neighborip:'{query}'{ns}", h.remoteaddr, h.remotemacaddr),
                        "connectedip" => format!(
                            "found connected {} {}:{} -> {}:{}{who} for netstat connectedip:'{query}'{ns}",
                            h.protocol, h.localaddr, h.localport, h.remoteaddr, h.remoteport
                        ),
                        _ => format!("found listening {} {}:{}{who} for netstat listeningport:'{query}'{ns}", h.protocol, h.localaddr, h.localport),
                    });
                }
            }
        }
        if !found_only {
            lines.extend(report.errors.iter().cloned());
        }
        lines
    }
}

fn mac_regex(s: &str) -> Result<regex::Regex, String> {
    RegexBuilder::new(s)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

fn parse_port(s: &str) -> Result<u16, ModuleError> {
    s.trim().parse::<u16>().map_err(|_| {
        ModuleError::invalid(
            "listeningport",
            format!("{s:?} is not a port number (0-65535)"),
        )
    })
}

/// What was found, by question kind (`localmac`…), then by the question as asked.
type Hits = BTreeMap<&'static str, BTreeMap<String, Vec<Element>>>;

/// What was gathered over every process. Its failures go to `errors` as one line saying that
/// `what` cannot all be told, with the first failure and how many more processes failed.
/// `None`, with the error, when nothing could be gathered (/proc cannot be listed).
fn gathered<T>(r: std::io::Result<Gathered<T>>, what: &str, errors: &mut Vec<String>) -> Option<T> {
    match r {
        Ok(g) => {
            if let Some(first) = g.errors.first() {
                let more = match g.errors.len() - 1 {
                    0 => String::new(),
                    n => format!(" (and {n} more processes)"),
                };
                errors.push(format!("{what} cannot all be told: {first}{more}"));
            }
            Some(g.value)
        }
        Err(e) => {
            errors.push(format!("{what} cannot all be told: {e}"));
            None
        }
    }
}

/// The list of answers to `query` of `kind`.
fn answers<'a>(hits: &'a mut Hits, kind: &'static str, query: &str) -> &'a mut Vec<Element> {
    hits.entry(kind)
        .or_default()
        .entry(query.to_string())
        .or_default()
}

/// `localmac`: the machine's interfaces whose MAC matches, with each of their addresses (in
/// the agent's own namespace: MACs are not read elsewhere).
fn local_macs(c: &Compiled, hits: &mut Hits) -> std::io::Result<()> {
    if c.localmac.is_empty() {
        return Ok(());
    }
    let ifaces = net::interfaces()?;
    let addrs = net::local_addresses(&Namespace::own())?;
    for (query, re) in &c.localmac {
        let found = answers(hits, "localmac", query);
        // Go (and so MIG) sees no hardware address on an interface whose address is all
        // zeros (loopback): it is not a MAC to match.
        for i in ifaces
            .iter()
            .filter(|i| has_hardware_address(&i.mac) && re.is_match(&i.mac))
        {
            let mut with_address = addrs.iter().filter(|a| a.interface == i.name).peekable();
            if with_address.peek().is_none() {
                found.push(Element {
                    localmacaddr: i.mac.clone(),
                    ..Default::default()
                });
            }
            for a in with_address {
                found.push(Element {
                    localmacaddr: i.mac.clone(),
                    localaddr: a.addr.to_string(),
                    ..Default::default()
                });
            }
        }
    }
    Ok(())
}

/// `localip`: the namespace's addresses in the ranges asked for, with their interface's MAC
/// when it can be told (the agent's own namespace).
fn local_ips(
    c: &Compiled,
    ns: &Namespace,
    ns_name: &str,
    named: bool,
    hits: &mut Hits,
) -> std::io::Result<()> {
    if c.localip.is_empty() {
        return Ok(());
    }
    let macs: HashMap<String, String> = net::interfaces()?
        .into_iter()
        .map(|i| (i.name, i.mac))
        .collect();
    let addrs = net::local_addresses(ns)?;
    for (query, m) in &c.localip {
        let found = answers(hits, "localip", query);
        for a in addrs.iter().filter(|a| m.contains(&a.addr)) {
            found.push(Element {
                localaddr: a.addr.to_string(),
                localmacaddr: if ns.id.is_empty() || !named {
                    macs.get(&a.interface).cloned().unwrap_or_default()
                } else {
                    String::new()
                },
                namespace: ns_name.to_string(),
                ..Default::default()
            });
        }
    }
    Ok(())
}

/// `neighbormac` and `neighborip`: the namespace's ARP and IPv6 neighbours that match.
fn neighbours(c: &Compiled, ns: &Namespace, ns_name: &str, hits: &mut Hits) -> std::io::Result<()> {
    if c.neighbormac.is_empty() && c.neighborip.is_empty() {
        return Ok(());
    }
    let neighbors = net::neighbors(ns)?;
    let element = |n: &net::Neighbor| Element {
        remotemacaddr: n.mac.clone(),
        remoteaddr: n.addr.to_string(),
        namespace: ns_name.to_string(),
        ..Default::default()
    };
    for (query, re) in &c.neighbormac {
        answers(hits, "neighbormac", query).extend(
            neighbors
                .iter()
                .filter(|n| re.is_match(&n.mac))
                .map(element),
        );
    }
    for (query, m) in &c.neighborip {
        answers(hits, "neighborip", query).extend(
            neighbors
                .iter()
                .filter(|n| m.contains(&n.addr))
                .map(element),
        );
    }
    Ok(())
}

/// `connectedip` and `listeningport`: the namespace's sockets that match, with the process
/// that owns each (from every process's open descriptors).
fn sockets(
    c: &Compiled,
    ns: &Namespace,
    ns_name: &str,
    owners: &HashMap<u64, Owner>,
    hits: &mut Hits,
) -> std::io::Result<()> {
    let sockets = net::sockets(ns)?;
    let element = |s: &net::Socket| {
        let owner = owners.get(&s.inode);
        let connected = s.is_connected();
        Element {
            localaddr: s.local.to_string(),
            localport: s.local_port as f64,
            remoteaddr: if connected {
                s.remote.to_string()
            } else {
                String::new()
            },
            remoteport: if connected { s.remote_port as f64 } else { 0.0 },
            namespace: ns_name.to_string(),
            protocol: s.proto.name().to_string(),
            pid: owner.map_or(0.0, |o| o.pid as f64),
            process: owner.map(|o| o.name.clone()).unwrap_or_default(),
            ..Default::default()
        }
    };
    for (query, m) in &c.connectedip {
        answers(hits, "connectedip", query).extend(
            sockets
                .iter()
                .filter(|s| s.is_connected() && m.contains(&s.remote))
                .map(element),
        );
    }
    for (query, port) in &c.listeningport {
        answers(hits, "listeningport", query).extend(
            sockets
                .iter()
                .filter(|s| s.is_listening() && s.local_port == *port)
                .map(element),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;
    use serde_json::json;

    #[test]
    fn finds_a_listening_port_and_its_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = lookup("netstat").unwrap().run_json(
            &json!({"listeningport": [port.to_string()]}),
            &Context::default(),
        );
        assert!(r.success, "{:?}", r.errors);
        assert!(r.foundanything);
        let hit = &r.elements["listeningport"][port.to_string()][0];
        assert_eq!(hit["localaddr"], "127.0.0.1");
        assert_eq!(hit["pid"], std::process::id() as f64);
        assert_eq!(hit["protocol"], "tcp");
        // Ports and pids are written as Go writes whole float64s.
        let text = serde_json::to_string(hit).unwrap();
        assert!(text.contains(&format!("\"localport\":{port},")), "{text}");
        assert!(
            text.contains(&format!("\"pid\":{},", std::process::id())),
            "{text}"
        );
    }

    #[test]
    fn finds_a_connection_by_cidr() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let r = lookup("netstat").unwrap().run_json(
            &json!({"connectedip": ["127.0.0.0/8"]}),
            &Context::default(),
        );
        let hits = r.elements["connectedip"]["127.0.0.0/8"].as_array().unwrap();
        assert!(
            hits.iter().any(|h| h["remoteport"] == port as f64),
            "{hits:?}"
        );
    }

    #[test]
    fn local_ip_and_mac() {
        let r = lookup("netstat").unwrap().run_json(
            &json!({"localip": ["127.0.0.1"], "localmac": ["^00:00:00:00:00:00$"]}),
            &Context::default(),
        );
        assert!(r.foundanything);
        assert_eq!(
            r.elements["localip"]["127.0.0.1"][0]["localaddr"],
            "127.0.0.1"
        );
        // As in MIG (Go sees no hardware address there), loopback's zeros are not a MAC.
        assert_eq!(
            r.elements["localmac"]["^00:00:00:00:00:00$"],
            json!([]),
            "loopback's MAC"
        );
        assert!(!has_hardware_address("00:00:00:00:00:00") && !has_hardware_address(""));
        assert!(has_hardware_address("02:42:ac:11:00:02"));
        for k in ["neighbormac", "neighborip", "connectedip", "listeningport"] {
            assert!(r.elements[k].is_object(), "{k} is always present");
        }
    }

    #[test]
    fn invalid_parameters_are_named() {
        let m = lookup("netstat").unwrap();
        for (p, want) in [
            (json!({}), "at least one"),
            (json!({"localip": ["10.0.0.0/40"]}), "localip"),
            (json!({"connectedip": ["host.example"]}), "connectedip"),
            (json!({"listeningport": ["70000"]}), "listeningport"),
            (json!({"localmac": ["("]}), "MAC regex"),
        ] {
            let r = m.run_json(&p, &Context::default());
            assert!(!r.success);
            assert!(r.errors[0].contains(want), "{want}: {:?}", r.errors);
        }
    }

    #[test]
    fn processes_that_cannot_be_read_are_reported_in_one_line() {
        let refused = |pid: u32| {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("/proc/{pid}/fd: permission denied"),
            )
        };
        let mut errors = Vec::new();
        let all = Gathered {
            value: 7,
            errors: vec![refused(1), refused(2), refused(3)],
        };
        assert_eq!(gathered(Ok(all), "owners", &mut errors), Some(7));
        let clean = Gathered {
            value: 8,
            errors: Vec::new(),
        };
        assert_eq!(gathered(Ok(clean), "owners", &mut errors), Some(8));
        let none = gathered::<u8>(Err(refused(4)), "owners", &mut errors);
        assert_eq!(none, None);
        assert_eq!(
            errors,
            [
                "owners cannot all be told: /proc/1/fd: permission denied (and 2 more processes)",
                "owners cannot all be told: /proc/4/fd: permission denied",
            ]
        );
    }

    #[test]
    fn flags_are_migs() {
        let p = Netstat::parse_flags(&[
            "-lp".into(),
            "22".into(),
            "-ci".into(),
            "10.0.0.0/8".into(),
            "-namespaces".into(),
        ])
        .unwrap();
        assert_eq!(p.listeningport, vec!["22"]);
        assert_eq!(p.connectedip, vec!["10.0.0.0/8"]);
        assert!(p.namespaces);
    }
}
