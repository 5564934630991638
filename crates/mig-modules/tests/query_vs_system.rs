//! The query module's tables checked against what the system's own tools say on this
//! machine: ps, getent, ss, dpkg-query, /proc/modules, findmnt, /etc/os-release, stat,
//! sha256sum, uname, find. Where the system changes under our feet (processes, sockets),
//! only what is stable across two looks is compared.

use mig_modules::{lookup, Context};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;

fn query(sql: &str) -> Vec<Vec<Value>> {
    let r = lookup("query")
        .unwrap()
        .run_json(&json!({ "sql": sql }), &Context::default());
    assert!(r.success, "{sql}: {:?}", r.errors);
    assert!(r.errors.is_empty(), "{sql}: {:?}", r.errors);
    serde_json::from_value(r.elements["rows"].clone()).unwrap()
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A tool's standard output; `None` when the tool is not installed (the test says so).
fn tool(cmd: &str, args: &[&str]) -> Option<String> {
    match Command::new(cmd).args(args).output() {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => panic!(
            "{cmd} {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => {
            eprintln!("skipped: {cmd} is not installed");
            None
        }
    }
}

#[test]
fn processes_match_ps() {
    let ps = |()| -> BTreeSet<(String, String, String, String)> {
        tool("ps", &["-e", "-o", "pid=,ppid=,uid=,comm="])
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (pid, ppid, uid) = (f.next()?, f.next()?, f.next()?);
                let comm: Vec<&str> = f.collect();
                Some((pid.into(), ppid.into(), uid.into(), comm.join(" ")))
            })
            .collect()
    };
    if tool("ps", &["-p", "1"]).is_none() {
        return;
    }
    let before = ps(());
    let ours: BTreeSet<(String, String, String, String)> =
        query("SELECT pid, parent, uid, name FROM processes")
            .iter()
            .map(|r| (s(&r[0]), s(&r[1]), s(&r[2]), s(&r[3])))
            .collect();
    let after = ps(());
    let stable: Vec<_> = before.intersection(&after).collect();
    assert!(stable.len() > 3, "ps shows processes: {before:?}");
    for p in stable {
        // ps itself and short-lived children are in one snapshot only; the rest must agree.
        assert!(
            ours.contains(p),
            "ps shows {p:?}, the processes table does not"
        );
    }
    let me = std::process::id();
    let mine = query(&format!(
        "SELECT pid, path, cmdline, on_disk, threads FROM processes WHERE pid = {me}"
    ));
    assert_eq!(mine.len(), 1);
    assert_eq!(
        s(&mine[0][1]),
        std::env::current_exe().unwrap().to_string_lossy()
    );
    assert_eq!(mine[0][3], 1);
}

#[test]
fn users_and_groups_match_getent() {
    let Some(passwd) = tool("getent", &["passwd"]) else {
        return;
    };
    let want: BTreeSet<Vec<String>> = passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 7).then(|| {
                vec![
                    f[0].into(),
                    f[2].into(),
                    f[3].into(),
                    f[5].into(),
                    f[6].into(),
                ]
            })
        })
        .collect();
    let ours: BTreeSet<Vec<String>> =
        query("SELECT username, uid, gid, directory, shell FROM users")
            .iter()
            .map(|r| r.iter().map(s).collect())
            .collect();
    assert_eq!(ours, want);
    let Some(group) = tool("getent", &["group"]) else {
        return;
    };
    let want: BTreeSet<(String, String)> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 4).then(|| (f[0].to_string(), f[2].to_string()))
        })
        .collect();
    let ours: BTreeSet<(String, String)> = query("SELECT groupname, gid FROM groups")
        .iter()
        .map(|r| (s(&r[0]), s(&r[1])))
        .collect();
    assert_eq!(ours, want);
    // `id -G root` lists root's groups, as user_groups does.
    if let Some(ids) = tool("id", &["-G", "root"]) {
        let want: BTreeSet<String> = ids.split_whitespace().map(str::to_string).collect();
        let ours: BTreeSet<String> = query("SELECT gid FROM user_groups WHERE uid = 0")
            .iter()
            .map(|r| s(&r[0]))
            .collect();
        assert_eq!(ours, want);
    }
}

/// (port, pid) of TCP listeners, from `ss -ltnpH`.
fn ss_listeners() -> Option<BTreeSet<(String, String)>> {
    let out = tool("ss", &["-ltnpH"])?;
    let mut set = BTreeSet::new();
    for l in out.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let Some(local) = f.get(3) else { continue };
        let port = local.rsplit(':').next().unwrap_or("").to_string();
        for part in l.split("pid=").skip(1) {
            let pid: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
            set.insert((port.clone(), pid));
        }
    }
    Some(set)
}

#[test]
fn listening_ports_match_ss() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let Some(before) = ss_listeners() else {
        return;
    };
    let ours: BTreeSet<(String, String)> =
        query("SELECT port, pid FROM listening_ports WHERE protocol = 6")
            .iter()
            .map(|r| (s(&r[0]), s(&r[1])))
            .collect();
    let after = ss_listeners().unwrap_or_default();
    let stable: BTreeSet<_> = before.intersection(&after).cloned().collect();
    let me = std::process::id().to_string();
    assert!(stable.contains(&(port.clone(), me.clone())), "{stable:?}");
    for l in &stable {
        assert!(
            ours.contains(l),
            "ss shows {l:?}, listening_ports does not: {ours:?}"
        );
    }
    // Other tests of this process open and close sockets meanwhile: only other processes'
    // listeners are checked this way.
    for l in ours.iter().filter(|l| l.1 != me) {
        let seen_by_ss = before.contains(l) || after.contains(l);
        let still_there = std::path::Path::new(&format!("/proc/{}", l.1)).exists();
        assert!(
            seen_by_ss || !still_there,
            "listening_ports shows {l:?}, ss does not"
        );
    }
    // The socket is the test's own: its row names this process.
    let rows = query(&format!(
        "SELECT address, family FROM listening_ports WHERE pid = {me} AND port = {port}"
    ));
    assert_eq!(rows, vec![vec![json!("127.0.0.1"), json!(2)]]);
    drop(listener);
}

/// A listener no process holds (its only descriptor is in flight in a Unix socket's queue,
/// as SCM_RIGHTS leaves it when the sender closed it): osquery lists it with pid -1, and so
/// must this, or the one listener on all interfaces can be the one a query misses.
#[test]
fn a_listener_no_process_holds_is_listed_with_pid_minus_one() {
    let script = "import socket,sys,time\n\
l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen()\n\
a,b=socket.socketpair(socket.AF_UNIX)\n\
socket.send_fds(a,[b'x'],[l.fileno()])\n\
port=l.getsockname()[1]; l.close(); print(port, flush=True)\n\
time.sleep(60)\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let rows = query(&format!(
        "SELECT pid, fd, address FROM listening_ports WHERE port = {port} AND protocol = 6"
    ));
    let owned_by_nobody = query(&format!(
        "SELECT port FROM listening_ports WHERE pid = -1 AND port = {port}"
    ));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(rows, vec![vec![json!(-1), json!(-1), json!("127.0.0.1")]]);
    assert_eq!(owned_by_nobody, vec![vec![json!(port)]]);
}

#[test]
fn open_sockets_and_files_of_this_process() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let me = std::process::id();
    let rows = query(&format!("SELECT remote_port, state, protocol FROM process_open_sockets WHERE pid = {me} AND remote_port = {port}"));
    assert_eq!(
        rows,
        vec![vec![json!(port), json!("ESTABLISHED"), json!(6)]]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held-open");
    let _f = std::fs::File::create(&path).unwrap();
    let rows = query(&format!(
        "SELECT fd FROM process_open_files WHERE pid = {me} AND path = '{}'",
        path.display()
    ));
    assert_eq!(rows.len(), 1);
    let maps = query(&format!(
        "SELECT count(*) FROM process_memory_map WHERE pid = {me} AND path = '{}'",
        std::env::current_exe().unwrap().display()
    ));
    assert!(maps[0][0].as_i64().unwrap() > 0);
}

