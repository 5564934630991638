//! The network configuration: interface_addresses, interface_details, routes, arp_cache,
//! etc_hosts, dns_resolvers. The agent's own network namespace.

use super::super::row::table_row;
use super::super::schema::*;
use mig_host::net::{self, Namespace};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A prefix length as a netmask: `255.255.255.0`, `ffff:ffff:ffff:ffff::`.
pub(crate) fn netmask(v4: bool, prefix: u8) -> String {
    if v4 {
        let m = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix.min(32))
        };
        Ipv4Addr::from(m).to_string()
    } else {
        let m = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix.min(128))
        };
        Ipv6Addr::from(m).to_string()
    }
}

const IFF_BROADCAST: u32 = 0x2;
const IFF_POINTOPOINT: u32 = 0x10;

table_row! {
    /// One address of a network interface.
    struct AddressRow {
        interface: text = "Interface name",
        address: text = "Specific address for interface",
        mask: text = "Interface netmask",
        broadcast: text = "Broadcast address for the interface",
        point_to_point: text = "PtP address for the interface",
        r#type: text = "Type of address. One of dhcp, manual, auto, other",
    }
    absent {
        friendly_name: text = "The friendly display name of the interface.",
    }
}

pub(crate) static INTERFACE_ADDRESSES: Table = Table {
    name: "interface_addresses",
    about: "Network interfaces and relevant metadata.",
    columns: AddressRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_addresses,
    reach: Reach::Host,
    example: "SELECT interface, address, mask FROM interface_addresses WHERE interface != 'lo'",
};

fn gen_addresses(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let flags: std::collections::HashMap<String, u32> = net::interfaces()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|i| (i.name, i.flags))
        .collect();
    let rows = net::local_addresses(&Namespace::own())
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|a| {
            let f = flags.get(&a.interface).copied().unwrap_or(0);
            let broadcast = match a.addr {
                IpAddr::V4(ip) if f & IFF_BROADCAST != 0 && a.prefix < 31 => {
                    let host = u32::MAX >> a.prefix.min(32);
                    Ipv4Addr::from(u32::from(ip) | host).to_string()
                }
                _ => String::new(),
            };
            let kind = match a.addr {
                IpAddr::V6(ip) if (ip.segments()[0] & 0xffc0) == 0xfe80 => "auto",
                _ => "unknown",
            };
            AddressRow {
                interface: a.interface,
                address: a.addr.to_string(),
                mask: netmask(a.addr.is_ipv4(), a.prefix),
                broadcast,
                point_to_point: if f & IFF_POINTOPOINT != 0 {
                    a.addr.to_string()
                } else {
                    String::new()
                },
                r#type: kind.to_string(),
            }
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One network interface.
    struct InterfaceRow {
        interface: text = "Interface name",
        mac: text = "MAC of interface (optional)",
        r#type: integer = "Interface type (includes virtual)",
        mtu: integer = "Network MTU",
        metric: integer = "Metric based on the speed of the interface",
        flags: integer = "Flags (netdevice) for the device",
        ipackets: bigint = "Input packets",
        opackets: bigint = "Output packets",
        ibytes: bigint = "Input bytes",
        obytes: bigint = "Output bytes",
        ierrors: bigint = "Input errors",
        oerrors: bigint = "Output errors",
        idrops: bigint = "Input drops",
        odrops: bigint = "Output drops",
        collisions: bigint = "Packet Collisions detected",
        last_change: bigint = "Time of last device modification (optional)",
        link_speed: bigint = "Interface speed in Mb/s",
        pci_slot: text = "PCI slot number",
    }
    absent {
        friendly_name: text = "The friendly display name of the interface.",
        description: text = "Short description of the object a one-line string.",
        manufacturer: text = "Name of the network adapter's manufacturer.",
        connection_id: text = "Name of the network connection as it appears in the Network Connections Control Panel program.",
        connection_status: text = "State of the network adapter connection to the network.",
        enabled: integer = "Indicates whether the adapter is enabled or not.",
        physical_adapter: integer = "Indicates whether the adapter is a physical or a logical adapter.",
        speed: integer = "Estimate of the current bandwidth in bits per second.",
        service: text = "The name of the service the network adapter uses.",
        dhcp_enabled: integer = "If TRUE, the dynamic host configuration protocol (DHCP) server automatically assigns an IP address to the computer system when establishing a network connection.",
        dhcp_lease_expires: text = "Expiration date and time for a leased IP address that was assigned to the computer by the dynamic host configuration protocol (DHCP) server.",
        dhcp_lease_obtained: text = "Date and time the lease was obtained for the IP address assigned to the computer by the dynamic host configuration protocol (DHCP) server.",
        dhcp_server: text = "IP address of the dynamic host configuration protocol (DHCP) server.",
        dns_domain: text = "Organization name followed by a period and an extension that indicates the type of organization, such as 'microsoft.com'.",
        dns_domain_suffix_search_order: text = "Array of DNS domain suffixes to be appended to the end of host names during name resolution.",
        dns_host_name: text = "Host name used to identify the local computer for authentication by some utilities.",
        dns_server_search_order: text = "Array of server IP addresses to be used in querying for DNS servers.",
    }
}

