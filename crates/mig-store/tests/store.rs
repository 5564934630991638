//! Every store query, on SQLite and (when MIG_TEST_DATABASE_URL is set) PostgreSQL.

use mig_core::target::parse;
use mig_core::{Action, Agent, AgentEnv, GoTime, ModuleResult, Operation};
use mig_store::agents::AgentFilter;
use mig_store::commands::{CommandFilter, IncomingResult};
use mig_store::Store;
use std::collections::BTreeMap;

/// A fresh, empty store per backend. PostgreSQL tests get their own schema.
async fn stores() -> Vec<(String, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mig.db", dir.path().display());
    let mut out = vec![(
        "sqlite".to_string(),
        Store::connect(&url).await.unwrap(),
        Some(dir),
    )];
    match std::env::var("MIG_TEST_DATABASE_URL") {
        Ok(base) => out.push(("postgres".to_string(), pg_store(&base).await, None)),
        Err(_) => eprintln!("MIG_TEST_DATABASE_URL not set: PostgreSQL store tests skipped"),
    }
    out
}

async fn pg_store(base: &str) -> Store {
    Store::connect(&pg_schema(base).await).await.unwrap()
}

/// Stores `a`, schedules it and launches it as scheduler "s" at `t0` (its commands claimed for
/// dispatch until `dispatch_claimed_until`, 0 for none): what it delivers.
async fn launch(
    store: &Store,
    a: &Action,
    t0: i64,
    dispatch_claimed_until: i64,
) -> Vec<mig_store::actions::Envelope> {
    store.insert_action(a, &[], 0, t0).await.unwrap();
    store.schedule_due_actions(t0).await.unwrap();
    store.claim_actions("s", t0, 30_000, 10).await.unwrap();
    let targets = store
        .resolve_target(&parse(&a.target).unwrap(), t0)
        .await
        .unwrap();
    store
        .launch_action(a.id, "s", &targets, t0, dispatch_claimed_until)
        .await
        .unwrap()
}

/// A successful result for the command in `e`, as agent `agent_id` sends it at `t0`.
fn answer(
    e: &mig_store::actions::Envelope,
    agent_id: u64,
    status: &str,
    found: bool,
    t0: i64,
) -> IncomingResult {
    IncomingResult {
        command_id: e.command_id,
        agent_id,
        status: status.into(),
        results: vec![ModuleResult {
            foundanything: found,
            success: true,
            ..Default::default()
        }],
        starttime_ms: t0,
        finishtime_ms: t0 + 1,
    }
}