#[test]
fn deb_packages_match_dpkg_query() {
    if !std::path::Path::new("/var/lib/dpkg/status").exists() {
        eprintln!("skipped: not a dpkg system");
        return;
    }
    let Some(out) = tool(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n",
        ],
    ) else {
        return;
    };
    let want: BTreeSet<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // Installed (ii), or held and installed (hi).
            (f.len() == 4 && f[0].trim().ends_with('i') && f[0].as_bytes().get(1) == Some(&b'i'))
                .then(|| (f[1].into(), f[2].into(), f[3].into()))
        })
        .collect();
    let ours: BTreeSet<(String, String, String)> =
        query("SELECT name, version, arch FROM deb_packages")
            .iter()
            .map(|r| (s(&r[0]), s(&r[1]), s(&r[2])))
            .collect();
    assert!(!want.is_empty());
    assert_eq!(ours, want);
}

#[test]
fn kernel_modules_match_proc_modules() {
    let want: BTreeSet<String> = std::fs::read_to_string("/proc/modules")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    let ours: BTreeSet<String> = query("SELECT name FROM kernel_modules")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(ours, want);
}

/// findmnt's raw output escapes bytes as `\xHH`.
fn unhex(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn mounts_match_findmnt() {
    let Some(out) = tool("findmnt", &["-rn", "-o", "TARGET,FSTYPE"]) else {
        return;
    };
    let want: BTreeSet<(String, String)> = out
        .lines()
        .filter_map(|l| {
            let (t, f) = l.split_once(' ')?;
            Some((unhex(t), f.to_string()))
        })
        .collect();
    let ours: BTreeSet<(String, String)> = query("SELECT path, type FROM mounts")
        .iter()
        .map(|r| (s(&r[0]), s(&r[1])))
        .collect();
    assert_eq!(ours, want);
    let root = query("SELECT blocks, blocks_size FROM mounts WHERE path = '/'");
    assert!(root[0][0].as_i64().unwrap() > 0);
}

#[test]
fn os_version_kernel_and_system_match_the_system() {
    let Some(release) = tool(
        "sh",
        &["-c", ". /etc/os-release && printf '%s\\n%s\\n%s\\n%s\\n' \"$NAME\" \"$ID\" \"$VERSION_CODENAME\" \"${VERSION:-$VERSION_ID}\""],
    ) else {
        return;
    };
    let want: Vec<&str> = release.lines().collect();
    let ours = query("SELECT name, platform, codename, version, major FROM os_version");
    assert_eq!(ours.len(), 1);
    assert_eq!(
        ours[0][..4].iter().map(s).collect::<Vec<_>>(),
        want.iter().map(|w| w.to_string()).collect::<Vec<_>>()
    );
    if let Some(uname) = tool("uname", &["-r"]) {
        let ours = query("SELECT version FROM kernel_info");
        assert_eq!(s(&ours[0][0]), uname.trim());
    }
    if let Some(cpus) = tool("getconf", &["_NPROCESSORS_CONF"]) {
        let ours = query("SELECT cpu_logical_cores, physical_memory, hostname FROM system_info");
        assert_eq!(s(&ours[0][0]), cpus.trim());
        assert!(ours[0][1].as_i64().unwrap() > 0);
    }
    let up: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ours = query(
        "SELECT total_seconds, days * 86400 + hours * 3600 + minutes * 60 + seconds FROM uptime",
    );
    let total = ours[0][0].as_i64().unwrap();
    assert_eq!(ours[0][0], ours[0][1]);
    assert!((total as f64 - up).abs() < 600.0, "{total} vs {up}");
}

#[test]
fn file_and_hash_match_stat_and_the_sum_tools() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, b"the quick brown fox\n").unwrap();
    let p = path.to_string_lossy().to_string();
    let Some(st) = tool("stat", &["-c", "%s %u %g %a %i %h", &p]) else {
        return;
    };
    let ours = query(&format!(
        "SELECT size, uid, gid, mode, inode, hard_links, type, filename, directory FROM file WHERE path = '{p}'"
    ));
    let f: Vec<&str> = st.split_whitespace().collect();
    assert_eq!(s(&ours[0][0]), f[0]);
    assert_eq!(s(&ours[0][1]), f[1]);
    assert_eq!(s(&ours[0][2]), f[2]);
    assert_eq!(s(&ours[0][3]).trim_start_matches('0'), f[3]);
    assert_eq!(s(&ours[0][4]), f[4]);
    assert_eq!(s(&ours[0][5]), f[5]);
    assert_eq!(s(&ours[0][6]), "regular");
    assert_eq!(s(&ours[0][7]), "data.bin");
    assert_eq!(s(&ours[0][8]), dir.path().to_string_lossy());
    for (tool_name, column) in [
        ("md5sum", "md5"),
        ("sha1sum", "sha1"),
        ("sha256sum", "sha256"),
    ] {
        let Some(out) = tool(tool_name, &[&p]) else {
            continue;
        };
        let want = out.split_whitespace().next().unwrap().to_string();
        let ours = query(&format!("SELECT {column} FROM hash WHERE path = '{p}'"));
        assert_eq!(s(&ours[0][0]), want, "{column}");
    }
    // directory = and LIKE select the same files as ls does.
    let listed: BTreeSet<String> = std::fs::read_dir("/etc")
        .unwrap()
        .flatten()
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    let by_dir: BTreeSet<String> = query("SELECT path FROM file WHERE directory = '/etc/'")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(by_dir, listed);
    let by_like: BTreeSet<String> = query("SELECT path FROM file WHERE path LIKE '/etc/%'")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(by_like, listed);
}

#[test]
fn suid_bin_matches_find() {
    let Some(out) = tool(
        "find",
        &["/usr/bin", "-xdev", "-type", "f", "-perm", "/6000"],
    ) else {
        return;
    };
    let want: BTreeSet<String> = out.lines().map(str::to_string).collect();
    let ours: BTreeSet<String> = query("SELECT path FROM suid_bin WHERE path LIKE '/usr/bin/%'")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(ours, want);
}

#[test]
fn network_tables_match_proc_and_etc() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let want = hosts
        .lines()
        .filter(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            l.split_whitespace().count() >= 2
        })
        .count();
    assert_eq!(query("SELECT * FROM etc_hosts").len(), want);
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let want: BTreeSet<String> = resolv
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|a| a.trim().to_string())
        .collect();
    let ours: BTreeSet<String> =
        query("SELECT address FROM dns_resolvers WHERE type = 'nameserver'")
            .iter()
            .map(|r| s(&r[0]))
            .collect();
    assert_eq!(ours, want);
    let addrs: BTreeSet<String> = query("SELECT address FROM interface_addresses")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert!(addrs.contains("127.0.0.1"), "{addrs:?}");
    // IPv4 addresses with their interface and mask, as `ip addr` lists them (the loopback's
    // /8 included: it lives in the local routing table, not the main one).
    let ip = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .expect("ip (iproute2)");
    let want: BTreeSet<String> = String::from_utf8_lossy(&ip.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let at = f.iter().position(|w| *w == "inet")?;
            Some(format!("{} {}", f[1], f.get(at + 1)?))
        })
        .collect();
    let ours: BTreeSet<String> = query(
        "SELECT interface, address, mask FROM interface_addresses WHERE address NOT LIKE '%:%'",
    )
    .iter()
    .map(|r| {
        let mask: std::net::Ipv4Addr = s(&r[2]).parse().unwrap();
        format!("{} {}/{}", s(&r[0]), s(&r[1]), u32::from(mask).count_ones())
    })
    .collect();
    assert_eq!(ours, want);
    let ifaces: BTreeSet<String> = query("SELECT interface FROM interface_details")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    let want: BTreeSet<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ifaces, want);
    let arp: BTreeSet<String> = std::fs::read_to_string("/proc/net/arp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(2) != Some("0x0"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    let ours: BTreeSet<String> =
        query("SELECT address FROM arp_cache WHERE address NOT LIKE '%:%'")
            .iter()
            .map(|r| s(&r[0]))
            .collect();
    assert_eq!(ours, arp);
    if let Some(out) = tool("ip", &["-4", "route", "show", "table", "main"]) {
        let default_gw = out
            .lines()
            .find_map(|l| l.strip_prefix("default via "))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string);
        let ours =
            query("SELECT gateway FROM routes WHERE destination = '0.0.0.0' AND netmask = '0'");
        assert_eq!(ours.first().map(|r| s(&r[0])), default_gw);
    }
}