pub(crate) static INTERFACE_DETAILS: Table = Table {
    name: "interface_details",
    about: "Detailed information and stats of network interfaces.",
    columns: InterfaceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_details,
    reach: Reach::Host,
    example: "SELECT interface, mac, mtu, ibytes, obytes FROM interface_details",
};

fn gen_details(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows = net::interfaces()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|iface| {
            let dir = format!("/sys/class/net/{}", iface.name);
            let num = |f: &str| -> i64 {
                std::fs::read_to_string(format!("{dir}/{f}"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0)
            };
            let stat = |f: &str| num(&format!("statistics/{f}"));
            let pci_slot = std::fs::read_to_string(format!("{dir}/device/uevent"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("PCI_SLOT_NAME=").map(str::to_string))
                .unwrap_or_default();
            InterfaceRow {
                interface: iface.name,
                mac: iface.mac,
                r#type: num("type"),
                mtu: iface.mtu.into(),
                metric: 0,
                flags: iface.flags.into(),
                ipackets: stat("rx_packets"),
                opackets: stat("tx_packets"),
                ibytes: stat("rx_bytes"),
                obytes: stat("tx_bytes"),
                ierrors: stat("rx_errors"),
                oerrors: stat("tx_errors"),
                idrops: stat("rx_dropped"),
                odrops: stat("tx_dropped"),
                collisions: stat("collisions"),
                last_change: -1,
                // Virtual interfaces have no speed (the kernel says -1 or refuses to read).
                link_speed: num("speed").max(0),
                pci_slot,
            }
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One route.
    struct RouteRow {
        destination: text = "Destination IP address",
        netmask: integer = "Netmask length",
        gateway: text = "Route gateway",
        source: text = "Route source",
        flags: integer = "Flags to describe route",
        interface: text = "Route local interface",
        mtu: integer = "Maximum Transmission Unit for the route",
        metric: integer = "Cost of route. Lowest is preferred",
        r#type: text = "Type of route",
        hopcount: integer = "Max hops expected",
    }
}

pub(crate) static ROUTES: Table = Table {
    name: "routes",
    about: "The active route table for the host system (the kernel's main table for IPv4, all IPv6 routes).",
    columns: RouteRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_routes,
    reach: Reach::Host,
    example: "SELECT destination, netmask, gateway, interface FROM routes WHERE destination = '0.0.0.0'",
};

const RTF_GATEWAY: i64 = 0x2;
const RTF_LOCAL: i64 = 0x8000_0000;

/// /proc/net/route: little-endian hex words.
fn parse_ipv4_routes(text: &str) -> Vec<RouteRow> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 11 {
                return None;
            }
            let addr = |h: &str| -> Option<Ipv4Addr> {
                Some(Ipv4Addr::from(
                    u32::from_str_radix(h, 16).ok()?.swap_bytes(),
                ))
            };
            let flags = i64::from_str_radix(f[3], 16).ok()?;
            let mask = addr(f[7])?;
            Some(RouteRow {
                destination: addr(f[1])?.to_string(),
                netmask: i64::from(u32::from(mask).count_ones()),
                gateway: addr(f[2])?.to_string(),
                source: String::new(),
                flags,
                interface: f[0].to_string(),
                mtu: f[8].parse().unwrap_or(0),
                metric: f[6].parse().unwrap_or(0),
                r#type: if flags & RTF_GATEWAY != 0 {
                    "gateway"
                } else {
                    "unicast"
                }
                .to_string(),
                hopcount: 0,
            })
        })
        .collect()
}