/// The commands of an action that found something.
async fn found_commands(store: &Store, action_id: u64) -> Vec<mig_core::Command> {
    store
        .list_commands(&CommandFilter {
            action_id: Some(action_id),
            found: Some(true),
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// A new, empty schema: the URL to use it.
async fn pg_schema(base: &str) -> String {
    use sqlx::Connection;
    let schema = format!("mig_test_{}", mig_core::id::generate());
    let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

#[tokio::test]
async fn server_processes_starting_together_migrate_once() {
    let Ok(base) = std::env::var("MIG_TEST_DATABASE_URL") else {
        eprintln!("MIG_TEST_DATABASE_URL not set: skipped");
        return;
    };
    let url = pg_schema(&base).await;
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = url.clone();
        starts.spawn(async move { Store::connect(&url).await });
    }
    while let Some(started) = starts.join_next().await {
        let store = started.unwrap().expect("every process starts");
        assert_eq!(store.queued_commands().await.unwrap(), 0);
    }
}

fn heartbeat(name: &str, os: &str, arch: &str, tags: &[(&str, &str)]) -> Agent {
    Agent {
        name: name.into(),
        queueloc: format!("{os}.{name}.q{}", name.len()),
        mode: "daemon".into(),
        version: "1.0".into(),
        pid: 42,
        starttime: GoTime::now(),
        environment: AgentEnv {
            os: os.into(),
            arch: arch.into(),
            ident: format!("{os} ident"),
            init: "systemd".into(),
            addresses: vec![format!("10.1.{}.7/24", name.len())],
            ..Default::default()
        },
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    }
}

fn now() -> i64 {
    GoTime::now().unix_millis()
}

fn action(target: &str, valid_from_ms: i64, expire_ms: i64) -> Action {
    Action {
        id: mig_core::id::generate(),
        name: "test action".into(),
        target: target.into(),
        validfrom: GoTime::from_unix_millis(valid_from_ms).unwrap(),
        expireafter: GoTime::from_unix_millis(expire_ms).unwrap(),
        operations: vec![Operation::new("file", serde_json::json!({"searches": {}}))],
        pgpsignatures: vec!["sig".into()],
        syntaxversion: 2,
        ..Default::default()
    }
}

async fn fleet(store: &Store) -> Vec<u64> {
    let mut ids = Vec::new();
    for hb in [
        heartbeat("web1", "linux", "amd64", &[("env", "prod")]),
        heartbeat("web2", "linux", "arm64", &[("env", "staging")]),
        heartbeat("mac1", "darwin", "arm64", &[]),
        heartbeat("Web3", "linux", "amd64", &[("env", "prod")]),
    ] {
        ids.push(
            store
                .register_heartbeat(&hb, "key", now())
                .await
                .unwrap()
                .id,
        );
    }
    ids
}

async fn names(store: &Store, target: &str) -> Vec<String> {
    let t = parse(target).unwrap_or_else(|e| panic!("{target}: {e}"));
    let ids = store
        .resolve_target(&t, now())
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    let mut n: Vec<String> = ids.into_iter().map(|a| a.name).collect();
    n.sort();
    n
}

#[tokio::test]
async fn targets_select_the_same_agents_on_every_backend() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("status='online'", vec!["Web3", "mac1", "web1", "web2"]),
        ("os='linux'", vec!["Web3", "web1", "web2"]),
        ("name like 'web%'", vec!["web1", "web2"]),
        ("name ilike 'web%'", vec!["Web3", "web1", "web2"]),
        ("name not like 'web%'", vec!["Web3", "mac1"]),
        (
            "queueloc like 'linux.%' and arch = 'amd64'",
            vec!["Web3", "web1"],
        ),
        (
            "arch in ('arm64') or tags->>'env' = 'prod'",
            vec!["Web3", "mac1", "web1", "web2"],
        ),
        ("tags->>'env' = 'prod' and not name = 'web1'", vec!["Web3"]),
        ("tags->>'env' is null", vec!["mac1"]),
        ("environment->>'ident' like 'darwin%'", vec!["mac1"]),
        (
            "environment#>>'{init}' = 'systemd' and os <> 'linux'",
            vec!["mac1"],
        ),
        (
            "heartbeattime > NOW() - interval '1 minute'",
            vec!["Web3", "mac1", "web1", "web2"],
        ),
        ("heartbeattime < NOW() - interval '1 hour'", vec![]),
        (
            "pid = 42 and name in ('web1', 'mac1')",
            vec!["mac1", "web1"],
        ),
        ("name = 'x'' OR 1=1 --'", vec![]),
        ("name like 'web\\_%'", vec![]),
        ("TRUE", vec!["Web3", "mac1", "web1", "web2"]),
        // Addresses are a JSON list: matched as its text.
        (
            "environment->>'addresses' like '%\"10.1.4.%'",
            vec!["Web3", "mac1", "web1", "web2"],
        ),
        ("environment->>'addresses' like '%10.1.9.%'", vec![]),
    ];
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        for (target, want) in &cases {
            assert_eq!(names(&store, target).await, *want, "{backend}: {target}");
        }
    }
}

#[tokio::test]
async fn heartbeats_register_pin_identity_and_age() {
    for (backend, store, _dir) in stores().await {
        let hb = heartbeat("host", "linux", "amd64", &[]);
        let first = store.register_heartbeat(&hb, "key-a", now()).await.unwrap();
        assert!(first.new);
        let again = store.register_heartbeat(&hb, "key-a", now()).await.unwrap();
        assert_eq!(again.id, first.id, "{backend}");
        assert!(!again.new);
        let err = store
            .register_heartbeat(&hb, "key-b", now())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("another agent key"),
            "{backend}: {err}"
        );

        let agent = store.get_agent(first.id).await.unwrap();
        assert_eq!(agent.status, "online");
        assert_eq!(agent.environment.init, "systemd");
        // 10 minutes later: idle after 5 minutes, offline after an hour.
        let later = now() + 600_000;
        assert_eq!(
            store
                .refresh_agent_statuses(later, 300_000, 3_600_000)
                .await
                .unwrap(),
            (1, 0)
        );
        assert_eq!(store.get_agent(first.id).await.unwrap().status, "idle");
        let much_later = now() + 7_200_000;
        assert_eq!(
            store
                .refresh_agent_statuses(much_later, 300_000, 3_600_000)
                .await
                .unwrap(),
            (0, 1)
        );
        assert_eq!(store.get_agent(first.id).await.unwrap().status, "offline");
        // A heartbeat brings it back.
        store.register_heartbeat(&hb, "key-a", now()).await.unwrap();
        assert_eq!(store.get_agent(first.id).await.unwrap().status, "online");

        let list = store
            .list_agents(
                &AgentFilter {
                    name: Some("HO%".into()),
                    limit: 10,
                    ..Default::default()
                },
                now(),
            )
            .await
            .unwrap();
        assert_eq!(list.len(), 1, "{backend}");
    }
}