#[test]
fn system_controls_match_sysctl() {
    // Stable parameters only: counters and random values change between two reads.
    let Some(text) = tool("sysctl", &["-a"]) else {
        return;
    };
    let theirs: std::collections::BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    let ours: std::collections::BTreeMap<String, String> =
        query("SELECT name, current_value FROM system_controls")
            .iter()
            .map(|r| {
                (
                    s(&r[0]),
                    s(&r[1]).split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
    for name in [
        "kernel.ostype",
        "kernel.osrelease",
        "kernel.pid_max",
        "net.ipv4.ip_forward",
        "vm.overcommit_memory",
        "fs.file-max",
    ] {
        assert_eq!(ours.get(name), theirs.get(name), "{name}");
    }
    // Every parameter sysctl lists is a row here (sysctl leaves out what it cannot read).
    let missing: Vec<&String> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "sysctl shows, system_controls does not: {missing:?}"
    );
    // A name constraint reads that one parameter.
    let one =
        query("SELECT subsystem, current_value FROM system_controls WHERE name = 'kernel.ostype'");
    assert_eq!(one, vec![vec![json!("kernel"), json!("Linux")]]);
}

#[test]
fn shadow_matches_getent_without_hashes() {
    let Some(text) = tool("getent", &["shadow"]) else {
        return;
    };
    let theirs: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.first()?.to_string(), f.get(2)?.to_string()))
        })
        .collect();
    let ours: BTreeSet<(String, String)> = query("SELECT username, last_change FROM shadow")
        .iter()
        .map(|r| {
            let change = s(&r[1]);
            (
                s(&r[0]),
                if change == "-1" {
                    String::new()
                } else {
                    change
                },
            )
        })
        .collect();
    assert_eq!(ours, theirs);
    // No column holds a hash.
    let root = query("SELECT * FROM shadow WHERE username = 'root'");
    assert!(
        root.iter().flatten().all(|v| !s(v).contains('$')),
        "{root:?}"
    );
}

#[test]
fn time_memory_load_and_environment_match_the_kernel() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = query("SELECT unix_time, timezone, iso_8601 FROM time");
    let unix = t[0][0].as_i64().unwrap();
    assert!((unix - before).abs() <= 2, "{t:?}");
    assert_eq!(t[0][1], json!("UTC"));
    let total_kb: i64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert_eq!(
        query("SELECT memory_total FROM memory_info"),
        vec![vec![json!(total_kb * 1024)]]
    );
    assert_eq!(
        query("SELECT period FROM load_average"),
        vec![vec![json!("1m")], vec![json!("5m")], vec![json!("15m")]]
    );
    // A child with a known environment.
    let mut child = Command::new("sleep")
        .arg("30")
        .env_clear()
        .env("MIG_QUERY_TEST", "a=b c")
        .spawn()
        .unwrap();
    let rows = query(&format!(
        "SELECT key, value FROM process_envs WHERE pid = {}",
        child.id()
    ));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(rows, vec![vec![json!("MIG_QUERY_TEST"), json!("a=b c")]]);
}

#[test]
fn python_packages_match_importlib_metadata() {
    let site = "/usr/lib/python3/dist-packages";
    if !std::path::Path::new(site).is_dir() {
        eprintln!("skipped: no {site}");
        return;
    }
    let script = format!(
        "import importlib.metadata as m\nfor d in m.distributions(path=['{site}']):\n    print(d.metadata['Name'] + ' ' + d.version)\n"
    );
    let Some(text) = tool("python3", &["-c", &script]) else {
        return;
    };
    let theirs: BTreeSet<String> = text.lines().map(str::to_string).collect();
    let ours: BTreeSet<String> = query(&format!(
        "SELECT name, version FROM python_packages WHERE directory = '{site}'"
    ))
    .iter()
    .map(|r| format!("{} {}", s(&r[0]), s(&r[1])))
    .collect();
    assert_eq!(ours, theirs);
    // Without a directory, the system sites are read, as uid 0.
    let all = query(&format!(
        "SELECT count(*) FROM python_packages WHERE directory = '{site}' AND uid = 0"
    ));
    assert_eq!(
        all[0][0],
        json!(text.lines().count()),
        "one row per distribution"
    );
}

#[test]
fn file_lines_and_parse_json_read_files_as_fleet_does() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    let ours: Vec<String> = query("SELECT line FROM file_lines WHERE path = '/etc/hosts'")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(ours, hosts.lines().map(str::to_string).collect::<Vec<_>>());

    let d = tempfile::tempdir().unwrap();
    let doc = d.path().join("daemon.json");
    std::fs::write(&doc, r#"{"log-driver": "json-file", "log-opts": {"max-size": "10m"}, "hosts": ["unix://", "tcp://0.0.0.0:2375"], "debug": false}"#).unwrap();
    // What Python's json makes of it, flattened the same way.
    let script = format!(
        "import json\ndef f(v,p):\n    if isinstance(v,dict) and v:\n        [f(x,p+[k]) for k,x in v.items()]\n    elif isinstance(v,list) and v:\n        [f(x,p+[str(i)]) for i,x in enumerate(v)]\n    else:\n        print('/'.join(p)+'='+(json.dumps(v) if isinstance(v,bool) else str(v)))\nf(json.load(open('{}')),[])\n",
        doc.display()
    );
    let Some(text) = tool("python3", &["-c", &script]) else {
        return;
    };
    let theirs: BTreeSet<String> = text.lines().map(str::to_string).collect();
    let ours: BTreeSet<String> = query(&format!(
        "SELECT fullkey, value FROM parse_json WHERE path = '{}'",
        doc.display()
    ))
    .iter()
    .map(|r| format!("{}={}", s(&r[0]), s(&r[1])))
    .collect();
    assert_eq!(ours, theirs);
    // A pattern, as osquery's: both files' lines, each under its own path.
    std::fs::write(d.path().join("two.txt"), "x\ny\n").unwrap();
    let counted = query(&format!(
        "SELECT path, count(*) FROM file_lines WHERE path LIKE '{}/%' GROUP BY path",
        d.path().display()
    ));
    assert_eq!(counted.len(), 2, "{counted:?}");
    // Not JSON: the error names the file.
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let r = lookup("query").unwrap().run_json(
        &json!({"sql": format!("SELECT * FROM parse_json WHERE path = '{}'", bad.display())}),
        &Context::default(),
    );
    assert!(!r.success);
    assert!(
        format!("{:?}", r.errors).contains("bad.json: not JSON"),
        "{:?}",
        r.errors
    );
}