/// /proc/net/ipv6_route: destination, prefix, source, prefix, gateway, metric, refs, use,
/// flags, interface.
fn parse_ipv6_routes(text: &str) -> Vec<RouteRow> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let addr = |h: &str| -> Option<Ipv6Addr> {
                Some(Ipv6Addr::from(u128::from_str_radix(h, 16).ok()?))
            };
            let flags = i64::from_str_radix(f[8], 16).ok()?;
            let source = addr(f[2])?;
            Some(RouteRow {
                destination: addr(f[0])?.to_string(),
                netmask: i64::from_str_radix(f[1], 16).ok()?,
                gateway: addr(f[4])?.to_string(),
                source: if source.is_unspecified() {
                    String::new()
                } else {
                    source.to_string()
                },
                flags,
                interface: f[9].to_string(),
                mtu: 0,
                metric: i64::from_str_radix(f[5], 16).unwrap_or(0),
                r#type: if flags & RTF_LOCAL != 0 {
                    "local"
                } else if flags & RTF_GATEWAY != 0 {
                    "gateway"
                } else {
                    "unicast"
                }
                .to_string(),
                hopcount: 0,
            })
        })
        .collect()
}

fn gen_routes(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    // A kernel without IPv6 has no ipv6_route: no IPv6 routes. Any other failure says so.
    let table = |path: &str| mig_host::read_table(Path::new(path)).map_err(|e| e.to_string());
    let mut rows = parse_ipv4_routes(&table("/proc/net/route")?);
    rows.extend(parse_ipv6_routes(&table("/proc/net/ipv6_route")?));
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One neighbour of the address resolution cache.
    struct ArpRow {
        address: text = "IPv4 address target",
        mac: text = "MAC address of broadcasted address",
        interface: text = "Interface of the network for the MAC",
        permanent: text = "1 for true, 0 for false",
    }
}

pub(crate) static ARP_CACHE: Table = Table {
    name: "arp_cache",
    about: "Address resolution cache, both static and dynamic (from ARP, NDP).",
    columns: ArpRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_arp,
    reach: Reach::Host,
    example: "SELECT address, mac, interface FROM arp_cache",
};

fn gen_arp(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        net::neighbors(&Namespace::own())
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|n| ArpRow {
                address: n.addr.to_string(),
                mac: n.mac,
                interface: n.interface,
                permanent: if n.permanent { "1" } else { "0" }.to_string(),
            })
            .collect(),
    ))
}

table_row! {
    /// One line of /etc/hosts.
    struct HostsRow {
        address: text = "IP address mapping",
        hostnames: text = "Raw hosts mapping",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static ETC_HOSTS: Table = Table {
    name: "etc_hosts",
    about: "Line-parsed /etc/hosts.",
    columns: HostsRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_hosts,
    reach: Reach::Host,
    example: "SELECT * FROM etc_hosts WHERE address NOT IN ('127.0.0.1', '::1')",
};

fn parse_hosts(text: &str) -> Vec<HostsRow> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            let mut f = l.split_whitespace();
            let address = f.next()?;
            let names: Vec<&str> = f.collect();
            if names.is_empty() {
                return None;
            }
            Some(HostsRow {
                address: address.to_string(),
                hostnames: names.join(" "),
            })
        })
        .collect()
}

fn gen_hosts(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let text = std::fs::read_to_string("/etc/hosts").map_err(|e| format!("/etc/hosts: {e}"))?;
    Ok(VecRows::boxed(parse_hosts(&text)))
}