#[tokio::test]
async fn action_lifecycle_and_exact_counters() {
    for (backend, store, _dir) in stores().await {
        let agents = fleet(&store).await;
        let t0 = now();
        let a = action("os='linux'", t0 + 1_000, t0 + 60_000);
        store.insert_action(&a, &[], 0, t0).await.unwrap();
        assert_eq!(store.get_action(a.id).await.unwrap().status, "pending");

        // Not yet valid: nothing is scheduled.
        assert_eq!(store.schedule_due_actions(t0).await.unwrap(), 0);
        assert_eq!(store.schedule_due_actions(t0 + 2_000).await.unwrap(), 1);
        assert_eq!(store.get_action(a.id).await.unwrap().status, "scheduled");

        // Two schedulers: only one gets the action.
        let claimed_a = store
            .claim_actions("sched-a", t0 + 2_000, 30_000, 10)
            .await
            .unwrap();
        let claimed_b = store
            .claim_actions("sched-b", t0 + 2_000, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed_a.len(), 1, "{backend}");
        assert!(claimed_b.is_empty(), "{backend}");
        // A lease that ran out is taken over.
        let taken = store
            .claim_actions("sched-b", t0 + 40_000, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "{backend}");
        // The old owner can no longer launch it.
        let targets = store
            .resolve_target(&parse(&a.target).unwrap(), t0)
            .await
            .unwrap();
        assert!(store
            .launch_action(a.id, "sched-a", &targets, t0 + 40_000, 0)
            .await
            .unwrap()
            .is_empty());
        let envelopes = store
            .launch_action(a.id, "sched-b", &targets, t0 + 40_000, 0)
            .await
            .unwrap();
        assert_eq!(envelopes.len(), 3, "{backend}");
        let cmd: mig_core::Command =
            mig_core::Command::from_json(envelopes[0].payload.as_bytes()).unwrap();
        assert_eq!(cmd.action.id, a.id);
        assert_eq!(
            cmd.action.signing_text(),
            a.signing_text(),
            "agents get the action as signed"
        );

        let got = store.get_action(a.id).await.unwrap();
        assert_eq!(got.status, "inflight");
        assert_eq!(
            (got.counters.sent, got.counters.inflight, got.counters.done),
            (3, 3, 0)
        );

        // Queued for each agent until answered.
        let e0 = &envelopes[0];
        assert_eq!(
            store
                .pending_for_agent(e0.agent_id, t0)
                .await
                .unwrap()
                .len(),
            1
        );
        let found = ModuleResult {
            foundanything: true,
            success: true,
            ..Default::default()
        };
        let result = |e: &mig_store::actions::Envelope, status: &str, found: bool| {
            answer(e, e.agent_id, status, found, t0)
        };
        let stored = store
            .store_results(&[result(e0, "success", true)])
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        // Delivered twice: stored once.
        let again = store
            .store_results(&[result(e0, "failed", false)])
            .await
            .unwrap();
        assert!(again.is_empty(), "{backend}");
        assert!(store
            .pending_for_agent(e0.agent_id, t0)
            .await
            .unwrap()
            .is_empty());
        // An agent cannot answer another agent's command.
        let mut forged = result(&envelopes[1], "success", true);
        forged.agent_id = e0.agent_id;
        assert!(
            store.store_results(&[forged]).await.unwrap().is_empty(),
            "{backend}"
        );
        assert_eq!(
            store
                .pending_for_agent(envelopes[1].agent_id, t0)
                .await
                .unwrap()
                .len(),
            1,
            "{backend}: still queued for its own agent"
        );
        store
            .store_results(&[result(&envelopes[1], "timeout", false)])
            .await
            .unwrap();

        let got = store.get_action(a.id).await.unwrap();
        let c = got.counters;
        assert_eq!(
            (c.sent, c.done, c.inflight, c.success, c.timeout),
            (3, 2, 1, 1, 1),
            "{backend}"
        );
        let _ = found;

        // found()/notfound() targets see the results.
        assert_eq!(names(&store, &format!("found({})", a.id)).await.len(), 1);
        assert_eq!(names(&store, &format!("notfound({})", a.id)).await.len(), 1);
        let mig = format!("id IN (select agentid from commands, json_array_elements(commands.results) as r where actionid={} and r#>>'{{foundanything}}' = 'true')", a.id);
        assert_eq!(names(&store, &mig).await.len(), 1, "{backend}");

        // Nothing finishes while a command is outstanding…
        assert!(store.finish_actions(t0 + 41_000).await.unwrap().is_empty());
        // …until the action expires: the last command expires, and so does the action.
        let done = store.finish_actions(t0 + 61_000).await.unwrap();
        assert_eq!(done, vec![(a.id, "expired".to_string())], "{backend}");
        let c = store.get_action(a.id).await.unwrap().counters;
        assert_eq!((c.sent, c.done, c.expired, c.inflight), (3, 3, 1, 0));
        assert!(store
            .pending_for_agent(envelopes[2].agent_id, t0)
            .await
            .unwrap()
            .is_empty());

        let cmds = found_commands(&store, a.id).await;
        assert_eq!(cmds.len(), 1);
        assert!(cmds[0].results[0].foundanything);
        let full = store.get_command(cmds[0].id).await.unwrap();
        assert_eq!(full.action.target, "os='linux'");
        let _ = agents;
    }
}