/// A tool's standard output; `None`, said, when it is not installed or fails (lsusb fails
/// on a machine without USB, blkid when it finds nothing).
fn optional_tool(cmd: &str, args: &[&str]) -> Option<String> {
    match Command::new(cmd).args(args).output() {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => {
            eprintln!(
                "skipped: {cmd} {args:?} failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(_) => {
            eprintln!("skipped: {cmd} is not installed");
            None
        }
    }
}

/// `KEY="value"` pairs of one line of `lsblk -P` or `blkid -o full` output.
fn pairs(line: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let mut rest = line.trim();
    while let Some((key, after)) = rest.split_once("=\"") {
        let Some((value, tail)) = after.split_once('"') else {
            break;
        };
        out.insert(key.trim().to_string(), value.to_string());
        rest = tail;
    }
    out
}

#[test]
fn block_devices_match_lsblk_and_sysfs() {
    let rows = query("SELECT name, parent, size, block_size, uuid, type FROM block_devices");
    let ours: std::collections::HashMap<String, Vec<Value>> =
        rows.iter().map(|r| (s(&r[0]), r.clone())).collect();
    // Every entry of /sys/class/block is a row.
    let sysfs = std::fs::read_dir("/sys/class/block")
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(rows.len(), sysfs, "{rows:?}");
    let Some(lsblk) = tool("lsblk", &["-b", "-P", "-o", "KNAME,NAME,SIZE,TYPE"]) else {
        return;
    };
    let mut seen = 0;
    for line in lsblk.lines() {
        let f = pairs(line);
        let name = format!("/dev/{}", f["KNAME"]);
        let row = ours
            .get(&name)
            .unwrap_or_else(|| panic!("lsblk shows {name}, block_devices does not: {rows:?}"));
        // sysfs sizes are in 512-byte sectors; lsblk's in bytes.
        assert_eq!(
            row[2].as_i64().map(|n| n * 512),
            f["SIZE"].parse::<i64>().ok(),
            "{name}: {row:?} vs {line}"
        );
        match f["TYPE"].as_str() {
            "disk" | "loop" => assert_eq!(s(&row[1]), "", "{name} has no parent: {row:?}"),
            "part" => assert!(!s(&row[1]).is_empty(), "{name} is a partition: {row:?}"),
            _ => {}
        }
        seen += 1;
        // The name is pushed down: one row, the same.
        let one = query(&format!(
            "SELECT name, parent, size, block_size, uuid, type FROM block_devices WHERE name = '{name}'"
        ));
        assert_eq!(one, vec![row.clone()]);
    }
    assert!(seen > 0 || sysfs == 0, "lsblk listed nothing: {lsblk}");
    // Disks' logical block size, from sysfs.
    for (name, row) in &ours {
        let dev = name.trim_start_matches("/dev/");
        if let Ok(bs) =
            std::fs::read_to_string(format!("/sys/block/{dev}/queue/logical_block_size"))
        {
            assert_eq!(row[3].as_i64(), bs.trim().parse().ok(), "{name}: {row:?}");
        }
    }
    // Filesystems blkid can probe (as root, with the device nodes present): the same UUID and
    // type where both say one.
    let Some(blkid) = optional_tool("blkid", &["-o", "full"]) else {
        return;
    };
    if blkid.trim().is_empty() {
        eprintln!("skipped: blkid probed nothing (not root, or no device nodes)");
    }
    for line in blkid.lines() {
        let Some((dev, rest)) = line.split_once(':') else {
            continue;
        };
        let f = pairs(rest);
        let Some(row) = ours.get(dev) else {
            continue;
        };
        for (col, key) in [(4, "UUID"), (5, "TYPE")] {
            if let Some(theirs) = f.get(key) {
                if !s(&row[col]).is_empty() {
                    assert_eq!(&s(&row[col]), theirs, "{dev} {key}: {row:?} vs {line}");
                }
            }
        }
    }
}

#[test]
fn pci_devices_match_sysfs_and_lspci() {
    let rows = query(
        "SELECT pci_slot, vendor_id, model_id, pci_class_id, pci_subclass_id, driver, \
         subsystem_vendor_id, subsystem_model_id, vendor FROM pci_devices",
    );
    let sysfs = std::fs::read_dir("/sys/bus/pci/devices")
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(rows.len(), sysfs, "{rows:?}");
    // `lspci -D -k -n`: `0000:00:02.0 0180: 1af4:1042 (rev 01)`, then indented Subsystem and
    // Kernel driver lines.
    let Some(lspci) = tool("lspci", &["-D", "-k", "-n"]) else {
        return;
    };
    let mut theirs: Vec<[String; 8]> = Vec::new();
    for line in lspci.lines() {
        if let Some(detail) = line.strip_prefix('\t') {
            let Some(last) = theirs.last_mut() else {
                continue;
            };
            if let Some(ids) = detail.strip_prefix("Subsystem: ") {
                let (v, m) = ids.trim().split_once(':').unwrap();
                last[6] = format!("0x{v}");
                last[7] = format!("0x{m}");
            } else if let Some(driver) = detail.strip_prefix("Kernel driver in use: ") {
                last[5] = driver.trim().to_string();
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let class = f[1].trim_end_matches(':');
        let (v, m) = f[2].split_once(':').unwrap();
        theirs.push([
            f[0].to_string(),
            format!("0x{v}"),
            format!("0x{m}"),
            format!("0x{}", &class[..2]),
            format!("0x{}", &class[2..4]),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    let ours: Vec<[String; 8]> = rows
        .iter()
        .map(|r| std::array::from_fn(|i| s(&r[i])))
        .map(|mut r: [String; 8]| {
            // lspci leaves out a zero subsystem.
            if r[6] == "0x0000" && r[7] == "0x0000" {
                r[6].clear();
                r[7].clear();
            }
            r
        })
        .collect();
    assert_eq!(ours, theirs);
    // Vendor names, where lspci has one from the same pci.ids (else it says `Vendor xxxx`).
    if let Some(named) = tool("lspci", &["-D", "-mm"]) {
        for (line, row) in named.lines().zip(&rows) {
            let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
            let vendor = quoted.get(1).copied().unwrap_or_default();
            if !s(&row[8]).is_empty() && !vendor.starts_with("Vendor ") {
                assert_eq!(s(&row[8]), vendor, "{line}");
            }
        }
    }
}

#[test]
fn usb_devices_match_sysfs_and_lsusb() {
    let rows = query("SELECT usb_address, usb_port, vendor_id, model_id FROM usb_devices");
    // Devices have a bus number; interfaces do not.
    let sysfs = std::fs::read_dir("/sys/bus/usb/devices")
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("busnum").exists())
                .count()
        })
        .unwrap_or(0);
    assert_eq!(rows.len(), sysfs, "{rows:?}");
    if sysfs == 0 {
        eprintln!("note: no USB devices on this machine");
    }
    // `Bus 001 Device 002: ID 0781:5567 SanDisk Corp. Cruzer Blade`
    let Some(lsusb) = optional_tool("lsusb", &[]) else {
        return;
    };
    let theirs: BTreeSet<(i64, i64, String, String)> = lsusb
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (v, m) = f.get(5)?.split_once(':')?;
            Some((
                f.get(1)?.parse().ok()?,
                f.get(3)?.trim_end_matches(':').parse().ok()?,
                v.to_string(),
                m.to_string(),
            ))
        })
        .collect();
    let ours: BTreeSet<(i64, i64, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_i64().unwrap(),
                s(&r[2]),
                s(&r[3]),
            )
        })
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn ssh_configs_osquery_info_and_registry() {
    // Every option line of the system's ssh_config, lowercased, under its block.
    let system = "/etc/ssh/ssh_config";
    if let Ok(text) = std::fs::read_to_string(system) {
        let options: Vec<String> = text
            .lines()
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| !l.starts_with("host ") && !l.starts_with("match "))
            .collect();
        let ours: Vec<String> = query(&format!(
            "SELECT option FROM ssh_configs WHERE uid = 0 AND ssh_config_file = '{system}'"
        ))
        .iter()
        .map(|r| s(&r[0]))
        .collect();
        assert_eq!(ours, options);
    }
    // The process answering is this one (the module runs in-process here).
    let info = query("SELECT pid, version, build_platform FROM osquery_info");
    assert_eq!(info[0][0], json!(std::process::id()));
    assert_eq!(info[0][2], json!("linux"));
    let tables = query("SELECT count(*) FROM osquery_registry WHERE registry = 'table'");
    assert_eq!(tables[0][0], json!(mig_query::all_tables().len()));
}

