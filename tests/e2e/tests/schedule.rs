//! Signed schedules end to end, with real agents, a real server and real exporters: one
//! signature covers every run; runs go on through an agent restart and a server outage
//! (buffered, then delivered, none lost); differential queries send only what changed; a
//! signed unschedule and the action's expiry end them; an agent refuses what its ACL does not
//! allow a schedule to run; and the runs reach a JSON lines file, syslog (rsyslog, over TCP
//! and TLS, restarted mid-stream) and an HTTP `_bulk` receiver.

use mig_e2e::services::Vhost;
use mig_e2e::{acl, stderr, stdout, wait_for, AgentProc, Investigator, Platform, ServerOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Launches `mig schedule … query SQL` as `inv`; returns the schedule's ID.
fn schedule(
    p: &Platform,
    inv: &Investigator,
    target: &str,
    expire: &str,
    interval: &str,
    sql: &str,
) -> u64 {
    let out = p.mig(
        inv,
        &[
            "schedule",
            "-t",
            target,
            "-e",
            expire,
            "-interval",
            interval,
            "-y",
            "query",
            sql,
        ],
    );
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "mig schedule: {said}");
    assert!(said.contains("registered:"), "{said}");
    said.lines()
        .find_map(|l| {
            l.strip_prefix("action ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no action ID in {said}"))
}

/// Every run of schedule `id` the server has.
fn runs(p: &Platform, id: u64) -> Vec<Value> {
    let client = p.api(&p.admin);
    let mut all = Vec::new();
    let mut after = 0u64;
    loop {
        let page: Value = client
            .get(
                &format!("/api/v1/schedules/{id}/runs"),
                &[("after", after.to_string()), ("limit", "1000".into())],
            )
            .unwrap();
        let got = page["runs"].as_array().cloned().unwrap_or_default();
        if got.is_empty() {
            return all;
        }
        after = page["next"].as_u64().unwrap();
        all.extend(got);
    }
}

/// The run numbers (seq) of `agent`'s runs.
fn seqs(runs: &[Value], agent: &str) -> Vec<u64> {
    let mut s: Vec<u64> = runs
        .iter()
        .filter(|r| r["agent"]["name"] == agent)
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    s.sort_unstable();
    s
}

/// The rows (as `pid`) an agent's runs added, or removed.
fn changed_pids(runs: &[Value], agent: &str, field: &str) -> BTreeSet<i64> {
    runs.iter()
        .filter(|r| r["agent"]["name"] == agent)
        .flat_map(|r| {
            r["results"][0]["elements"][field]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|row| row[0].as_i64())
        .collect()
}

/// A process with a name of its own (a copy of sleep), for a query to see come and go.
struct Marker {
    name: String,
    child: Child,
}

impl Marker {
    fn start(dir: &Path) -> Marker {
        let name = format!("migmark{}", std::process::id() % 1_000_000);
        let exe = dir.join(&name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let child = Command::new(&exe).arg("600").spawn().unwrap();
        Marker { name, child }
    }

    fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agents(p: &Platform, names: &[&str]) -> Vec<AgentProc> {
    names
        .iter()
        .map(|n| {
            let a = p.agent(n, &[&p.admin], acl(1, &[&p.admin]), "");
            p.wait_online(n);
            a
        })
        .collect()
}

/// The JSON lines an exporter wrote, by event ID.
fn exported(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_schedule_runs_on_two_agents_through_restarts_and_outages_until_cancelled() {
    let work = tempfile::tempdir().unwrap();
    let jsonl = work.path().join("export/runs.jsonl");
    let mut p = Platform::start_with(ServerOptions {
        extra: format!(
            "\n[[export]]\nname = \"file\"\nkind = \"jsonl\"\npath = {:?}\n",
            jsonl.display().to_string()
        ),
        ..Default::default()
    });
    let mut hosts = agents(&p, &["sched-a", "sched-b"]);
    let marker_dir = tempfile::tempdir().unwrap();
    let name = format!("migmark{}", std::process::id() % 1_000_000);
    let sql = format!("SELECT pid, name FROM processes WHERE name = '{name}'");
    let id = schedule(
        &p,
        &p.admin,
        "name='sched-a' OR name='sched-b'",
        "10m",
        "2s",
        &sql,
    );

    // Both agents run it, every 2 s, with nothing to report: empty snapshots, then nothing.
    wait_for(
        "three runs from each agent",
        Duration::from_secs(30),
        || {
            let r = runs(&p, id);
            (seqs(&r, "sched-a").len() >= 3 && seqs(&r, "sched-b").len() >= 3).then_some(())
        },
    );
    let first = runs(&p, id);
    assert_eq!(
        first[0]["results"][0]["elements"]["snapshot"], true,
        "{}",
        first[0]
    );

    // A process starts: +1 row on the next run of each agent; it stops: -1 row.
    let marker = Marker::start(marker_dir.path());
    assert_eq!(marker.name, name);
    let pid = marker.pid();
    wait_for(
        "the new process reported as added",
        Duration::from_secs(20),
        || {
            let r = runs(&p, id);
            (changed_pids(&r, "sched-a", "added").contains(&pid)
                && changed_pids(&r, "sched-b", "added").contains(&pid))
            .then_some(())
        },
    );
    // A full snapshot on demand, rebuilt by the server from the runs: the process is there,
    // on both agents, and the tables are complete.
    let snapshot = |p: &Platform| -> Value {
        let out = p.mig(
            &p.admin,
            &["schedule", "snapshot", &id.to_string(), "--json"],
        );
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    };
    let now = snapshot(&p);
    assert_eq!(now["agents"].as_array().unwrap().len(), 2, "{now}");
    for agent in now["agents"].as_array().unwrap() {
        let op = &agent["operations"][0];
        assert_eq!(op["complete"], true, "{agent}");
        assert_eq!(op["rows"], json!([[pid, name]]), "{agent}");
    }
    drop(marker);
    wait_for(
        "the stopped process reported as removed",
        Duration::from_secs(20),
        || {
            let r = runs(&p, id);
            (changed_pids(&r, "sched-a", "removed").contains(&pid)
                && changed_pids(&r, "sched-b", "removed").contains(&pid))
            .then_some(())
        },
    );
    let now = snapshot(&p);
    for agent in now["agents"].as_array().unwrap() {
        assert_eq!(agent["operations"][0]["rows"], json!([]), "{agent}");
    }
    // Runs without changes carry no rows: only one run added the row, only one removed it.
    let r = runs(&p, id);
    let adding = r
        .iter()
        .filter(|run| run["agent"]["name"] == "sched-a" && run["added"].as_i64() > Some(0))
        .count();
    assert_eq!(adding, 1, "one run saw the process appear");

    // The agent restarts: the schedule was kept (signed, on disk) and resumes.
    let before = seqs(&runs(&p, id), "sched-a").last().copied().unwrap();
    hosts[0].stop();
    hosts[0].start();
    wait_for(
        "runs after the agent's restart",
        Duration::from_secs(30),
        || {
            let s = seqs(&runs(&p, id), "sched-a");
            (s.last().copied().unwrap() >= before + 2).then_some(())
        },
    );
    assert!(
        hosts[0].log().contains(&format!("schedule {id} ")),
        "{}",
        hosts[0].log()
    );
    assert!(hosts[0].log().contains("resumed"), "{}", hosts[0].log());

    // The server goes away for a while: the agents go on running the schedule and keep
    // the runs; once it is back, every run arrives, none missing.
    let before_b = seqs(&runs(&p, id), "sched-b").last().copied().unwrap();
    p.kill_server();
    std::thread::sleep(Duration::from_secs(7));
    let kept = kept_runs(&hosts[1]);
    assert!(kept >= 2, "runs kept while the server was down: {kept}");
    p.start_server();
    wait_for(
        "the runs made during the outage",
        Duration::from_secs(40),
        || {
            let s = seqs(&runs(&p, id), "sched-b");
            let last = s.last().copied().unwrap_or(0);
            (s.len() as u64 == last && last >= before_b + kept as u64).then_some(())
        },
    );
    for agent in ["sched-a", "sched-b"] {
        let s = seqs(&runs(&p, id), agent);
        let expected: Vec<u64> = (1..=*s.last().unwrap()).collect();
        assert_eq!(s, expected, "{agent}: every run once, in order");
    }

    // The list shows it, active.
    let out = p.mig(&p.admin, &["schedule", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with(&id.to_string()))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert!(line.contains("active"), "{line}");

    // Cancelled: both agents say so, and the runs stop.
    let out = p.mig(&p.admin, &["schedule", "cancel", &id.to_string(), "-y"]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said.matches(&format!("schedule {id} cancelled")).count(),
        2,
        "{said}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let stopped = runs(&p, id).len();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(runs(&p, id).len(), stopped, "no run after the cancel");
    for h in &hosts {
        assert!(h.audit().contains("\"unscheduled\""), "{}", h.audit());
        assert!(
            !h.dir
                .join(format!("state/schedules/{id}.action.json"))
                .exists(),
            "the schedule is forgotten"
        );
    }
    let out = p.mig(&p.admin, &["schedule", "list"]);
    assert!(stdout(&out)
        .lines()
        .any(|l| l.starts_with(&id.to_string()) && l.contains("cancelled")));

    // The exporter wrote every run's events once the file sink had them: the process added
    // and removed, from both agents, each event once.
    wait_for("the exporter to catch up", Duration::from_secs(20), || {
        let events = exported(&jsonl);
        let runs_exported: BTreeSet<u64> =
            events.iter().filter_map(|e| e["run"].as_u64()).collect();
        let with_rows: BTreeSet<u64> = runs(&p, id)
            .iter()
            .filter(|r| r["added"].as_i64() > Some(0) || r["removed"].as_i64() > Some(0))
            .map(|r| r["id"].as_u64().unwrap())
            .collect();
        with_rows.is_subset(&runs_exported).then_some(())
    });
    let events = exported(&jsonl);
    let ids: BTreeSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "every event once");
    for (agent, action) in [
        ("sched-a", "added"),
        ("sched-a", "removed"),
        ("sched-b", "added"),
        ("sched-b", "removed"),
    ] {
        assert!(
            events.iter().any(|e| e["agent"] == agent
                && e["action"] == action
                && e["row"]["pid"] == pid
                && e["row"]["name"] == name
                && e["schedule"] == id
                && e["module"] == "query"),
            "{agent} {action}: {events:?}"
        );
    }
    let metrics = p
        .http()
        .get(p.api_url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("mig_export_events_total{sink=\"file\",kind=\"jsonl\"}"),
        "{metrics}"
    );
}

/// The runs an agent still holds for the server.
fn kept_runs(agent: &AgentProc) -> usize {
    std::fs::read_dir(agent.dir.join("state/runs")).map_or(0, |d| d.count())
}

#[test]
fn a_schedule_ends_at_its_expiry_and_works_over_rabbitmq() {
    // The scale-out shape: RabbitMQ and PostgreSQL (when the test machine has them).
    let vhost = Vhost::create();
    let p = Platform::start_with(ServerOptions {
        amqp_url: vhost.as_ref().map(|v| v.url.clone()),
        database_url: mig_e2e::services::postgres_schema(),
        ..Default::default()
    });
    let host = &agents(&p, &["expiring"])[0];
    let id = schedule(
        &p,
        &p.admin,
        "name='expiring'",
        "9s",
        "2s",
        "SELECT 1 AS one",
    );
    wait_for("the schedule to end", Duration::from_secs(30), || {
        host.audit().contains("\"schedule ended\"").then_some(())
    });
    assert!(host.audit().contains("expired"), "{}", host.audit());
    let r = runs(&p, id);
    assert!(
        r.len() >= 2 && r.len() <= 6,
        "runs within 9 s every 2 s: {}",
        r.len()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(runs(&p, id).len(), r.len(), "nothing after the expiry");
    assert!(!host
        .dir
        .join(format!("state/schedules/{id}.action.json"))
        .exists());
    // A full snapshot each time is not what differential mode sends: one row, then none.
    assert_eq!(r[0]["results"][0]["elements"]["added"], json!([[1]]));
    assert_eq!(r[1]["results"][0]["elements"]["added"], json!([]));
    let out = p.mig(&p.admin, &["schedule", "list", "--json"]);
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["status"], "expired");
    assert_eq!(list[0]["runs"], r.len());
    assert_eq!(list[0]["added"], 1);
}

/// The events the agent collects while a schedule asks for them: a process the test starts is
/// in `process_events` with its start time; a write under a watched directory is in
/// `file_events`, hashed, and raises an alert at once (the schedule's interval is a minute);
/// the buffers say what they hold and lost; collection stops with the last schedule asking.
#[test]
fn event_tables_see_processes_and_files_and_alerts_come_at_once() {
    let p = Platform::start();
    let watched = tempfile::tempdir().unwrap();
    let host = p.agent(
        "watcher",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "event_buffer = 200\n",
    );
    p.wait_online("watcher");
    let marker = format!(
        "{}.{}",
        3 + std::process::id() % 5,
        std::process::id() % 1000
    );
    let execs = schedule(
        &p,
        &p.admin,
        "name='watcher'",
        "10m",
        "2s",
        &format!("SELECT pid, path, cmdline, parent, uid, time FROM process_events WHERE cmdline = 'sleep {marker}'"),
    );
    let out = p.mig(
        &p.admin,
        &[
            "schedule", "-t", "name='watcher'", "-e", "10m", "-interval", "60s", "-alert",
            "-file-path", &watched.path().display().to_string(), "-file-hashes", "-y",
            "query", "SELECT target_path, action, sha256 FROM file_events WHERE target_path LIKE '%/sshd_config'",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let files = stderr(&out)
        .lines()
        .find_map(|l| {
            l.strip_prefix("action ")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));

    // A process, started now: seen with its own start time, parent and path.
    let started = chrono::Utc::now().timestamp();
    let mut sleeper = Command::new("sleep").arg(&marker).spawn().unwrap();
    let row = wait_for(
        "the process in process_events",
        Duration::from_secs(20),
        || {
            runs(&p, execs)
                .iter()
                .flat_map(|r| {
                    r["results"][0]["elements"]["added"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .next()
        },
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(row[0], i64::from(sleeper.id()), "{row}");
    assert!(row[1].as_str().unwrap().ends_with("/sleep"), "{row}");
    assert_eq!(
        row[3],
        i64::from(std::process::id()),
        "its parent is the test: {row}"
    );
    assert_eq!(row[4], 0);
    let seen = row[5].as_i64().unwrap();
    assert!(
        (seen - started).abs() <= 1,
        "seen at {seen}, started at {started}"
    );

    // A connection the test makes to a listener of its own: both ends, with the test's pid.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sockets = schedule(
        &p,
        &p.admin,
        "name='watcher'",
        "10m",
        "2s",
        &format!("SELECT action, pid, local_port, remote_port, remote_address FROM socket_events WHERE remote_port = {port} OR local_port = {port}"),
    );
    std::thread::sleep(Duration::from_secs(1));
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    let seen = wait_for(
        "the connection in socket_events",
        Duration::from_secs(20),
        || {
            let rows: Vec<Value> = runs(&p, sockets)
                .iter()
                .flat_map(|r| {
                    r["results"][0]["elements"]["added"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .collect();
            let has = |action: &str| {
                rows.iter()
                    .any(|r| r[0] == action && r[1] == i64::from(std::process::id()))
            };
            (has("connect") && has("accept")).then_some(rows)
        },
    );
    let connect = seen.iter().find(|r| r[0] == "connect").unwrap();
    assert_eq!(
        (connect[3].as_u64(), connect[4].as_str()),
        (Some(u64::from(port)), Some("127.0.0.1"))
    );
    drop((client, server));

    // A write under the watched directory: an alert, long before the next interval.
    let config = watched.path().join("sshd_config");
    let written = std::time::Instant::now();
    std::fs::write(&config, b"PermitRootLogin yes\n").unwrap();
    let alert = wait_for("the alert", Duration::from_secs(20), || {
        runs(&p, files).into_iter().find(|r| r["alert"] == true)
    });
    eprintln!("alert stored {:.2?} after the write", written.elapsed());
    let rows = alert["results"][0]["elements"]["added"]
        .as_array()
        .cloned()
        .unwrap();
    let updated = rows
        .iter()
        .find(|r| r[1] == "UPDATED")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(updated[0], config.display().to_string());
    assert_eq!(updated[2], sha256_hex(b"PermitRootLogin yes\n"));

    // The buffers, as a one-off query sees them: both collecting; then the process
    // collection stops with the schedule that asked for it.
    let buffers = |p: &Platform| -> BTreeMap<String, (i64, i64)> {
        let out = p.mig(
            &p.admin,
            &[
                "query",
                "-t",
                "name='watcher'",
                "-o",
                "ndjson",
                "SELECT name, events, active FROM mig_event_buffers",
            ],
        );
        let v: Value = serde_json::from_str(stdout(&out).lines().next().unwrap_or("null"))
            .unwrap_or(Value::Null);
        v["results"][0]["elements"]["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r[0].as_str().unwrap().to_string(),
                    (r[1].as_i64().unwrap(), r[2].as_i64().unwrap()),
                )
            })
            .collect()
    };
    let b = buffers(&p);
    assert!(
        b["process_events"].0 >= 1 && b["process_events"].1 == 1,
        "{b:?}"
    );
    assert!(b["file_events"].0 >= 1 && b["file_events"].1 == 1, "{b:?}");
    let out = p.mig(&p.admin, &["schedule", "cancel", &execs.to_string(), "-y"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(
        "process collection to stop",
        Duration::from_secs(20),
        || {
            host.log()
                .contains("process_events: collection stopped")
                .then_some(())
        },
    );
    assert_eq!(buffers(&p)["process_events"].1, 0);
}

/// A burst larger than the buffer: the oldest unread events go, and the overflow counter says
/// how many.
#[test]
fn a_burst_larger_than_the_buffer_is_counted_as_dropped() {
    let p = Platform::start();
    let _host = p.agent(
        "bursty",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "event_buffer = 100\n",
    );
    p.wait_online("bursty");
    // Collected, and read only once a minute.
    schedule(
        &p,
        &p.admin,
        "name='bursty'",
        "10m",
        "60s",
        "SELECT pid FROM process_events",
    );
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..300 {
        Command::new("true").status().unwrap();
    }
    let out = p.mig(
        &p.admin,
        &[
            "query",
            "-t",
            "name='bursty'",
            "-o",
            "ndjson",
            "SELECT buffered, events, dropped FROM mig_event_buffers WHERE name = 'process_events'",
        ],
    );
    let v: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    let row = &v["results"][0]["elements"]["rows"][0];
    assert_eq!(row[0], 100, "a full buffer: {row}");
    assert!(row[1].as_i64().unwrap() >= 300, "{row}");
    assert!(
        row[2].as_i64().unwrap() >= 200,
        "the oldest 200 at least were lost: {row}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The agent verifies a schedule once, as it verifies any action, and more: the ACL must let
/// the signers run every module inside it; schedules do not nest; a cancelled schedule cannot
/// be armed again by replaying it; and a key taken out of the keyring stops what it signed.
#[test]
fn an_agent_refuses_what_a_schedule_may_not_run() {
    let p = Platform::start();
    let bob = p.investigator("Bob Sched");
    p.add_investigator(&bob, "investigator");
    // Bob may schedule, and run queries, but `file` needs two signatures.
    let members = json!({
        "Admin": {"fingerprint": p.admin.fingerprint, "weight": 1},
        "Bob": {"fingerprint": bob.fingerprint, "weight": 1},
    });
    let policy = json!({
        "default": {"minimumweight": 1, "investigators": members},
        "file": {"minimumweight": 2, "investigators": members},
    });
    let host = p.agent("guarded", &[&p.admin, &bob], policy, "");
    p.wait_online("guarded");

    let launch = |inv: &Investigator, params: Value| -> u64 {
        p.launch(
            inv,
            "name='guarded'",
            "schedule",
            params,
            Duration::from_secs(600),
        )
    };
    let answer = |id: u64| -> mig_core::ModuleResult {
        let a = p.wait_action(id, Duration::from_secs(30));
        let cmds = p.api(&p.admin).commands(a.id, None).unwrap();
        cmds[0].results[0].clone()
    };
    let file_search = json!({"searches": {"s": {"paths": ["/etc"], "names": ["^hostname$"]}}});
    let refused = answer(launch(
        &bob,
        json!({"interval": "5s", "operations": [{"module": "file", "parameters": file_search}]}),
    ));
    assert!(!refused.success);
    assert!(
        refused.errors[0].contains("the schedule runs module file")
            && refused.errors[0].contains("ACL weight 1 < 2"),
        "{:?}",
        refused.errors
    );
    let nested = answer(launch(
        &bob,
        json!({"interval": "5s", "operations": [{"module": "schedule", "parameters": {"interval": "1s", "operations": []}}]}),
    ));
    assert!(
        !nested.success && nested.errors[0].contains("cannot be scheduled"),
        "{:?}",
        nested.errors
    );

    // Allowed, runs, is cancelled; the same signed action sent again is a replay.
    let query = json!({"interval": "2s", "operations": [{"module": "query", "parameters": {"sql": "SELECT 2 AS two"}}]});
    let id = launch(&bob, query.clone());
    assert!(answer(id).success);
    wait_for("a run", Duration::from_secs(20), || {
        (!runs(&p, id).is_empty()).then_some(())
    });
    // An unschedule naming the ID but another schedule's content (what a server that reused
    // the ID would get signed) leaves it running.
    let wrong = p.launch(
        &bob,
        "name='guarded'",
        "unschedule",
        json!({"schedule": id, "digest": "00".repeat(32)}),
        Duration::from_secs(600),
    );
    assert_eq!(answer(wrong).elements["cancelled"], false);
    let before = runs(&p, id).len();
    wait_for(
        "runs after the refused cancel",
        Duration::from_secs(20),
        || (runs(&p, id).len() > before).then_some(()),
    );
    let cancel = p.launch(
        &bob,
        "name='guarded'",
        "unschedule",
        json!({"schedule": id}),
        Duration::from_secs(600),
    );
    let cancelled = answer(cancel);
    assert_eq!(cancelled.elements["cancelled"], true, "{cancelled:?}");
    let signed = p.api(&p.admin).action(id).unwrap();
    let replayed = p
        .api(&p.admin)
        .create_action(&strip_server_fields(signed))
        .unwrap();
    let replay = answer(replayed.id);
    assert!(
        !replay.success && replay.errors[0].contains("replay"),
        "{:?}",
        replay.errors
    );

    // A schedule signed by Bob stops once Bob's key leaves the agent's keyring.
    let id = launch(
        &bob,
        json!({"interval": "2s", "operations": [{"module": "query", "parameters": {"sql": "SELECT 3 AS three"}}]}),
    );
    assert!(answer(id).success);
    wait_for("a run", Duration::from_secs(20), || {
        (!runs(&p, id).is_empty()).then_some(())
    });
    // No restart: the agent reloads its keyring, and checks the schedule again before its
    // next run.
    std::fs::remove_file(host.dir.join("keyring/bob-sched.asc")).unwrap();
    wait_for(
        "the schedule to be dropped",
        Duration::from_secs(30),
        || host.audit().contains("\"schedule ended\"").then_some(()),
    );
    assert!(!host
        .dir
        .join(format!("state/schedules/{id}.action.json"))
        .exists());
}

/// An action as the server returned it, made submittable again (the server sets its own
/// fields): what a compromised server could resend.
fn strip_server_fields(mut a: mig_core::Action) -> mig_core::Action {
    a.id = 0;
    a.status = Default::default();
    a.counters = Default::default();
    a.investigators.clear();
    a.starttime = mig_core::GoTime::zero();
    a.finishtime = mig_core::GoTime::zero();
    a.lastupdatetime = mig_core::GoTime::zero();
    a
}

/// A private rsyslogd listening on `port` (TLS with the platform's server certificate when
/// `tls`), writing each message it receives on a line of `out`.
struct Rsyslog {
    dir: PathBuf,
    child: Option<Child>,
}

impl Rsyslog {
    fn start(dir: &Path, port: u16, tls: Option<(&Path, &Path, &Path)>) -> Rsyslog {
        std::fs::create_dir_all(dir).unwrap();
        let driver = match tls {
            Some((ca, cert, key)) => format!(
                "global(DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\")\n\
                 module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n",
                ca.display(), cert.display(), key.display()
            ),
            None => "module(load=\"imtcp\")\n".into(),
        };
        let conf = format!(
            "global(workDirectory=\"{dir}\")\n{driver}\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             template(name=\"line\" type=\"string\" string=\"%hostname% %msgid% %msg%\\n\")\n\
             *.* action(type=\"omfile\" file=\"{dir}/out.log\" template=\"line\")\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            child: None,
        };
        r.restart();
        r
    }

    fn restart(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.dir.join("rsyslogd.log")).unwrap();
        self.child = Some(
            Command::new("rsyslogd")
                .arg("-n")
                .arg("-f")
                .arg(self.dir.join("rsyslog.conf"))
                .arg("-i")
                .arg(self.dir.join("rsyslogd.pid"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .expect("rsyslogd (apt install rsyslog rsyslog-gnutls)"),
        );
    }

    /// Stops it the way a service manager does (SIGTERM), and waits.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    /// Each message: (hostname, msgid, event).
    fn received(&self) -> Vec<(String, String, Value)> {
        std::fs::read_to_string(self.dir.join("out.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, ' ');
                let host = parts.next()?.to_string();
                let msgid = parts.next()?.to_string();
                let event = serde_json::from_str(parts.next()?.trim()).ok()?;
                Some((host, msgid, event))
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A small `_bulk` receiver: checks the framing (an `index` line with `_index` and `_id`, then
/// a document, each on its own line), keeps the documents by `_id`, and answers as
/// Elasticsearch does. While `refusing` holds, it answers 503.
struct BulkReceiver {
    port: u16,
    documents: std::sync::Arc<std::sync::Mutex<BTreeMap<String, Value>>>,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    refusing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BulkReceiver {
    fn start() -> BulkReceiver {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = BulkReceiver {
            port,
            documents: Default::default(),
            requests: Default::default(),
            refusing: Default::default(),
        };
        let (documents, requests, refusing) =
            (r.documents.clone(), r.requests.clone(), r.refusing.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert!(line.starts_with("POST /_bulk HTTP/1.1"), "{line}");
                let mut length = 0;
                let mut content_type = String::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    match k.to_ascii_lowercase().as_str() {
                        "content-length" => length = v.trim().parse().unwrap(),
                        "content-type" => content_type = v.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                requests.fetch_add(1, Ordering::SeqCst);
                let answer = if refusing.load(Ordering::SeqCst) {
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                } else {
                    assert_eq!(content_type, "application/x-ndjson");
                    let text = String::from_utf8(body).unwrap();
                    assert!(text.ends_with('\n'), "a _bulk body ends with a newline");
                    let lines: Vec<&str> = text.lines().collect();
                    assert_eq!(lines.len() % 2, 0, "action and document lines in pairs");
                    let mut items = Vec::new();
                    for pair in lines.chunks(2) {
                        let action: Value = serde_json::from_str(pair[0]).unwrap();
                        let id = action["index"]["_id"].as_str().expect("_id").to_string();
                        assert_eq!(action["index"]["_index"], "mig-test");
                        let doc: Value = serde_json::from_str(pair[1]).unwrap();
                        assert_eq!(doc["id"], id.as_str());
                        documents.lock().unwrap().insert(id.clone(), doc);
                        items.push(json!({"index": {"_id": id, "status": 201}}));
                    }
                    let body = json!({"took": 1, "errors": false, "items": items}).to_string();
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                };
                let _ = conn.write_all(answer.as_bytes());
            }
        });
        r
    }
}

/// Runs reach rsyslog over TCP and over TLS, and an HTTP `_bulk` receiver; each sink that
/// goes away (rsyslog restarted mid-stream, the receiver answering 503) catches up once it
/// is back, every event there at the end.
#[test]
fn runs_reach_syslog_over_tcp_and_tls_and_an_http_bulk_receiver() {
    let work = tempfile::tempdir().unwrap();
    let (tcp_port, tls_port) = (mig_e2e::free_port(), mig_e2e::free_port());
    let bulk = BulkReceiver::start();
    let mut p = Platform::start();
    // rsyslog's TLS certificate is the platform's server certificate (for localhost), signed
    // by its CA; the exporters are configured, then the server restarted with them.
    let ca = p.pki("ca.pem");
    let extra = format!(
        "\n[[export]]\nname = \"syslog-tcp\"\nkind = \"syslog\"\naddress = \"127.0.0.1:{tcp_port}\"\nbatch = 20\nretry_max = \"2s\"\n\
         \n[[export]]\nname = \"syslog-tls\"\nkind = \"syslog\"\naddress = \"localhost:{tls_port}\"\ntls = true\nca = {ca:?}\nretry_max = \"2s\"\n\
         \n[[export]]\nname = \"bulk\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{}/_bulk\"\nindex = \"mig-test\"\nretry_max = \"2s\"\n",
        bulk.port,
        ca = ca.display().to_string(),
    );
    let mut toml = std::fs::read_to_string(p.server_config()).unwrap();
    toml.push_str(&extra);
    std::fs::write(p.server_config(), toml).unwrap();
    p.kill_server();
    p.start_server();
    let mut plain = Rsyslog::start(&work.path().join("tcp"), tcp_port, None);
    let secure = Rsyslog::start(
        &work.path().join("tls"),
        tls_port,
        Some((&p.pki("ca.pem"), &p.pki("server.pem"), &p.pki("server.key"))),
    );
    let _hosts = agents(&p, &["exporting"]);
    // Ten rows at every run, all new every time (the time is in them).
    let id = schedule(
        &p,
        &p.admin,
        "name='exporting'",
        "5m",
        "1s",
        "SELECT value, strftime('%s','now') || '-' || value AS stamp FROM (WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 10) SELECT value FROM n)",
    );
    wait_for("syslog to receive events", Duration::from_secs(30), || {
        (plain.received().len() >= 40).then_some(())
    });
    // rsyslog restarted mid-stream, the bulk receiver refusing for a while.
    plain.stop();
    bulk.refusing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(4));
    plain.restart();
    bulk.refusing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(4));
    let out = p.mig(&p.admin, &["schedule", "cancel", &id.to_string(), "-y"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_secs(2));

    // What the server stored is what each sink must have: every row of every run.
    let expected: BTreeSet<String> = runs(&p, id)
        .iter()
        .flat_map(|r| {
            let n = r["results"][0]["elements"]["added"]
                .as_array()
                .map_or(0, Vec::len)
                + r["results"][0]["elements"]["removed"]
                    .as_array()
                    .map_or(0, Vec::len);
            let run = r["id"].as_u64().unwrap();
            (0..n).map(move |i| format!("{run}-0-{i}"))
        })
        .collect();
    assert!(expected.len() >= 100, "{} events", expected.len());
    let ids_of = |received: Vec<(String, String, Value)>| -> Vec<String> {
        received
            .into_iter()
            .map(|(host, msgid, e)| {
                assert_eq!(host, "exporting");
                assert_eq!(msgid, "schedule");
                e["id"].as_str().unwrap().to_string()
            })
            .collect()
    };
    wait_for(
        "every sink to have every event",
        Duration::from_secs(40),
        || {
            let tcp: BTreeSet<String> = ids_of(plain.received()).into_iter().collect();
            let tls: BTreeSet<String> = ids_of(secure.received()).into_iter().collect();
            let http: BTreeSet<String> = bulk.documents.lock().unwrap().keys().cloned().collect();
            (expected.is_subset(&tcp) && expected.is_subset(&tls) && expected.is_subset(&http))
                .then_some(())
        },
    );
    // Over TCP, nothing twice either: rsyslog's restart was seen before anything was written
    // into the dead connection.
    let tcp = ids_of(plain.received());
    let distinct: BTreeSet<&String> = tcp.iter().collect();
    assert_eq!(distinct.len(), tcp.len(), "events received twice over TCP");
    let log = p.server_log();
    assert!(
        log.contains("exporter bulk") && log.contains("503"),
        "the refusals were retried: {log}"
    );
    assert!(bulk.requests.load(std::sync::atomic::Ordering::SeqCst) > 2);
}
