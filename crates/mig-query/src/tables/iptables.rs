//! iptables: the firewall rules netfilter restores at boot, parsed from the saved state
//! (iptables-save format: /etc/iptables/rules.v4 and rules.v6 on Debian and Ubuntu,
//! /etc/sysconfig/iptables and ip6tables on RHEL).
//!
//! osquery asks the kernel through libiptc. That needs CAP_NET_ADMIN and an AF_INET socket,
//! both of which the agent's sandbox refuses to a read-only module, and shows nothing on
//! hosts whose rules live in nftables; see docs/modules/query.md.

use super::super::row::table_row;
use super::super::schema::*;
use std::collections::HashMap;

pub(crate) const SAVED_RULES: &[&str] = &[
    "/etc/iptables/rules.v4",
    "/etc/iptables/rules.v6",
    "/etc/sysconfig/iptables",
    "/etc/sysconfig/ip6tables",
    "/etc/iptables/iptables.rules",
    "/etc/iptables/ip6tables.rules",
];

table_row! {
    /// One rule of a saved iptables chain.
    struct RuleRow {
        filter_name: text = "Packet matching filter table name.",
        chain: text = "Name of the chain the rule is in.",
        policy: text = "Policy that applies for this rule.",
        target: text = "Target that applies for this rule.",
        protocol: integer = "Protocol number identification.",
        src_port: text = "Protocol source port(s).",
        dst_port: text = "Protocol destination port(s).",
        src_ip: text = "Source IP address.",
        src_mask: text = "Source IP address mask.",
        iniface: text = "Input interface for the rule.",
        iniface_mask: text = "Input interface mask for the rule.",
        dst_ip: text = "Destination IP address.",
        dst_mask: text = "Destination IP address mask.",
        outiface: text = "Output interface for the rule.",
        outiface_mask: text = "Output interface mask for the rule.",
        r#match: text = "Matching rule that applies.",
        packets: integer = "Number of matching packets for this rule.",
        bytes: integer = "Number of matching bytes for this rule.",
        source: text = "The saved rules file this rule was read from (not in osquery).",
    }
}

pub(crate) static IPTABLES: Table = Table {
    name: "iptables",
    about: "Linux IP packet filtering rules, from netfilter's saved state (iptables-save format).",
    columns: RuleRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_iptables,
    reach: Reach::Host,
    example: "SELECT chain, target, protocol, dst_port, src_ip FROM iptables WHERE filter_name = 'filter'",
};

fn protocol_number(p: &str) -> i64 {
    match p.to_ascii_lowercase().as_str() {
        "all" | "" => 0,
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "icmpv6" | "ipv6-icmp" => 58,
        "sctp" => 132,
        "udplite" => 136,
        other => other.parse().unwrap_or(-1),
    }
}

/// `10.0.0.0/8` → (`10.0.0.0`, `255.0.0.0`); a bare address gets the host mask.
fn address_and_mask(a: &str, v6: bool) -> (String, String) {
    let (ip, len) = match a.split_once('/') {
        Some((ip, m)) if m.contains('.') || m.contains(':') => {
            return (ip.to_string(), m.to_string())
        }
        Some((ip, m)) => (ip, m.parse().unwrap_or(if v6 { 128 } else { 32 })),
        None => (a, if v6 { 128 } else { 32 }),
    };
    (ip.to_string(), super::network::netmask(!v6, len))
}

/// An interface's mask as libiptc keeps it: 0xFF for each byte compared (`+` is a wildcard).
fn iface_mask(name: &str) -> String {
    let n = match name.strip_suffix('+') {
        Some(prefix) => prefix.len(),
        None => name.len() + 1,
    };
    "FF".repeat(n)
}