#[test]
fn kernel_state_matches_getent_sysctl_and_the_shell() {
    let online = tool("getconf", &["_NPROCESSORS_CONF"]).unwrap_or_default();
    if let Ok(n) = online.trim().parse::<usize>() {
        assert_eq!(query("SELECT core FROM cpu_time").len(), n);
    }
    // This process's limits, as its child shell sees them (inherited).
    if let Some(sh) = tool("sh", &["-c", "ulimit -Sn; ulimit -Hn"]) {
        let l: Vec<&str> = sh.lines().collect();
        assert_eq!(
            query("SELECT soft_limit, hard_limit FROM ulimit_info WHERE type = 'nofile'"),
            vec![vec![json!(l[0]), json!(l[1])]]
        );
    }
    // pid 1's namespaces, as its /proc links name them.
    let link = |k: &str| {
        std::fs::read_link(format!("/proc/1/ns/{k}"))
            .map(|l| {
                let l = l.to_string_lossy().into_owned();
                l[l.find('[').unwrap() + 1..l.len() - 1].to_string()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        query("SELECT net_namespace, mnt_namespace FROM process_namespaces WHERE pid = 1"),
        vec![vec![json!(link("net")), json!(link("mnt"))]]
    );
    // /etc/services and /etc/protocols, as the C library reads them.
    if let Some(text) = tool("getent", &["services"]) {
        let theirs: BTreeSet<String> = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some(format!("{} {}", f.first()?, f.get(1)?))
            })
            .collect();
        let ours: BTreeSet<String> = query("SELECT name, port, protocol FROM etc_services")
            .iter()
            .map(|r| format!("{} {}/{}", s(&r[0]), s(&r[1]), s(&r[2])))
            .collect();
        assert_eq!(ours, theirs);
    }
    if let Some(text) = tool("getent", &["protocols"]) {
        let theirs: BTreeSet<String> = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some(format!("{} {}", f.first()?, f.get(1)?))
            })
            .collect();
        let ours: BTreeSet<String> = query("SELECT name, number FROM etc_protocols")
            .iter()
            .map(|r| format!("{} {}", s(&r[0]), s(&r[1])))
            .collect();
        assert_eq!(ours, theirs);
    }
    // IPv6 settings, as sysctl reads them.
    if let Some(fwd) = tool("sysctl", &["-n", "net.ipv6.conf.lo.forwarding"]) {
        assert_eq!(
            query("SELECT forwarding_enabled FROM interface_ipv6 WHERE interface = 'lo'"),
            vec![vec![json!(fwd.trim().parse::<i64>().unwrap())]]
        );
    }
    // Every key /proc/keys shows this process.
    let keys = std::fs::read_to_string("/proc/keys").unwrap_or_default();
    assert_eq!(
        query("SELECT count(*) FROM kernel_keys")[0][0],
        json!(keys.lines().count())
    );
}

#[test]
fn known_hosts_are_every_users_known_hosts_lines() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let mut want = BTreeSet::new();
    let mut homes = BTreeSet::new();
    for l in passwd.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || !homes.insert(f[5].to_string()) {
            continue;
        }
        let path = format!("{}/.ssh/known_hosts", f[5]);
        for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
            if !line.is_empty() && !line.starts_with('#') {
                want.insert(format!("{} {path} {line}", f[2]));
            }
        }
    }
    let ours: BTreeSet<String> = query("SELECT uid, key_file, key FROM known_hosts")
        .iter()
        .map(|r| format!("{} {} {}", s(&r[0]), s(&r[1]), s(&r[2])))
        .collect();
    assert_eq!(ours, want);
}

#[test]
fn shared_memory_matches_ipcs() {
    // A segment of our own, made and removed with util-linux's tools.
    let Some(made) = tool("ipcmk", &["-M", "4096"]) else {
        return;
    };
    let id: i64 = made
        .split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
        .expect("ipcmk prints the new segment's id");
    let rows = query(&format!(
        "SELECT size, attached, permissions, owner_uid FROM shared_memory WHERE shmid = {id}"
    ));
    let listed = tool("ipcs", &["-m"]).unwrap_or_default();
    let _ = Command::new("ipcrm").args(["-m", &id.to_string()]).output();
    let uid = tool("id", &["-u"]).unwrap_or_default();
    assert_eq!(
        rows,
        vec![vec![
            json!(4096),
            json!(0),
            json!("0644"),
            json!(uid.trim().parse::<i64>().unwrap())
        ]]
    );
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&id.to_string())),
        "{listed}"
    );
}

#[test]
fn deb_package_files_match_dpkg_l() {
    let Some(text) = tool("dpkg", &["-L", "bash"]) else {
        return;
    };
    let theirs: Vec<String> = text.lines().map(str::to_string).collect();
    let ours: Vec<String> = query("SELECT path FROM deb_package_files WHERE package = 'bash'")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn acpi_tables_match_md5sum() {
    let dir = std::path::Path::new("/sys/firmware/acpi/tables");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipped: no ACPI tables");
        return;
    };
    let files: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.sort();
    let Some(text) = tool("md5sum", &args) else {
        return;
    };
    let theirs: BTreeSet<String> = text
        .lines()
        .filter_map(|l| {
            let (sum, path) = l.split_once("  ")?;
            Some(format!("{} {sum}", path.rsplit('/').next()?))
        })
        .collect();
    let ours: BTreeSet<String> = query("SELECT name, md5 FROM acpi_tables")
        .iter()
        .filter(|r| !s(&r[1]).is_empty())
        .map(|r| format!("{} {}", s(&r[0]), s(&r[1])))
        .collect();
    assert!(!theirs.is_empty());
    for t in &theirs {
        assert!(ours.contains(t), "md5sum: {t}, acpi_tables: {ours:?}");
    }
}

#[test]
fn extended_attributes_match_pythons_getxattr() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("tagged");
    std::fs::write(&f, "x").unwrap();
    let script = format!(
        "import os\np='{}'\nos.setxattr(p,'user.mig',b'hello world\\0')\nos.setxattr(p,'user.raw',b'\\x01\\x02')\nfor k in os.listxattr(p):\n    print(k, os.getxattr(p,k).hex())\n",
        f.display()
    );
    let out = Command::new("python3").args(["-c", &script]).output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        eprintln!("skipped: this filesystem takes no user extended attributes");
        return;
    };
    let theirs: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        theirs.contains("user.mig 68656c6c6f20776f726c6400"),
        "{theirs:?}"
    );
    let rows = query(&format!(
        "SELECT key, value, base64 FROM extended_attributes WHERE path = '{}'",
        f.display()
    ));
    let ours: BTreeSet<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", s(&r[0]), s(&r[1]), s(&r[2])))
        .collect();
    let want: BTreeSet<String> = [
        "user.mig hello world 0".to_string(),
        "user.raw AQI= 1".to_string(),
    ]
    .into_iter()
    .collect();
    assert_eq!(ours, want);
    assert_eq!(theirs.len(), rows.len());
}