#[tokio::test]
async fn completion_cancel_invalid_and_never_launched() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let t0 = now();
        // Completed: every command answered before expiry.
        let a = action("name = 'web1'", t0, t0 + 60_000);
        let env = launch(&store, &a, t0, 0).await;
        store
            .store_results(&[answer(&env[0], env[0].agent_id, "success", false, t0)])
            .await
            .unwrap();
        assert_eq!(
            store.finish_actions(t0 + 1).await.unwrap(),
            vec![(a.id, "completed".into())],
            "{backend}"
        );

        // Cancelled: outstanding commands become cancelled and leave the queue.
        let b = action("os = 'linux'", t0, t0 + 60_000);
        let env = launch(&store, &b, t0, 0).await;
        assert_eq!(store.cancel_action(b.id, t0).await.unwrap(), 3);
        assert!(store
            .pending_for_agent(env[0].agent_id, t0)
            .await
            .unwrap()
            .is_empty());
        let c = store.get_action(b.id).await.unwrap();
        assert_eq!(
            (c.status.as_str(), c.counters.cancelled),
            ("cancelled", 3),
            "{backend}"
        );
        assert!(store
            .cancel_action(b.id, t0)
            .await
            .unwrap_err()
            .to_string()
            .contains("already cancelled"));

        // Invalid: the scheduler marks it when the target selects nobody.
        let i = action("name = 'nobody'", t0, t0 + 60_000);
        store.insert_action(&i, &[], 0, t0).await.unwrap();
        store.set_action_status(i.id, "invalid", t0).await.unwrap();
        assert_eq!(store.get_action(i.id).await.unwrap().status, "invalid");

        // Never launched before its expiry (server down): expired.
        let e = action("TRUE", t0 - 120_000, t0 - 60_000);
        store.insert_action(&e, &[], 0, t0).await.unwrap();
        let done = store.finish_actions(t0).await.unwrap();
        assert!(
            done.contains(&(e.id, "expired".into())),
            "{backend}: {done:?}"
        );

        let counts = store.action_counts().await.unwrap();
        assert!(
            counts.iter().any(|(s, n)| s == "completed" && *n == 1),
            "{counts:?}"
        );
    }
}

