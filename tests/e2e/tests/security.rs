//! The holes an attack on a running platform found, each closed and tested here with real
//! processes: signatures re-encoded to be run again, limits per action, the audit trail of a
//! run the agent never finished, idle connections, oversized results, and the server's
//! answers to hostile input.

use mig_core::{Action, GoTime, Operation};
use mig_e2e::{acl, attack, wait_for, Investigator, Platform, ServerOptions};
use mig_pgp::{KeySigner, Signer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn hostname_search() -> Operation {
    Operation::new(
        "file",
        json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"], "options": {"matchall": true}}}}),
    )
}

/// An action of `operations` signed by each of `signers`, valid for five minutes.
fn signed(
    name: &str,
    target: &str,
    operations: Vec<Operation>,
    signers: &[&Investigator],
) -> Action {
    let now = chrono::Utc::now();
    let mut a = Action {
        name: name.into(),
        target: target.into(),
        validfrom: GoTime(now - chrono::Duration::seconds(30)),
        expireafter: GoTime(now + chrono::Duration::seconds(300)),
        operations,
        syntaxversion: 2,
        ..Default::default()
    };
    for inv in signers {
        let signer = KeySigner::from_file(&inv.key_file, None).unwrap();
        a.pgpsignatures
            .push(signer.sign(a.signing_text().as_bytes()).unwrap());
    }
    a
}

/// Submits an action through the API, waits for it to finish, and returns its one command.
fn run_through_api(p: &Platform, action: &Action) -> mig_core::Command {
    let id = p.api(&p.admin).create_action(action).unwrap().id;
    let done = p.wait_action(id, Duration::from_secs(60));
    assert_eq!(done.status, "completed", "{done:?}");
    let commands = p.api(&p.admin).commands(id, None).unwrap();
    assert_eq!(commands.len(), 1, "{commands:?}");
    commands.into_iter().next().unwrap()
}

/// A fresh API token signed by the platform's admin (each may be used once).
fn token(p: &Platform) -> String {
    let signer = KeySigner::from_file(&p.admin.key_file, None).unwrap();
    mig_pgp::token::make_token(&signer, chrono::Utc::now()).unwrap()
}

fn error_text(c: &mig_core::Command) -> String {
    c.results
        .iter()
        .flat_map(|r| r.errors.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_signature_re_encoded_or_split_off_is_refused_as_a_replay() {
    let p = Platform::start();
    let bob = p.investigator("Bob");
    p.add_investigator(&bob, "investigator");
    let mut agent = p.agent("target", &[&p.admin, &bob], acl(1, &[&p.admin, &bob]), "");
    p.wait_online("target");

    let original = signed(
        "replayed",
        "name='target'",
        vec![hostname_search()],
        &[&p.admin],
    );
    let first = run_through_api(&p, &original);
    assert_eq!(first.status, "success", "{first:?}");

    let forms = attack::signature_reencodings(&original.pgpsignatures[0]);
    assert!(forms.len() >= 6);
    for (how, encoded) in &forms {
        let mut again = original.clone();
        again.pgpsignatures = vec![encoded.clone()];
        let c = run_through_api(&p, &again);
        assert_eq!(c.status, "failed", "{how}: {c:?}");
        assert!(
            error_text(&c).contains("replay refused"),
            "{how}: {}",
            error_text(&c)
        );
    }

    // Two signers: the action runs once; either signature alone is the same decision.
    let both = signed(
        "two signers",
        "name='target'",
        vec![hostname_search()],
        &[&p.admin, &bob],
    );
    assert_eq!(run_through_api(&p, &both).status, "success");
    for keep in 0..2 {
        let mut alone = both.clone();
        alone.pgpsignatures = vec![both.pgpsignatures[keep].clone()];
        let c = run_through_api(&p, &alone);
        assert!(
            error_text(&c).contains("replay refused"),
            "signature {keep}: {c:?}"
        );
    }

    // The endpoint's audit log: two runs, each started then ran; every replay refused.
    let audit = agent.audit();
    assert_eq!(
        audit.matches("\"outcome\":\"started\"").count(),
        2,
        "{audit}"
    );
    assert_eq!(audit.matches("\"outcome\":\"ran\"").count(), 2, "{audit}");
    assert_eq!(
        audit.matches("replay refused").count(),
        forms.len() + 2,
        "{audit}"
    );
    // What was searched is in the log, not only the action's name.
    assert!(audit.contains("^hostname$"), "{audit}");
    // And the replay memory survives a restart of the agent.
    agent.stop();
    agent.start();
    p.wait_online("target");
    let mut again = original.clone();
    again.pgpsignatures = vec![forms[0].1.clone()];
    assert!(error_text(&run_through_api(&p, &again)).contains("replay refused"));
}

#[test]
fn an_agent_runs_at_most_its_slots_of_modules_at_once() {
    let p = Platform::start();
    let agent = p.agent(
        "slots",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "module_slots = 2\n",
    );
    p.wait_online("slots");
    let ops = vec![Operation::new("testsleep", json!({"ms": 400})); 6];
    let c = run_through_api(&p, &signed("six sleeps", "name='slots'", ops, &[&p.admin]));
    assert_eq!(c.status, "success", "{c:?}");
    let spans: Vec<(u64, u64)> = c
        .results
        .iter()
        .map(|r| {
            (
                r.elements["start"].as_u64().unwrap(),
                r.elements["end"].as_u64().unwrap(),
            )
        })
        .collect();
    // At the start of each operation, how many were running.
    let most = spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap();
    assert!(most <= 2, "{most} ran at once: {spans:?}");
    assert!(most >= 1);
    let _ = agent;
}

#[test]
fn a_run_the_agent_never_finished_is_audited_killed_and_reported() {
    let p = Platform::start();
    let mut agent = p.agent("crashy", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("crashy");
    let action = signed(
        "hangs",
        "name='crashy'",
        vec![Operation::new("testhang", json!({}))],
        &[&p.admin],
    );
    let id = p.api(&p.admin).create_action(&action).unwrap().id;
    // The audit log says it started while it runs.
    wait_for(
        "the run's start in the audit log",
        Duration::from_secs(30),
        || {
            agent
                .audit()
                .contains("\"outcome\":\"started\"")
                .then_some(())
        },
    );
    assert!(
        agent.audit().contains("\"module\":\"testhang\""),
        "{}",
        agent.audit()
    );
    let module_pid = wait_for("the module process", Duration::from_secs(10), || {
        let state = agent.dir.join("state/inflight");
        let record = std::fs::read_dir(&state).ok()?.flatten().next()?;
        let r: Value = serde_json::from_slice(&std::fs::read(record.path()).ok()?).ok()?;
        r["children"][0]["pid"].as_u64()
    });
    // The agent dies without a chance to clean up; its module goes with it.
    agent.stop();
    wait_for(
        "the module to die with its agent",
        Duration::from_secs(10),
        || {
            (!std::path::Path::new(&format!("/proc/{module_pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{module_pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")))
            .then_some(())
        },
    );
    agent.start();
    let done = p.wait_action(id, Duration::from_secs(60));
    let commands = p.api(&p.admin).commands(done.id, None).unwrap();
    assert_eq!(commands[0].status, "failed", "{commands:?}");
    assert!(
        error_text(&commands[0]).contains("the agent stopped while this command ran"),
        "{commands:?}"
    );
    let audit = agent.audit();
    assert!(audit.contains("\"outcome\":\"interrupted\""), "{audit}");
}

#[test]
fn an_idle_agent_keeps_its_connection_and_answers_at_once() {
    let p = Platform::start_with(ServerOptions {
        relay: "ping_interval = \"1s\"".into(),
        ..Default::default()
    });
    let agent = p.agent(
        "quiet",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "relay_silence = \"3s\"\n",
    );
    p.wait_online("quiet");
    // Ten silence windows with nothing to do but answer pings.
    std::thread::sleep(Duration::from_secs(30));
    let connections = agent.log().matches("connected to").count();
    assert_eq!(connections, 1, "reconnected while idle:\n{}", agent.log());
    let started = Instant::now();
    let c = run_through_api(
        &p,
        &signed(
            "after a quiet spell",
            "name='quiet'",
            vec![hostname_search()],
            &[&p.admin],
        ),
    );
    assert_eq!(c.status, "success");
    eprintln!(
        "answered {:.2}s after launch",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        agent.log().matches("connected to").count(),
        1,
        "{}",
        agent.log()
    );
}

#[test]
fn a_result_over_the_relay_cap_is_cut_where_it_is_made_and_the_agent_stays_connected() {
    let p = Platform::start();
    let agent = p.agent("big", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("big");
    // 40,000 rows of 1,000 characters: 40 MB, more than twice the relay's 16 MiB.
    let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 40000) \
               SELECT x, hex(zeroblob(500)) AS pad FROM c";
    let op = Operation::new("query", json!({"sql": sql, "maxrows": 100000}));
    let c = run_through_api(
        &p,
        &signed("forty megabytes", "name='big'", vec![op], &[&p.admin]),
    );
    assert_eq!(c.status, "success", "{}", error_text(&c));
    let rows = c.results[0].elements["rows"].as_array().unwrap().len();
    assert!(rows > 10_000 && rows < 17_000, "{rows} rows kept");
    assert!(
        error_text(&c).contains("one result may take"),
        "{}",
        error_text(&c)
    );
    // Still connected: the next action is answered on the same connection.
    let next = run_through_api(
        &p,
        &signed("after", "name='big'", vec![hostname_search()], &[&p.admin]),
    );
    assert_eq!(next.status, "success");
    assert_eq!(
        agent.log().matches("connected to").count(),
        1,
        "{}",
        agent.log()
    );
}

#[test]
fn the_api_refuses_hostile_actions_and_targets_with_json_errors() {
    let p = Platform::start();
    let http = p.http();
    let client = p.api(&p.admin);
    let json_error = |r: reqwest::blocking::Response, status: u16| -> String {
        assert_eq!(r.status().as_u16(), status);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/json"), "{ct}");
        let v: Value = r.json().unwrap();
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()
    };

    // 999 ORs: a clear 400, at the preview and at creation.
    let ors = vec!["id=1"; 999].join(" OR ");
    let err = client.preview(&ors).unwrap_err().to_string();
    assert!(err.contains("combines 999 conditions"), "{err}");
    let err = client
        .create_action(&signed("deep", &ors, vec![hostname_search()], &[&p.admin]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("combines 999 conditions"), "{err}");

    // Too many operations, too many parameters.
    let err = client
        .create_action(&signed(
            "many",
            "TRUE",
            vec![hostname_search(); 65],
            &[&p.admin],
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than the 64"), "{err}");
    let mut big = Operation::new("file", json!({"pad": "x".repeat(5 << 20)}));
    big.compress();
    let err = client
        .create_action(&signed("huge", "TRUE", vec![big; 4], &[&p.admin]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expand beyond"), "{err}");

    // A read-only investigator's signature does not count, whoever submits it.
    // (The API reads investigators again within seconds of a change made outside it.)
    let rita = p.investigator("Rita");
    p.add_investigator(&rita, "readonly");
    let err = wait_for("the API to know Rita", Duration::from_secs(15), || {
        let err = client
            .create_action(&signed("rita", "TRUE", vec![hostname_search()], &[&rita]))
            .unwrap_err()
            .to_string();
        (!err.contains("unknown signer")).then_some(err)
    });
    assert!(err.contains("Rita") && err.contains("read-only"), "{err}");

    // axum's own refusals are JSON too.
    let authed = |rb: reqwest::blocking::RequestBuilder| rb.header("X-PGPAUTHORIZATION", token(&p));
    let r = authed(http.get(p.api_url("/api/v1/actions/not-a-number")))
        .send()
        .unwrap();
    assert!(!json_error(r, 400).is_empty());
    // An oversized body through curl, which asks before sending it (Expect: 100-continue):
    // the refusal comes back whole instead of racing the upload.
    let body = p.dir.path().join("big.json");
    std::fs::write(&body, vec![b' '; 17 << 20]).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(p.pki("ca.pem"))
        .args(["-H", &format!("X-PGPAUTHORIZATION: {}", token(&p))])
        .args([
            "-H",
            "Content-Type: application/json",
            "-w",
            "\n%{http_code} %{content_type}",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(p.api_url("/api/v1/actions"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (reply, status) = text.rsplit_once('\n').unwrap();
    assert!(status.starts_with("413 application/json"), "{text}");
    let v: Value = serde_json::from_str(reply).unwrap();
    assert!(v["error"].is_string(), "{v}");
    let r = authed(http.delete(p.api_url("/api/v1/actions")))
        .send()
        .unwrap();
    assert!(!json_error(r, 405).is_empty());
}

#[test]
fn long_lists_come_in_pages_within_the_response_budget() {
    let p = Platform::start();
    let client = p.api(&p.admin);
    // Four actions of 3 MiB of parameters each (targeting nobody: they end invalid).
    for i in 0..4 {
        let op = Operation::new("file", json!({"pad": "y".repeat(3 << 20), "n": i}));
        client
            .create_action(&signed(
                &format!("big {i}"),
                "name='nobody'",
                vec![op],
                &[&p.admin],
            ))
            .unwrap();
    }
    let http = p.http();
    let mut seen = Vec::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let r = http
            .get(p.api_url(&format!("/api/v1/actions?limit=100&offset={offset}")))
            .header("X-PGPAUTHORIZATION", token(&p))
            .send()
            .unwrap();
        assert!(r.status().is_success());
        let body = r.bytes().unwrap();
        assert!(body.len() <= (8 << 20) + (4 << 20), "{} bytes", body.len());
        let v: Value = serde_json::from_slice(&body).unwrap();
        for a in v["actions"].as_array().unwrap() {
            seen.push(a["name"].as_str().unwrap().to_string());
        }
        pages += 1;
        match v["next_offset"].as_i64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["big 0", "big 1", "big 2", "big 3"], "{pages} pages");
    assert!(pages >= 2, "one response held 12 MiB");
}

#[test]
fn oversized_tags_and_a_flood_of_new_agents_are_refused() {
    let p = Platform::start_with(ServerOptions {
        extra: "[agents]\nnew_per_second = 0\nnew_burst = 2\n".into(),
        ..Default::default()
    });
    let tags: String = (0..100).map(|i| format!("t{i} = \"v\"\n")).collect();
    let tagged = p.agent(
        "tagged",
        &[&p.admin],
        acl(1, &[&p.admin]),
        &format!("[tags]\n{tags}"),
    );
    wait_for("the refusal", Duration::from_secs(20), || {
        tagged
            .log()
            .contains("100 tags, more than the 64")
            .then_some(())
    });
    // Two new agents may register; the third is told to come back later.
    let _one = p.agent("one", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("one");
    let _two = p.agent("two", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("two");
    let three = p.agent("three", &[&p.admin], acl(1, &[&p.admin]), "");
    wait_for("the third refused", Duration::from_secs(20), || {
        three.log().contains("too many new agents").then_some(())
    });
    // Known agents come back at any rate.
    let mut one = _one;
    one.stop();
    one.start();
    p.wait_online("one");
}

/// Runs SQL on the platform's SQLite database from outside the server (as a disk error or a
/// hand edit would change it).
fn tamper(p: &Platform, sql: &str) {
    let path = p.dir.path().join("server/mig.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::Connection;
            let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut db)
                .await
                .unwrap();
            db.close().await.unwrap();
        });
}

#[test]
fn an_action_that_cannot_be_launched_is_invalid_with_its_reason_and_the_others_launch() {
    let p = Platform::start();
    let _agent = p.agent("steady", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("steady");
    let client = p.api(&p.admin);

    // An action whose row became unreadable while it waited for its start.
    let mut later = signed(
        "later",
        "name='steady'",
        vec![hostname_search()],
        &[&p.admin],
    );
    later.validfrom = GoTime(chrono::Utc::now() + chrono::Duration::seconds(3));
    let later = signed_again(later, &p.admin);
    let later_id = client.create_action(&later).unwrap().id;
    tamper(
        &p,
        &format!("UPDATE actions SET action_json = 'garbage' WHERE id = {later_id}"),
    );
    // An agent whose stored environment the database cannot read as JSON: a target on it
    // fails in the database.
    tamper(
        &p,
        "UPDATE agents SET environment = 'not json' WHERE name = 'steady'",
    );
    let broken = client
        .create_action(&signed(
            "on the environment",
            "environment->>'ident' = 'x'",
            vec![hostname_search()],
            &[&p.admin],
        ))
        .unwrap()
        .id;
    let fine = client
        .create_action(&signed(
            "by name",
            "name='steady'",
            vec![hostname_search()],
            &[&p.admin],
        ))
        .unwrap()
        .id;

    let fine = p.wait_action(fine, Duration::from_secs(30));
    assert_eq!(fine.status, "completed", "{fine:?}");
    let broken = p.wait_action(broken, Duration::from_secs(30));
    assert_eq!(broken.status, "invalid", "{broken:?}");
    assert!(
        broken.reason.contains("could not be launched"),
        "{broken:?}"
    );
    let later = p.wait_action(later_id, Duration::from_secs(30));
    assert_eq!(later.status, "invalid");
    assert!(later.reason.contains("corrupt"), "{later:?}");
}

/// The same action signed again after a change.
fn signed_again(mut a: Action, by: &Investigator) -> Action {
    a.pgpsignatures.clear();
    let signer = KeySigner::from_file(&by.key_file, None).unwrap();
    a.pgpsignatures
        .push(signer.sign(a.signing_text().as_bytes()).unwrap());
    a
}