#[test]
fn process_open_pipes_pairs_a_pipeline() {
    let mut writer = Command::new("sleep")
        .arg("30")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = Command::new("sleep")
        .arg("30")
        .stdin(std::process::Stdio::from(writer.stdout.take().unwrap()))
        .spawn()
        .unwrap();
    let inode = std::fs::read_link(format!("/proc/{}/fd/1", writer.id()))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let rows = query(&format!(
        "SELECT fd, mode, inode, type, partner_pid, partner_fd, partner_mode FROM process_open_pipes WHERE pid = {} AND fd = 1",
        writer.id()
    ));
    for c in [&mut writer, &mut reader] {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(
        rows,
        vec![vec![
            json!(1),
            json!("w"),
            json!(inode
                .trim_start_matches("pipe:[")
                .trim_end_matches(']')
                .parse::<i64>()
                .unwrap()),
            json!("anonymous"),
            json!(reader.id()),
            json!(0),
            json!("r"),
        ]]
    );
}

#[test]
fn startup_items_list_init_scripts_and_units() {
    let mut scripts: Vec<String> = std::fs::read_dir("/etc/init.d")
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    scripts.sort();
    let ours: Vec<String> =
        query("SELECT name FROM startup_items WHERE source = '/etc/init.d/' ORDER BY name")
            .iter()
            .map(|r| s(&r[0]))
            .collect();
    assert_eq!(ours, scripts);
    assert_eq!(
        query("SELECT count(*) FROM startup_items WHERE type = 'systemd unit'"),
        query("SELECT count(*) FROM systemd_units")
    );
}

#[test]
fn cpuid_agrees_with_proc_cpuinfo() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let field = |k: &str| {
        cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix(k)?.trim_start().strip_prefix(':'))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let flags: BTreeSet<String> = field("flags")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let value = |f: &str| {
        query(&format!("SELECT value FROM cpuid WHERE feature = '{f}'"))
            .first()
            .map(|r| s(&r[0]))
            .unwrap_or_default()
    };
    assert_eq!(value("vendor"), field("vendor_id"));
    assert_eq!(value("product_name").trim(), field("model name"));
    // osquery's names and the kernel's, for bits the kernel does not hide.
    for (ours, kernel) in [
        ("sse", "sse"),
        ("sse2", "sse2"),
        ("sse4.2", "sse4_2"),
        ("aes", "aes"),
        ("avx", "avx"),
        ("avx2", "avx2"),
        ("lm", "lm"),
    ] {
        let expected = if flags.contains(kernel) { "1" } else { "0" };
        assert_eq!(value(ours), expected, "{ours}");
    }
}

#[test]
fn memory_map_is_proc_iomem() {
    let iomem = std::fs::read_to_string("/proc/iomem").unwrap_or_default();
    let names: Vec<String> = iomem
        .lines()
        .filter_map(|l| l.split_once(" : ").map(|(_, n)| n.to_string()))
        .collect();
    let ours: Vec<String> = query("SELECT name FROM memory_map")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    assert_eq!(ours, names);
}

#[test]
fn user_ssh_keys_read_keys_made_by_ssh_keygen_and_openssl() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_string_lossy().into_owned();
    let run = |cmd: &str, args: &[&str]| -> bool {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let made = [
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "rsa",
                "-b",
                "2048",
                "-m",
                "PEM",
                "-N",
                "",
                "-f",
                &p("rsa_pem"),
            ],
        ),
        run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", &p("ed25519")],
        ),
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "secret",
                "-f",
                &p("ed25519_locked"),
            ],
        ),
        run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
                &p("rsa_pkcs8"),
            ],
        ),
        run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                &p("ec_pkcs8"),
            ],
        ),
        run(
            "openssl",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                &p("ec_sec1"),
            ],
        ),
        run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-aes-128-cbc",
                "-pass",
                "pass:x",
                "-out",
                &p("rsa_locked"),
            ],
        ),
    ];
    if made.iter().any(|m| !m) {
        eprintln!("skipped: ssh-keygen or openssl missing");
        return;
    }
    let names = [
        "rsa_pem",
        "ed25519",
        "ed25519_locked",
        "rsa_pkcs8",
        "ec_pkcs8",
        "ec_sec1",
        "rsa_locked",
        "rsa_pem.pub",
    ];
    let list: Vec<String> = names.iter().map(|n| format!("'{}'", p(n))).collect();
    let rows = query(&format!(
        "SELECT path, encrypted, key_type, key_group_name, key_length, key_security_bits FROM user_ssh_keys WHERE path IN ({}) ORDER BY path",
        list.join(", ")
    ));
    let got: BTreeSet<String> = rows
        .iter()
        .map(|r| {
            let name = s(&r[0]).rsplit('/').next().unwrap().to_string();
            format!(
                "{name} {} {} {} {} {}",
                s(&r[1]),
                s(&r[2]),
                s(&r[3]),
                s(&r[4]),
                s(&r[5])
            )
        })
        .collect();
    // A public key is no private key: no row for rsa_pem.pub.
    let want: BTreeSet<String> = [
        "ec_pkcs8 0 ec secp384r1 384 192",
        "ec_sec1 0 ec prime256v1 256 128",
        "ed25519 0   -1 -1",
        "ed25519_locked 1   -1 -1",
        "rsa_locked 1   -1 -1",
        "rsa_pem 0 rsa  2048 112",
        "rsa_pkcs8 0 rsa  3072 128",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(got, want);
}

#[test]
fn magic_matches_the_file_command() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run");
    std::fs::write(&script, "#!/bin/sh\nexec true\n").unwrap();
    let gz = dir.path().join("x.gz");
    std::fs::write(
        &gz,
        [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    )
    .unwrap();
    for path in [
        "/bin/ls",
        "/etc/passwd",
        script.to_str().unwrap(),
        gz.to_str().unwrap(),
    ] {
        let Some(description) = tool("file", &["-b", path]) else {
            return;
        };
        let mime = tool("file", &["-b", "--mime-type", path]).unwrap();
        let encoding = tool("file", &["-b", "--mime-encoding", path]).unwrap();
        let rows = query(&format!(
            "SELECT data, mime_type, mime_encoding, path FROM magic WHERE path = '{path}'"
        ));
        assert_eq!(rows.len(), 1, "{path}");
        assert_eq!(s(&rows[0][0]), description.trim_end(), "{path}");
        assert_eq!(s(&rows[0][1]), mime.trim_end(), "{path}");
        assert_eq!(s(&rows[0][2]), encoding.trim_end(), "{path}");
    }
    // A database that is not there is an error that names it.
    let r = lookup("query").unwrap().run_json(
        &json!({"sql": "SELECT data FROM magic WHERE path = '/bin/ls' AND magic_db_files = '/nonexistent.mgc'"}),
        &Context::default(),
    );
    assert!(
        !r.success && r.errors[0].contains("/nonexistent.mgc"),
        "{:?}",
        r.errors
    );
}

/// Runs `docker args…`; its trimmed output.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A container this test starts (from an image it imports from busybox), removed at the end
/// even when an assertion fails.
struct DockerFixture {
    container: String,
    image: String,
    volume: String,
}

impl Drop for DockerFixture {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("docker").args(args).output();
        };
        quiet(&["rm", "-f", &self.container]);
        quiet(&["rmi", "-f", &self.image]);
        quiet(&["volume", "rm", "-f", &self.volume]);
    }
}