#[tokio::test]
async fn investigators_keys_and_nonces() {
    for (backend, store, _dir) in stores().await {
        let inv = store
            .create_investigator(
                "Alice",
                "-----BEGIN PGP PUBLIC KEY BLOCK-----",
                "AAAA",
                "admin",
                now(),
            )
            .await
            .unwrap();
        assert_eq!(inv.status, "active");
        let dup = store
            .create_investigator("Alice2", "k", "AAAA", "admin", now())
            .await
            .unwrap_err();
        assert!(
            dup.to_string().contains("already exists"),
            "{backend}: {dup}"
        );
        assert!(store
            .create_investigator("Bob", "k", "BBBB", "god", now())
            .await
            .is_err());
        let off = store
            .set_investigator_status(inv.id, "disabled", now())
            .await
            .unwrap();
        assert_eq!(off.status, "disabled");
        assert_eq!(
            store
                .investigator_by_fingerprint("AAAA")
                .await
                .unwrap()
                .unwrap()
                .id,
            inv.id
        );

        let key = store
            .create_api_key(mig_core::id::generate(), inv.id, "ci", "hash", now())
            .await
            .unwrap();
        assert_eq!(
            store.api_key(key).await.unwrap(),
            Some((inv.id, "hash".to_string()))
        );
        assert!(store.revoke_api_key(key).await.unwrap());
        assert_eq!(store.api_key(key).await.unwrap(), None);

        assert!(store.use_nonce("AAAA", 7, now(), 1_200_000).await.unwrap());
        assert!(
            !store.use_nonce("AAAA", 7, now(), 1_200_000).await.unwrap(),
            "{backend}: replay"
        );
        assert!(store.use_nonce("BBBB", 7, now(), 1_200_000).await.unwrap());
    }
}

#[tokio::test]
async fn duplicate_agents_are_reported() {
    for (_backend, store, _dir) in stores().await {
        let mut a = heartbeat("same-host", "linux", "amd64", &[]);
        store.register_heartbeat(&a, "k1", now()).await.unwrap();
        a.queueloc = "linux.same-host.other".into();
        store.register_heartbeat(&a, "k2", now()).await.unwrap();
        let dups = store.duplicate_agents().await.unwrap();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].1.len(), 2);
    }
}

/// What MIG's API asks of the store: its agent statistics, agents by ID and version, actions
/// by ID with their signers.
#[tokio::test]
async fn mig_api_statistics_and_filters() {
    for (backend, store, _dir) in stores().await {
        let mut a = heartbeat("web", "linux", "amd64", &[]);
        let first = store.register_heartbeat(&a, "k1", now()).await.unwrap();
        a.queueloc = "linux.web.second".into();
        a.version = "2.0".into();
        store.register_heartbeat(&a, "k2", now()).await.unwrap();
        store
            .register_heartbeat(&heartbeat("db", "linux", "amd64", &[]), "k3", now())
            .await
            .unwrap();
        let s = store.agents_stats(now()).await.unwrap();
        assert_eq!(
            (s.onlineagents, s.onlineendpoints, s.multiagentsendpoints),
            (3, 2, 1),
            "{backend}: {s:?}"
        );
        assert_eq!(s.newendpoints, 2, "{backend}: both hosts started just now");
        assert_eq!(s.onlineagentsbyversion.len(), 2, "{backend}");

        let by = |f: AgentFilter| {
            let store = store.clone();
            async move {
                store
                    .list_agents(&AgentFilter { limit: 10, ..f }, now())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|a| a.queueloc)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            by(AgentFilter {
                id: Some(first.id),
                ..Default::default()
            })
            .await,
            vec![heartbeat("web", "linux", "amd64", &[]).queueloc],
            "{backend}"
        );
        assert_eq!(
            by(AgentFilter {
                version: Some("2.%".into()),
                ..Default::default()
            })
            .await,
            vec!["linux.web.second".to_string()],
            "{backend}"
        );

        let inv = store
            .create_investigator("Signer", "key", "FP01", "investigator", now())
            .await
            .unwrap();
        let act = action("os='linux'", now(), now() + 60_000);
        store
            .insert_action(&act, &[(inv.id, "sig".into())], inv.id, now())
            .await
            .unwrap();
        let listed = store
            .list_actions(&mig_store::actions::ActionFilter {
                id: Some(act.id),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1, "{backend}");
        assert_eq!(listed[0].investigators[0].name, "Signer", "{backend}");
    }
}

#[tokio::test]
async fn the_claimer_launches_at_once() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let t0 = now();
        let a = action("TRUE", t0 - 60_000, t0 + 60_000);
        store.insert_action(&a, &[], 0, t0).await.unwrap();
        assert_eq!(store.schedule_due_actions(t0).await.unwrap(), 1);
        let claimed = store.claim_actions("me", t0, 30_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{backend}");
        let targets = store
            .resolve_target(&parse("TRUE").unwrap(), t0)
            .await
            .unwrap();
        let env = store
            .launch_action(claimed[0].id, "me", &targets, t0, 0)
            .await
            .unwrap();
        assert_eq!(env.len(), 4, "{backend}");
    }
}

