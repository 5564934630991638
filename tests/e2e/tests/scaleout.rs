//! Scale-out: PostgreSQL, RabbitMQ, an API process and several scheduler processes, with
//! agents on the AMQP relay. Needs `MIG_TEST_DATABASE_URL` and `MIG_TEST_AMQP_URL` (skipped,
//! with a note, without them; `.ci/run` sets both).

use ed25519_dalek::SigningKey;
use mig_e2e::services::{postgres_schema, rabbitmqctl_output, Vhost};
use mig_e2e::{acl, wait_for, AgentProc, Platform, ServerOptions};
use mig_relay::amqp::agent::connect_agent;
use mig_relay::amqp::{AmqpSettings, SignedMessage, HEARTBEATS_KEY, RESULTS_KEY};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

fn scale_out(roles: &[&str]) -> Option<(Platform, Vhost)> {
    let database_url = postgres_schema()?;
    let vhost = Vhost::create()?;
    let p = Platform::start_with(ServerOptions {
        database_url: Some(database_url),
        amqp_url: Some(vhost.url.clone()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    });
    Some((p, vhost))
}

fn hostname_search() -> Value {
    json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"], "options": {"matchall": true}}}})
}

/// How many times each command ran on this agent, from its audit log.
fn runs(agent: &AgentProc) -> HashMap<u64, usize> {
    let mut out = HashMap::new();
    for line in agent.audit().lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        if entry["outcome"] == "ran" {
            *out.entry(entry["command"].as_u64().unwrap()).or_default() += 1;
        }
    }
    out
}