#[test]
fn docker_tables_match_the_docker_cli() {
    let daemon = Command::new("docker")
        .args(["info", "-f", "{{.ServerVersion}}"])
        .output();
    if !daemon.is_ok_and(|o| o.status.success()) || !std::path::Path::new("/bin/busybox").exists() {
        eprintln!("skipped: no Docker daemon (or no /bin/busybox to build an image from)");
        // With no daemon every table is empty, not an error.
        if Command::new("docker")
            .arg("info")
            .output()
            .map_or(true, |o| !o.status.success())
        {
            assert!(query("SELECT * FROM docker_containers").is_empty());
            assert!(query("SELECT * FROM docker_version").is_empty());
        }
        return;
    }
    let tag = format!("mig-test-{}", std::process::id());
    let fx = DockerFixture {
        container: tag.clone(),
        image: format!("migtest/{tag}:1"),
        volume: format!("{tag}-v"),
    };
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::create_dir(rootfs.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.path().join("bin/busybox")).unwrap();
    for link in ["sh", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.path().join("bin").join(link)).unwrap();
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    let mut import = Command::new("docker")
        .args(["import", "-c", "LABEL team=ir", "-", &fx.image])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut import.stdin.take().unwrap(), &tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());
    docker(&["volume", "create", "--label", "team=ir", &fx.volume]);
    let id = docker(&[
        "run",
        "-d",
        "--name",
        &fx.container,
        "-e",
        "SECRET_TOKEN=abc",
        "-l",
        "role=probe",
        "-v",
        "/tmp:/hosttmp:ro",
        &fx.image,
        "/bin/sleep",
        "600",
    ]);

    // Containers, by id and name, with inspect's details.
    let rows = query(&format!(
        "SELECT id, name, state, privileged, readonly_rootfs, env_variables, pid, image FROM docker_containers WHERE id = '{id}'"
    ));
    assert_eq!(rows.len(), 1);
    assert_eq!(s(&rows[0][1]), format!("/{}", fx.container));
    assert_eq!(s(&rows[0][2]), "running");
    assert_eq!(
        (rows[0][3].clone(), rows[0][4].clone()),
        (json!(0), json!(0))
    );
    assert!(s(&rows[0][5]).contains("SECRET_TOKEN=abc"));
    assert_eq!(
        s(&rows[0][6]),
        docker(&["inspect", "-f", "{{.State.Pid}}", &id])
    );
    assert_eq!(s(&rows[0][7]), fx.image);
    let ours: BTreeSet<String> = query("SELECT id FROM docker_containers")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    let theirs: BTreeSet<String> = docker(&["ps", "-aq", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ours, theirs);
    // A prefix finds the container and is what the row shows.
    let short = &id[..12];
    let rows = query(&format!(
        "SELECT id FROM docker_containers WHERE id = '{short}'"
    ));
    assert_eq!(rows, vec![vec![json!(short)]]);

    // Its processes are what `docker top` lists.
    let pids: BTreeSet<String> = query(&format!(
        "SELECT pid FROM docker_container_processes WHERE id = '{id}'"
    ))
    .iter()
    .map(|r| s(&r[0]))
    .collect();
    let top: BTreeSet<String> = docker(&["top", &id, "-o", "pid"])
        .lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(pids, top);
    let rows = query(&format!(
        "SELECT cmdline, uid FROM docker_container_processes WHERE id = '{id}'"
    ));
    assert_eq!(
        (s(&rows[0][0]), s(&rows[0][1])),
        ("/bin/sleep 600".into(), "0".into())
    );

    // What the container changed in its filesystem, as `docker diff` lists it.
    docker(&["exec", &id, "/bin/sh", "-c", "echo x > /made-here"]);
    let ours: BTreeSet<String> = query(&format!(
        "SELECT change_type, path FROM docker_container_fs_changes WHERE id = '{id}'"
    ))
    .iter()
    .map(|r| format!("{} {}", s(&r[0]), s(&r[1])))
    .collect();
    let theirs: BTreeSet<String> = docker(&["diff", &id]).lines().map(str::to_string).collect();
    assert!(ours.contains("A /made-here"), "{ours:?}");
    assert_eq!(ours, theirs);

    // Mounts, environment, labels.
    let rows = query(&format!(
        "SELECT type, source, destination, rw FROM docker_container_mounts WHERE id = '{id}'"
    ));
    assert_eq!(
        rows,
        vec![vec![
            json!("bind"),
            json!("/tmp"),
            json!("/hosttmp"),
            json!(0)
        ]]
    );
    let rows = query(&format!(
        "SELECT value FROM docker_container_envs WHERE id = '{id}' AND key = 'SECRET_TOKEN'"
    ));
    assert_eq!(rows, vec![vec![json!("abc")]]);
    let rows = query(&format!(
        "SELECT value FROM docker_container_labels WHERE id = '{id}' AND key = 'role'"
    ));
    assert_eq!(rows, vec![vec![json!("probe")]]);

    // Images, their history and labels.
    let image_id = docker(&["inspect", "-f", "{{.Id}}", &fx.image]);
    let image_id = image_id.trim_start_matches("sha256:");
    let rows = query(&format!(
        "SELECT tags, size_bytes FROM docker_images WHERE id = '{image_id}'"
    ));
    assert_eq!(s(&rows[0][0]), fx.image);
    assert_eq!(
        s(&rows[0][1]),
        docker(&["inspect", "-f", "{{.Size}}", &fx.image])
    );
    let ours: BTreeSet<String> = query("SELECT id FROM docker_images")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    let theirs: BTreeSet<String> = docker(&["images", "-aq", "--no-trunc"])
        .lines()
        .map(|l| l.trim_start_matches("sha256:").to_string())
        .collect();
    assert_eq!(ours, theirs);
    let history = query(&format!(
        "SELECT created_by, comment FROM docker_image_history WHERE id = '{image_id}'"
    ));
    let theirs = docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.Comment}}",
        &fx.image,
    ]);
    assert_eq!(history.len(), theirs.lines().count());
    assert_eq!(s(&history[0][1]), theirs.lines().next().unwrap());
    let rows = query(&format!(
        "SELECT value FROM docker_image_labels WHERE id = '{image_id}' AND key = 'team'"
    ));
    assert_eq!(rows, vec![vec![json!("ir")]]);

    // The daemon, its networks and volumes.
    let rows = query("SELECT version, api_version FROM docker_version");
    assert_eq!(
        s(&rows[0][0]),
        docker(&["version", "-f", "{{.Server.Version}}"])
    );
    assert_eq!(
        s(&rows[0][1]),
        docker(&["version", "-f", "{{.Server.APIVersion}}"])
    );
    let rows = query("SELECT containers, images, storage_driver, root_dir FROM docker_info");
    assert_eq!(s(&rows[0][0]), docker(&["info", "-f", "{{.Containers}}"]));
    assert_eq!(s(&rows[0][2]), docker(&["info", "-f", "{{.Driver}}"]));
    assert_eq!(
        s(&rows[0][3]),
        docker(&["info", "-f", "{{.DockerRootDir}}"])
    );
    let ours: BTreeSet<String> = query("SELECT name FROM docker_networks")
        .iter()
        .map(|r| s(&r[0]))
        .collect();
    let theirs: BTreeSet<String> = docker(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ours, theirs);
    let rows = query(&format!(
        "SELECT key, value FROM docker_volume_labels WHERE name = '{}'",
        fx.volume
    ));
    assert_eq!(rows, vec![vec![json!("team"), json!("ir")]]);
    // Networks the container is on, and its ports, as inspect and `docker port` give them.
    let ours: BTreeSet<String> = query(&format!(
        "SELECT name FROM docker_container_networks WHERE id = '{id}'"
    ))
    .iter()
    .map(|r| s(&r[0]))
    .collect();
    let theirs: BTreeSet<String> = docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}\n{{end}}",
        &id,
    ])
    .lines()
    .map(str::to_string)
    .collect();
    assert_eq!(ours, theirs);
    let ports = query(&format!(
        "SELECT type, port, host_port FROM docker_container_ports WHERE id = '{id}'"
    ));
    assert_eq!(ports.len(), docker(&["port", &id]).lines().count());
    let ours: BTreeSet<String> = query("SELECT id, key, value FROM docker_network_labels")
        .iter()
        .map(|r| format!("{} {}={}", s(&r[0]), s(&r[1]), s(&r[2])))
        .collect();
    let mut theirs = BTreeSet::new();
    for network in docker(&["network", "ls", "-q", "--no-trunc"]).lines() {
        let labels = docker(&[
            "network",
            "inspect",
            "-f",
            "{{range $k, $v := .Labels}}{{$k}}={{$v}}\n{{end}}",
            network,
        ]);
        theirs.extend(labels.lines().map(|l| format!("{network} {l}")));
    }
    assert_eq!(ours, theirs);
    let rows = query(&format!(
        "SELECT driver, mount_point FROM docker_volumes WHERE name = '{}'",
        fx.volume
    ));
    assert_eq!(s(&rows[0][0]), "local");
    assert_eq!(
        s(&rows[0][1]),
        docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &fx.volume])
    );
}