#[tokio::test]
async fn amqp_dispatch_claims_once_until_confirmed_or_the_lease_ends() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let t0 = now();
        let a = action("name = 'web1' OR name = 'web2'", t0, t0 + 60_000);
        let launched = launch(&store, &a, t0, 0).await;
        assert_eq!(launched.len(), 2, "{backend}");

        // One claimer gets everything, with the payloads the built-in relay would send.
        let first = store.claim_dispatch(t0, 30_000, 100).await.unwrap();
        assert_eq!(first.len(), 2, "{backend}");
        for (claimed, sent) in first.iter().zip(&launched) {
            assert_eq!(claimed.command_id, sent.command_id, "{backend}");
            assert_eq!(claimed.payload, sent.payload, "{backend}");
            assert_eq!(claimed.queueloc, sent.queueloc, "{backend}");
        }
        // Nobody else while the lease runs.
        assert!(store
            .claim_dispatch(t0 + 1_000, 30_000, 100)
            .await
            .unwrap()
            .is_empty());
        // The broker confirmed one; the other claimer died: its lease ends, and only the
        // unconfirmed command is claimed again.
        store.mark_dispatched(&[first[0].command_id]).await.unwrap();
        let again = store
            .claim_dispatch(t0 + 31_000, 30_000, 100)
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "{backend}");
        assert_eq!(again[0].command_id, first[1].command_id, "{backend}");
        store.mark_dispatched(&[again[0].command_id]).await.unwrap();
        assert!(store
            .claim_dispatch(t0 + 90_000, 30_000, 100)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn commands_claimed_at_launch_wait_for_their_lease_before_another_claim() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let t0 = now();
        let a = action("name = 'web1' OR name = 'web2'", t0, t0 + 60_000);
        // The launching scheduler publishes them itself, under a lease taken at insert.
        let launched = launch(&store, &a, t0, t0 + 30_000).await;
        assert_eq!(launched.len(), 2, "{backend}");
        assert!(
            store
                .claim_dispatch(t0 + 1_000, 30_000, 100)
                .await
                .unwrap()
                .is_empty(),
            "{backend}: claimed by its launcher"
        );
        // The launcher got one confirmed and died: the other is claimed after the lease.
        store
            .mark_dispatched(&[launched[0].command_id])
            .await
            .unwrap();
        let again = store
            .claim_dispatch(t0 + 31_000, 30_000, 100)
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "{backend}");
        assert_eq!(again[0].command_id, launched[1].command_id, "{backend}");
        assert_eq!(again[0].payload, launched[1].payload, "{backend}");
    }
}

#[tokio::test]
async fn amqp_dispatch_skips_expired_commands() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let t0 = now();
        let a = action("name = 'web1'", t0, t0 + 5_000);
        launch(&store, &a, t0, 0).await;
        assert!(
            store
                .claim_dispatch(t0 + 10_000, 30_000, 100)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
}

/// sqlx 0.9.0 leaves Nagle's algorithm on; the store turns it off on every PostgreSQL
/// connection (src/nodelay.rs), or each large statement waits ~40 ms for a delayed ACK.
#[tokio::test]
async fn postgres_connections_send_without_nagle_delay() {
    let Ok(base) = std::env::var("MIG_TEST_DATABASE_URL") else {
        eprintln!("MIG_TEST_DATABASE_URL not set: skipped");
        return;
    };
    let store = pg_store(&base).await;
    let mut conn = store.pool().acquire().await.unwrap();
    let port: Option<i32> = sqlx::query_scalar("SELECT inet_client_port()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let Some(port) = port else {
        eprintln!("connected over a Unix socket: nothing to check");
        return;
    };
    let mut found = false;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: borrowed for getsockname/getsockopt only; a non-socket fails harmlessly.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let local = socket.local_addr().ok().and_then(|a| a.as_socket());
        if local.is_some_and(|a| i32::from(a.port()) == port) && socket.peer_addr().is_ok() {
            assert!(
                socket.tcp_nodelay().unwrap(),
                "TCP_NODELAY off on port {port}"
            );
            found = true;
        }
    }
    assert!(found, "no socket of this process on local port {port}");
}