/// Rows of one file in iptables-save format.
fn parse_saved(text: &str, source: &str, v6: bool) -> Vec<RuleRow> {
    let any = if v6 { "::" } else { "0.0.0.0" };
    let mut table = String::new();
    let mut policies: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_string();
            policies.clear();
            continue;
        }
        if let Some(chain) = line.strip_prefix(':') {
            let mut f = chain.split_whitespace();
            if let (Some(name), Some(policy)) = (f.next(), f.next()) {
                policies.insert(
                    name.to_string(),
                    if policy == "-" {
                        String::new()
                    } else {
                        policy.to_string()
                    },
                );
            }
            continue;
        }
        // `[packets:bytes] -A …` when saved with counters.
        let (counters, rule) = match line.strip_prefix('[').and_then(|l| l.split_once(']')) {
            Some((c, rest)) => (Some(c.to_string()), rest.trim()),
            None => (None, line),
        };
        let w = mig_core::words::split(rule, mig_core::words::Quotes::StripDouble);
        if w.first().map(String::as_str) != Some("-A") || w.len() < 2 {
            continue;
        }
        let chain = w[1].clone();
        let (mut target, mut proto) = (String::new(), 0i64);
        let (mut src, mut dst) = (
            (any.to_string(), any.to_string()),
            (any.to_string(), any.to_string()),
        );
        let (mut inif, mut outif) = (String::new(), String::new());
        let (mut sport, mut dport) = (String::new(), String::new());
        let mut matches: Vec<String> = Vec::new();
        let mut k = 2;
        while k < w.len() {
            let value = w.get(k + 1).cloned().unwrap_or_default();
            let mut used = 2;
            match w[k].as_str() {
                "!" => used = 1,
                "-p" | "--protocol" => proto = protocol_number(&value),
                "-s" | "--source" | "--src" => src = address_and_mask(&value, v6),
                "-d" | "--destination" | "--dst" => dst = address_and_mask(&value, v6),
                "-i" | "--in-interface" => inif = value,
                "-o" | "--out-interface" => outif = value,
                "-j" | "--jump" | "-g" | "--goto" => target = value,
                "-m" | "--match" => matches.push(value),
                "--sport" | "--source-port" | "--sports" | "--source-ports" => sport = value,
                "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                    dport = value
                }
                _ => used = 1,
            }
            k += used;
        }
        // Read as 32-bit numbers (INTEGER columns): a counter past i32::MAX reads as 0.
        let count = |n: &str| n.parse::<i32>().map_or(0, i64::from);
        let (packets, bytes) = counters
            .as_deref()
            .and_then(|c| c.split_once(':'))
            .map_or((0, 0), |(p, b)| (count(p), count(b)));
        // An interface and its mask; no interface matches all of them.
        let iface = |i: String| {
            if i.is_empty() {
                ("all".to_string(), String::new())
            } else {
                let mask = iface_mask(&i);
                (i, mask)
            }
        };
        let ((iniface, iniface_mask), (outiface, outiface_mask)) = (iface(inif), iface(outif));
        let policy = policies.get(&chain).cloned().unwrap_or_default();
        rows.push(RuleRow {
            filter_name: table.clone(),
            chain,
            policy,
            target,
            protocol: proto,
            src_port: sport,
            dst_port: dport,
            src_ip: src.0,
            src_mask: src.1,
            iniface,
            iniface_mask,
            dst_ip: dst.0,
            dst_mask: dst.1,
            outiface,
            outiface_mask,
            r#match: matches.join(","),
            packets,
            bytes,
            source: source.to_string(),
        });
    }
    rows
}

fn gen_iptables(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for path in SAVED_RULES {
        if let Ok(text) = std::fs::read_to_string(path) {
            let v6 = path.contains("6");
            rows.extend(parse_saved(&text, path, v6));
        }
    }
    Ok(VecRows::boxed(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_rules() {
        let r = parse_saved(
            "# Generated by iptables-save\n*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:mine - [0:0]\n[10:600] -A INPUT -s 10.0.0.0/8 -i eth0 -p tcp -m tcp --dport 22 -m comment --comment \"ssh from lan\" -j ACCEPT\n-A mine ! -d 192.0.2.1/32 -o wg+ -j DROP\nCOMMIT\n",
            "/etc/iptables/rules.v4",
            false,
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].filter_name, "filter");
        assert_eq!(r[0].chain, "INPUT");
        assert_eq!(r[0].policy, "DROP");
        assert_eq!(r[0].target, "ACCEPT");
        assert_eq!(r[0].protocol, 6);
        assert_eq!(r[0].dst_port, "22");
        assert_eq!(
            (r[0].src_ip.as_str(), r[0].src_mask.as_str()),
            ("10.0.0.0", "255.0.0.0")
        );
        assert_eq!(r[0].iniface, "eth0");
        assert_eq!(r[0].outiface, "all");
        assert_eq!(r[0].outiface_mask, "");
        assert_eq!(r[0].r#match, "tcp,comment");
        assert_eq!((r[0].packets, r[0].bytes), (10, 600));
        assert_eq!(r[0].source, "/etc/iptables/rules.v4");
        assert_eq!(r[1].policy, "", "user chains have no policy");
        assert_eq!(r[1].dst_ip, "192.0.2.1");
        assert_eq!(r[1].outiface, "wg+");
        assert_eq!(r[1].outiface_mask, "FFFF");
    }
}