#[test]
fn curl_answers_as_the_curl_tool_does() {
    if tool("curl", &["--version"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from the test\n").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "the test's HTTP server did not start");
    for path in ["/hello.txt", "/missing"] {
        let url = format!("{base}{path}");
        let body = tool("curl", &["-s", &url]).unwrap();
        let code = tool(
            "curl",
            &["-s", "-o", "/dev/null", "-w", "%{http_code}", &url],
        )
        .unwrap();
        let rows = query(&format!(
            "SELECT response_code, bytes, result, method, user_agent FROM curl WHERE url = '{url}'"
        ));
        assert_eq!(s(&rows[0][0]), code, "{url}");
        assert_eq!(s(&rows[0][1]), body.len().to_string(), "{url}");
        assert_eq!(s(&rows[0][2]), body, "{url}");
        assert_eq!(
            (s(&rows[0][3]), s(&rows[0][4])),
            ("GET".into(), "osquery".into())
        );
    }
    let rows = query(&format!(
        "SELECT user_agent, response_code FROM curl WHERE url = '{base}/hello.txt' AND user_agent = 'probe/2'"
    ));
    assert_eq!(
        (s(&rows[0][0]), s(&rows[0][1])),
        ("probe/2".into(), "200".into())
    );
    let _ = server.kill();
    let _ = server.wait();
    // Nothing listens any more: the row is there, its answer NULL (curl fails too).
    let rows = query(&format!(
        "SELECT response_code, result FROM curl WHERE url = '{base}/'"
    ));
    assert_eq!(rows, vec![vec![Value::Null, Value::Null]]);
    assert!(Command::new("curl")
        .args(["-s", &base])
        .status()
        .map_or(true, |s| !s.success()));
}

/// `openssl x509 -noout -ext …`: each extension's lines, joined with `;` as osquery joins them,
/// by the header OpenSSL prints.
fn openssl_extensions(cert: &std::path::Path) -> std::collections::HashMap<String, String> {
    let text = tool(
        "openssl",
        &[
            "x509", "-noout", "-in", cert.to_str().unwrap(), "-ext",
            "subjectKeyIdentifier,authorityKeyIdentifier,basicConstraints,subjectAltName,extendedKeyUsage,keyUsage,certificatePolicies,authorityInfoAccess",
        ],
    )
    .unwrap();
    let mut found = std::collections::HashMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        if !line.starts_with(' ') {
            if let Some((k, v)) = current.take() {
                found.insert(k, v.join(";"));
            }
            let header = line
                .trim_end()
                .trim_end_matches(" critical")
                .trim_end_matches(':');
            current = Some((header.to_string(), Vec::new()));
        } else if let Some((_, v)) = current.as_mut() {
            v.push(line.trim().to_string());
        }
    }
    if let Some((k, v)) = current {
        found.insert(k, v.join(";"));
    }
    found
}

#[test]
fn curl_certificate_matches_openssl() {
    if tool("openssl", &["version"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"])
        .args(["-subj", "/C=US/O=Mig Test Org/OU=IR Team/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,email:ir@example.com"])
        .args(["-addext", "extendedKeyUsage=serverAuth,clientAuth"])
        .args(["-addext", "keyUsage=digitalSignature,keyEncipherment"])
        .args(["-addext", "certificatePolicies=2.23.140.1.2.1"])
        .args(["-addext", "authorityInfoAccess=OCSP;URI:http://ocsp.example/,caIssuers;URI:http://ca.example/ca.crt"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rows = query(&format!(
        "SELECT common_name, organization, organization_unit, issuer_common_name, serial_number, \
         valid_from, valid_to, sha256_fingerprint, sha1_fingerprint, version, signature_algorithm, \
         subject_key_identifier, authority_key_identifier, key_usage, extended_key_usage, policies, \
         subject_alternative_names, info_access, basic_constraint, has_expired, pem, signature \
         FROM curl_certificate WHERE hostname = '127.0.0.1:{port}' AND dump_certificate = 1"
    ));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(rows.len(), 1);
    let r: Vec<String> = rows[0].iter().map(s).collect();
    let x509 = |flag: &str| {
        let out = tool(
            "openssl",
            &["x509", "-noout", "-in", cert.to_str().unwrap(), flag],
        )
        .unwrap();
        out.trim().split_once('=').unwrap().1.to_string()
    };
    let fingerprint = |flag: &str| {
        let out = tool(
            "openssl",
            &[
                "x509",
                "-noout",
                "-fingerprint",
                flag,
                "-in",
                cert.to_str().unwrap(),
            ],
        )
        .unwrap();
        out.trim()
            .split_once('=')
            .unwrap()
            .1
            .replace(':', "")
            .to_lowercase()
    };
    assert_eq!(
        &r[..4],
        ["localhost", "Mig Test Org", "IR Team", "localhost"]
    );
    assert_eq!(r[4], x509("-serial"));
    assert_eq!(r[5], x509("-startdate"));
    assert_eq!(r[6], x509("-enddate"));
    assert_eq!(r[7], fingerprint("-sha256"));
    assert_eq!(r[8], fingerprint("-sha1"));
    assert_eq!((r[9].as_str(), r[10].as_str()), ("3", "RSA-SHA256"));
    let ext = openssl_extensions(&cert);
    for (i, header) in [
        (11, "X509v3 Subject Key Identifier"),
        (12, "X509v3 Authority Key Identifier"),
        (13, "X509v3 Key Usage"),
        (14, "X509v3 Extended Key Usage"),
        (15, "X509v3 Certificate Policies"),
        (16, "X509v3 Subject Alternative Name"),
        (17, "Authority Information Access"),
        (18, "X509v3 Basic Constraints"),
    ] {
        assert_eq!(r[i], ext[header], "{header}");
    }
    assert_eq!(r[19], "0");
    assert_eq!(r[20], std::fs::read_to_string(&cert).unwrap());
    let text = tool(
        "openssl",
        &["x509", "-noout", "-text", "-in", cert.to_str().unwrap()],
    )
    .unwrap();
    let signature: String = text
        .split("Signature Value:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(r[21], signature);
    // Nothing listens any more: no row.
    let rows = query(&format!(
        "SELECT common_name FROM curl_certificate WHERE hostname = '127.0.0.1:{port}' AND timeout = 2"
    ));
    assert!(rows.is_empty());
}