#[tokio::test]
async fn postgres_over_tls() {
    let Ok(base) = std::env::var("MIG_TEST_DATABASE_URL") else {
        eprintln!("MIG_TEST_DATABASE_URL not set: skipped");
        return;
    };
    // sslmode=require fails outright unless the connection is TLS (Debian's PostgreSQL has it
    // on, with its snakeoil certificate; verify-full would check the name against a CA).
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = pg_store(&format!("{base}{sep}sslmode=require")).await;
    assert_eq!(store.queued_commands().await.unwrap(), 0);
}

#[tokio::test]
async fn action_lists_filter_and_page() {
    use mig_store::actions::ActionFilter;
    let ids_of = |actions: Vec<Action>| actions.into_iter().map(|a| a.id).collect::<Vec<_>>();
    for (backend, store, _dir) in stores().await {
        let alice = store
            .create_investigator("Alice", "k", "AAAA", "investigator", now())
            .await
            .unwrap();
        let t0 = now();
        // Five actions a minute apart, the second and fourth signed by Alice.
        let mut all = Vec::new();
        for (i, name) in ["alpha", "Beta one", "gamma", "beta two", "delta"]
            .iter()
            .enumerate()
        {
            let mut a = action("status='online'", t0 + i as i64 * 60_000, t0 + 3_600_000);
            a.name = name.to_string();
            let signers = if i % 2 == 1 {
                vec![(alice.id, "sig".to_string())]
            } else {
                vec![]
            };
            store.insert_action(&a, &signers, 0, t0).await.unwrap();
            all.push(a.id);
        }
        all.sort_unstable_by(|a, b| b.cmp(a));
        let list = |f: ActionFilter| {
            let store = &store;
            async move { ids_of(store.list_actions(&f).await.unwrap()) }
        };
        let page = |limit, offset| ActionFilter {
            limit,
            offset,
            ..Default::default()
        };

        // Pages: newest id first, disjoint, together the whole list, past the end empty.
        let (p1, p2, p3) = (
            list(page(2, 0)).await,
            list(page(2, 2)).await,
            list(page(2, 4)).await,
        );
        assert_eq!([p1, p2, p3].concat(), all, "{backend}");
        assert!(list(page(2, 6)).await.is_empty(), "{backend}");
        // Out-of-range paging is clamped, not an error.
        assert_eq!(list(page(0, -5)).await, all[..1], "{backend}");

        let by_name = list(ActionFilter {
            name: Some("%BETA%".into()),
            ..page(100, 0)
        })
        .await;
        assert_eq!(
            by_name.len(),
            2,
            "{backend}: names match case-insensitively"
        );
        let by_signer = list(ActionFilter {
            investigator: Some(alice.id),
            ..page(100, 0)
        })
        .await;
        assert_eq!(by_signer, by_name, "{backend}: Alice signed the two betas");
        let window = list(ActionFilter {
            after: Some(t0 + 30_000),
            before: Some(t0 + 150_000),
            ..page(100, 0)
        })
        .await;
        assert_eq!(window.len(), 2, "{backend}: valid from minutes 1 and 2");
        assert!(
            list(ActionFilter {
                status: Some("completed".into()),
                ..page(100, 0)
            })
            .await
            .is_empty(),
            "{backend}"
        );
        assert_eq!(
            list(ActionFilter {
                status: Some("pending".into()),
                ..page(100, 0)
            })
            .await,
            all,
            "{backend}"
        );

        // Listed actions carry the same counters as one read alone.
        fleet(&store).await;
        let launched = action("status='online'", t0, t0 + 3_600_000);
        launch(&store, &launched, t0, 0).await;
        let listed = store.list_actions(&page(100, 0)).await.unwrap();
        let counters = |id| {
            listed
                .iter()
                .find(|a| a.id == id)
                .map(|a| (a.counters.sent, a.counters.inflight))
        };
        let alone = store.get_action(launched.id).await.unwrap().counters;
        assert_eq!(counters(launched.id), Some((4, 4)), "{backend}");
        assert_eq!((alone.sent, alone.inflight), (4, 4), "{backend}");
        assert_eq!(counters(all[0]), Some((0, 0)), "{backend}");
    }
}