#[test]
fn actions_complete_once_when_a_scheduler_dies() {
    let Some((mut p, _vhost)) = scale_out(&["api", "scheduler", "scheduler"]) else {
        return;
    };
    let names = ["amqp-1", "amqp-2", "amqp-3"];
    let agents: Vec<AgentProc> = names
        .iter()
        .map(|n| p.agent(n, &[&p.admin], acl(1, &[&p.admin]), ""))
        .collect();
    for (n, a) in names.iter().zip(&agents) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.wait_online(n))).is_err() {
            panic!("{n}: {}\n{}", a.log(), p.server_log());
        }
    }

    // Launch a burst of actions and kill one scheduler while they are in flight (it may hold
    // claimed actions, unconfirmed publications or unacknowledged results); then the same with
    // the other one, restarted.
    let mut launched = Vec::new();
    for victim in [1, 2] {
        for _ in 0..4 {
            launched.push(p.launch(
                &p.admin,
                "status='online'",
                "file",
                hostname_search(),
                Duration::from_secs(120),
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
        p.kill_process(victim);
        p.start_role("scheduler");
    }

    let client = p.api(&p.admin);
    for id in &launched {
        let action = p.wait_action(*id, Duration::from_secs(90));
        assert_eq!(
            action.status,
            "completed",
            "action {id}: {action:?}\n{}",
            p.server_log()
        );
        let commands = client.commands(*id, None).unwrap();
        assert_eq!(
            action.counters.success, 3,
            "action {id}: {:?}\n{commands:?}",
            action.counters
        );
        assert_eq!(commands.len(), 3, "one command per agent");
        for c in &commands {
            assert_eq!(c.status, "success");
            assert!(c.found_anything(), "{c:?}");
        }
    }
    // Each agent ran each command once: republished commands were recognised, not rerun.
    for agent in &agents {
        let runs = runs(agent);
        assert_eq!(runs.len(), launched.len(), "{}: {runs:?}", agent.name);
        assert!(runs.values().all(|n| *n == 1), "{}: {runs:?}", agent.name);
    }
}

#[test]
fn an_offline_agent_gets_its_queued_work_but_never_expired_work() {
    let Some((p, _vhost)) = scale_out(&["run"]) else {
        return;
    };
    let mut agent = p.agent("sleeper", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("sleeper");
    agent.stop();

    // While it is away: one action that outlives the absence, one that does not.
    let lasting = p.launch(
        &p.admin,
        "name='sleeper'",
        "file",
        hostname_search(),
        Duration::from_secs(300),
    );
    let brief = p.launch(
        &p.admin,
        "name='sleeper'",
        "file",
        hostname_search(),
        Duration::from_secs(4),
    );
    let client = p.api(&p.admin);
    for id in [lasting, brief] {
        wait_for(
            &format!("action {id} sent"),
            Duration::from_secs(30),
            || {
                let a = client.action(id).ok()?;
                (a.counters.sent == 1).then_some(())
            },
        );
    }
    let expired = p.wait_action(brief, Duration::from_secs(30));
    assert_eq!(expired.status, "expired");

    agent.start();
    let done = p.wait_action(lasting, Duration::from_secs(60));
    assert_eq!(done.status, "completed");
    assert_eq!(done.counters.success, 1);
    let runs = runs(&agent);
    assert_eq!(runs.len(), 1, "only the lasting action ran: {runs:?}");
    // The expired command never reached the agent (the broker dropped it), so the agent did
    // not even have to refuse it.
    assert!(!agent.audit().contains("expired"), "{}", agent.audit());
}

#[test]
fn the_scheduler_drops_what_an_agent_did_not_sign() {
    let Some(vhost) = Vhost::create() else {
        return;
    };
    let p = Platform::start_with(ServerOptions {
        amqp_url: Some(vhost.url.clone()),
        ..Default::default()
    });
    let mut victim = p.agent("victim", &[&p.admin], acl(1, &[&p.admin]), "");
    let queueloc = p.wait_online("victim")["queueloc"]
        .as_str()
        .unwrap()
        .to_string();
    victim.stop();
    let id = p.launch(
        &p.admin,
        "name='victim'",
        "file",
        hostname_search(),
        Duration::from_secs(300),
    );
    let client = p.api(&p.admin);
    let command = wait_for("the command", Duration::from_secs(30), || {
        client.commands(id, None).ok()?.into_iter().next()
    });

    // Someone with the broker's (shared) credentials but not the victim's key.
    let forged = json!({
        "id": command.id, "status": "success",
        "action": {"id": id}, "agent": {"name": "victim", "queueloc": queueloc},
        "results": [{"foundanything": true, "success": true, "elements": {"forged": true}}],
    })
    .to_string();
    let heartbeat =
        json!({"name": "victim", "queueloc": queueloc, "mode": "daemon", "version": "evil"})
            .to_string();
    let settings = AmqpSettings {
        url: vhost.url.clone(),
        ca: None,
        cert: None,
        key: None,
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (_, publisher) = connect_agent(&settings, "linux.mallory.1").await.unwrap();
        let mallory = SigningKey::from_bytes(&[7u8; 32]);
        let mut unsigned = SignedMessage::sign(&mallory, "result", &queueloc, forged.clone());
        unsigned.signature =
            SignedMessage::sign(&mallory, "result", &queueloc, "{}".into()).signature;
        for message in [
            SignedMessage::sign(&mallory, "result", &queueloc, forged.clone()),
            unsigned,
        ] {
            publisher
                .publish(RESULTS_KEY, &message, true)
                .await
                .unwrap();
        }
        let hb = SignedMessage::sign(&mallory, "heartbeat", &queueloc, heartbeat);
        publisher.publish(HEARTBEATS_KEY, &hb, false).await.unwrap();
    });
    wait_for(
        "the forgeries to be dropped",
        Duration::from_secs(30),
        || {
            let log = p.server_log();
            (log.contains("signed by another key") && log.contains("not signed by its key"))
                .then_some(())
        },
    );
    let agents: Vec<mig_core::Agent> = client.agents(&[]).unwrap();
    assert!(agents.iter().all(|a| a.version != "evil"), "{agents:?}");
    assert_eq!(client.commands(id, None).unwrap()[0].status, "sent");

    // The real agent's answer still counts.
    victim.start();
    let action = p.wait_action(id, Duration::from_secs(60));
    assert_eq!(action.counters.success, 1);
    let result = &client.commands(id, None).unwrap()[0];
    assert!(!serde_json::to_string(&result.results)
        .unwrap()
        .contains("forged"));
}

#[test]
fn rabbitmq_setup_script_confines_each_agent_to_its_own_queue() {
    let Some(vhost) = Vhost::create() else {
        return;
    };
    let scheduler_url = vhost.setup(&["init"]);
    let p = Platform::start_with(ServerOptions {
        amqp_url: Some(scheduler_url),
        ..Default::default()
    });
    let mut agents = Vec::new();
    let mut urls = Vec::new();
    for name in ["confined-1", "confined-2"] {
        let mut a = p.agent_stopped(name, &[&p.admin], acl(1, &[&p.admin]), "");
        let (queueloc, _) = a.identity();
        let url = vhost.setup(&["agent", &queueloc]);
        a.set_relay(&url);
        a.start();
        p.wait_online(name);
        agents.push((a, queueloc));
        urls.push(url);
    }
    let id = p.launch(
        &p.admin,
        "name LIKE 'confined-%'",
        "file",
        hostname_search(),
        Duration::from_secs(120),
    );
    let action = p.wait_action(id, Duration::from_secs(60));
    assert_eq!(action.counters.success, 2, "{}", p.server_log());

    // With the first agent's credentials: the second agent's queue can be neither declared
    // nor read nor published to, and the schedulers' queues cannot be read. (The action above
    // shows the scheduler's user may publish commands to the agents' queues.)
    let (_, other_queueloc) = &agents[1];
    let settings = AmqpSettings {
        url: urls[0].clone(),
        ca: None,
        cert: None,
        key: None,
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let err = connect_agent(&settings, other_queueloc)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
        let conn = mig_relay::amqp::connect(&settings, "probe").await.unwrap();
        for queue in [format!("mig.agt.{other_queueloc}"), RESULTS_KEY.to_string()] {
            let channel = conn.create_channel().await.unwrap();
            let consumed = channel
                .basic_consume(
                    queue.as_str().into(),
                    "probe".into(),
                    lapin::options::BasicConsumeOptions::default(),
                    lapin::types::FieldTable::default(),
                )
                .await;
            let err = consumed
                .err()
                .unwrap_or_else(|| panic!("{queue} could be read"));
            assert!(err.to_string().contains("ACCESS_REFUSED"), "{queue}: {err}");
        }
        // Neither through the agents' exchange nor straight to the queue (the default
        // exchange, which schedulers publish commands through).
        for exchange in ["toagents", ""] {
            let channel = conn.create_channel().await.unwrap();
            // With publisher confirms, the broker's refusal (it closes the channel) reaches
            // the publication's confirmation instead of racing the next call on the channel.
            channel
                .confirm_select(lapin::options::ConfirmSelectOptions::default())
                .await
                .unwrap();
            let published = channel
                .basic_publish(
                    exchange.into(),
                    format!("mig.agt.{other_queueloc}").as_str().into(),
                    lapin::options::BasicPublishOptions::default(),
                    b"{}",
                    lapin::BasicProperties::default(),
                )
                .await;
            // A refused publication closes the channel; it shows on the publication or on
            // the next call.
            let refused = match published {
                Err(e) => e.to_string(),
                Ok(confirm) => match confirm.await {
                    Err(e) => e.to_string(),
                    Ok(_) => channel
                        .basic_qos(1, lapin::options::BasicQosOptions::default())
                        .await
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default(),
                },
            };
            assert!(
                refused.contains("ACCESS_REFUSED"),
                "publish to {exchange:?}: {refused:?}"
            );
        }
    });
}

/// The running broker's open-file limit, read where deploy/rabbitmq-setup.sh reads it; `None`
/// where that cannot be read (another user's broker, or none local).
fn broker_file_limit() -> Option<u64> {
    let pgrep = std::process::Command::new("pgrep")
        .args(["-o", "-u", "rabbitmq", "beam.smp"])
        .output()
        .ok()?;
    let pid = String::from_utf8_lossy(&pgrep.stdout).trim().to_string();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

#[test]
fn large_fleet_makes_agent_queues_v2_only_where_the_broker_has_the_descriptors() {
    let Some(vhost) = Vhost::create() else {
        return;
    };
    let Some(limit) = broker_file_limit() else {
        eprintln!("the broker's file limit cannot be read here: skipped");
        return;
    };
    let policies = || rabbitmqctl_output(&["list_policies", "-p", &vhost.name]);

    // About three descriptors per agent plus a thousand: as many agents as descriptors is
    // always too many, and the script says so and leaves the queues alone.
    let refused = vhost.run_setup(&["large-fleet", &limit.to_string()]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("RabbitMQ may open {limit} files"))
            && said.contains("policy not set"),
        "{said}"
    );
    assert!(!policies().contains("mig-queues-v2"), "{}", policies());

    let fits = limit.saturating_sub(1000) / 3;
    if fits == 0 {
        eprintln!("the broker may open {limit} files, too few for any agent: rest skipped");
        return;
    }
    let set = vhost.run_setup(&["large-fleet", &fits.to_string()]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let listed = policies();
    assert!(
        listed.contains("mig-queues-v2") && listed.contains(r#"{"queue-version":2}"#),
        "{listed}"
    );

    // An agent's queue, declared as agents declare it, gets the policy; the schedulers'
    // connection declares the exchange it binds to.
    let settings = AmqpSettings {
        url: vhost.url.clone(),
        ca: None,
        cert: None,
        key: None,
    };
    let queueloc = "linux.large-fleet.0123456789abcdef";
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let _scheduler = mig_relay::amqp::scheduler::connect_scheduler(&settings, "test")
            .await
            .unwrap();
        let _agent = connect_agent(&settings, queueloc).await.unwrap();
        let queues = rabbitmqctl_output(&["list_queues", "-p", &vhost.name, "name", "policy"]);
        let agent_queue = queues
            .lines()
            .find(|l| l.starts_with(&format!("mig.agt.{queueloc}")))
            .unwrap_or_else(|| panic!("no agent queue in {queues}"));
        assert!(agent_queue.ends_with("mig-queues-v2"), "{queues}");
    });
}