table_row! {
    /// One nameserver, search domain or sortlist entry of /etc/resolv.conf.
    struct ResolverRow {
        id: integer = "Address type index or order",
        r#type: text = "Address type: sortlist, nameserver, search",
        address: text = "Resolver IP/IPv6 address",
        netmask: text = "Address (sortlist) netmask length",
        options: bigint = "Resolver options",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static DNS_RESOLVERS: Table = Table {
    name: "dns_resolvers",
    about: "Resolvers used by this host (from /etc/resolv.conf).",
    columns: ResolverRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_resolvers,
    reach: Reach::Host,
    example: "SELECT address FROM dns_resolvers WHERE type = 'nameserver'",
};

/// glibc's `_res.options` after res_init: the defaults (RES_INIT, RES_RECURSE,
/// RES_DEFNAMES, RES_DNSRCH) plus the `options` line.
pub(crate) fn resolver_options(text: &str) -> i64 {
    let mut o: i64 = 0x1 | 0x40 | 0x80 | 0x200;
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("options") else {
            continue;
        };
        for opt in rest.split_whitespace() {
            o |= match opt {
                "debug" => 0x2,
                "use-vc" => 0x8,
                "rotate" => 0x4000,
                "edns0" => 0x0010_0000,
                "single-request" => 0x0020_0000,
                "single-request-reopen" => 0x0040_0000,
                "no-tld-query" => 0x0100_0000,
                "no-reload" => 0x0200_0000,
                "trust-ad" => 0x0400_0000,
                _ => 0,
            };
        }
    }
    o
}

fn parse_resolv_conf(text: &str) -> Vec<ResolverRow> {
    let options = resolver_options(text);
    let mut rows = Vec::new();
    let (mut ns, mut search, mut sort) = (0i64, 0i64, 0i64);
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("").trim();
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => {
                if let Some(a) = f.next() {
                    rows.push(ResolverRow {
                        id: ns,
                        r#type: "nameserver".into(),
                        address: a.into(),
                        netmask: String::new(),
                        options,
                    });
                    ns += 1;
                }
            }
            Some("search") | Some("domain") => {
                for d in f {
                    rows.push(ResolverRow {
                        id: search,
                        r#type: "search".into(),
                        address: d.into(),
                        netmask: String::new(),
                        options,
                    });
                    search += 1;
                }
            }
            Some("sortlist") => {
                for entry in f {
                    let (a, m) = entry.split_once('/').unwrap_or((entry, ""));
                    rows.push(ResolverRow {
                        id: sort,
                        r#type: "sortlist".into(),
                        address: a.into(),
                        netmask: m.into(),
                        options,
                    });
                    sort += 1;
                }
            }
            _ => {}
        }
    }
    rows
}

fn gen_resolvers(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    // No /etc/resolv.conf: no resolvers configured. One that cannot be read is an error.
    let text = mig_host::optional("/etc/resolv.conf", |p| std::fs::read_to_string(p))
        .map_err(|e| e.to_string())?;
    Ok(VecRows::boxed(parse_resolv_conf(&text.unwrap_or_default())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(netmask(true, 24), "255.255.255.0");
        assert_eq!(netmask(true, 0), "0.0.0.0");
        assert_eq!(netmask(false, 64), "ffff:ffff:ffff:ffff::");
    }

    #[test]
    fn route_lines() {
        let r = parse_ipv4_routes("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        assert_eq!(r[0].destination, "0.0.0.0");
        assert_eq!(r[0].gateway, "192.0.2.1");
        assert_eq!(r[0].metric, 100);
        assert_eq!(r[0].r#type, "gateway");
        assert_eq!(r[1].netmask, 24);
        let r6 = parse_ipv6_routes("fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n");
        assert_eq!(r6[0].destination, "fe80::");
        assert_eq!(r6[0].netmask, 64);
        assert_eq!(r6[0].metric, 256);
        assert_eq!(r6[0].interface, "eth0");
    }

    #[test]
    fn hosts_and_resolvers() {
        let h = parse_hosts("127.0.0.1 localhost\n# x\n10.0.0.1 db db.local # primary\n\n");
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].address, "10.0.0.1");
        assert_eq!(h[1].hostnames, "db db.local");
        let r = parse_resolv_conf("nameserver 10.0.0.53\nnameserver ::1\nsearch a.example b.example\noptions rotate\nsortlist 10.0.0.0/255.0.0.0\n");
        assert_eq!(r.len(), 5);
        assert_eq!(r[1].address, "::1");
        assert_eq!((r[3].id, r[3].r#type.as_str()), (1, "search"));
        assert_eq!(r[4].netmask, "255.0.0.0");
        assert_eq!(r[0].options, 705 | 0x4000);
    }
}