#[tokio::test]
async fn answered_commands_are_read_whole_across_pages() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let t0 = now();
        let a = action("status='online'", t0 - 1_000, t0 + 3_600_000);
        let sent = launch(&store, &a, t0, 0).await;
        assert_eq!(sent.len(), 4, "{backend}");
        let answers: Vec<IncomingResult> = sent[..3]
            .iter()
            .map(|e| answer(e, e.agent_id, "success", false, t0))
            .collect();
        store.store_results(&answers).await.unwrap();
        for page in [1, 2, 3, 100] {
            let mut got: Vec<u64> = store
                .commands_done_since(a.id, t0 - 60_000, page)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect();
            got.sort_unstable();
            let mut want: Vec<u64> = sent[..3].iter().map(|e| e.command_id).collect();
            want.sort_unstable();
            assert_eq!(got, want, "{backend}: pages of {page}");
        }
        // Nothing answered after now.
        let later = store
            .commands_done_since(a.id, now() + 60_000, 2)
            .await
            .unwrap();
        assert!(later.is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn a_large_batch_of_results_is_stored_once_each() {
    for (backend, store, _dir) in stores().await {
        let t0 = now();
        for i in 0..600 {
            let hb = heartbeat(&format!("bulk{i:03}"), "linux", "amd64", &[]);
            store.register_heartbeat(&hb, "key", t0).await.unwrap();
        }
        let a = action("status='online'", t0 - 1_000, t0 + 3_600_000);
        let sent = launch(&store, &a, t0, 0).await;
        assert_eq!(sent.len(), 600, "{backend}");
        let answer = |e: &mig_store::actions::Envelope, agent_id: u64, found: bool| {
            answer(e, agent_id, "success", found, t0)
        };
        // Every agent answers (every third found something), one answers twice, and one
        // answers another agent's command first.
        let mut batch = vec![answer(&sent[7], sent[8].agent_id, true)];
        batch.extend(
            sent.iter()
                .enumerate()
                .map(|(i, e)| answer(e, e.agent_id, i % 3 == 0)),
        );
        batch.push(answer(&sent[599], sent[599].agent_id, true));
        let stored = store.store_results(&batch).await.unwrap();
        assert_eq!(stored.len(), 600, "{backend}: each command once");
        let forged = stored.iter().find(|r| r.command_id == sent[7].command_id);
        assert!(
            !forged.unwrap().found,
            "{backend}: the real answer, not the forged one"
        );
        let c = store.get_action(a.id).await.unwrap().counters;
        assert_eq!((c.done, c.success, c.inflight), (600, 600, 0), "{backend}");
        assert_eq!(found_commands(&store, a.id).await.len(), 200, "{backend}");
        // Stored again: nothing new.
        assert!(
            store.store_results(&batch).await.unwrap().is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn target_preview_counts_all_and_samples_some() {
    for (backend, store, _dir) in stores().await {
        fleet(&store).await;
        let linux = parse("os='linux'").unwrap();
        let (count, sample) = store.preview_target(&linux, now(), 2).await.unwrap();
        assert_eq!(count, 3, "{backend}");
        assert_eq!(sample.len(), 2, "{backend}");
        assert!(
            sample.iter().all(|a| a.environment.os == "linux"),
            "{backend}: {sample:?}"
        );
        let (count, sample) = store.preview_target(&linux, now(), 0).await.unwrap();
        assert_eq!((count, sample.len()), (3, 0), "{backend}: the count alone");
        let (count, sample) = store.preview_target(&linux, now(), 100).await.unwrap();
        assert_eq!((count, sample.len()), (3, 3), "{backend}");
        let nobody = parse("os='plan9'").unwrap();
        let (count, sample) = store.preview_target(&nobody, now(), 5).await.unwrap();
        assert_eq!((count, sample.len()), (0, 0), "{backend}");
    }
}
