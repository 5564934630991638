//! RabbitMQ restarting under the platform. Alone in its test binary because it stops the
//! whole broker (cargo runs test binaries one after another). Needs `MIG_TEST_AMQP_URL` and a
//! local `rabbitmqctl`.

use mig_e2e::services::{rabbitmqctl, Vhost};
use mig_e2e::{acl, wait_for, Platform, ServerOptions};
use serde_json::json;
use std::time::Duration;

/// Starts the broker again even when the test fails half-way.
struct BrokerStopped;

impl BrokerStopped {
    fn stop() -> BrokerStopped {
        rabbitmqctl(&["stop_app"]);
        BrokerStopped
    }
}

impl Drop for BrokerStopped {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
}

#[test]
fn work_survives_a_broker_restart() {
    let Some(vhost) = Vhost::create() else {
        return;
    };
    // The embedded server (SQLite) with the AMQP relay.
    let p = Platform::start_with(ServerOptions {
        amqp_url: Some(vhost.url.clone()),
        ..Default::default()
    });
    let agent = p.agent(
        "steady",
        &[&p.admin],
        acl(1, &[&p.admin]),
        "heartbeat = \"2s\"\nmodule_timeout = \"4s\"\n",
    );
    p.wait_online("steady");
    let search = json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"]}}});

    // Launched while the broker is down: the command waits in the database.
    let during = {
        let _down = BrokerStopped::stop();
        let id = p.launch(
            &p.admin,
            "name='steady'",
            "file",
            search.clone(),
            Duration::from_secs(300),
        );
        std::thread::sleep(Duration::from_secs(3));
        id
    };
    let action = p.wait_action(during, Duration::from_secs(90));
    assert_eq!(
        action.status,
        "completed",
        "{}\n{}",
        p.server_log(),
        agent.log()
    );
    assert_eq!(action.counters.success, 1);

    // A result that comes while the broker is down: the module runs into its timeout during
    // the outage; the agent keeps the result on disk and sends it once the broker is back.
    let hang = p.launch(
        &p.admin,
        "name='steady'",
        "testhang",
        json!({}),
        Duration::from_secs(300),
    );
    wait_for(
        "the agent to start the module",
        Duration::from_secs(30),
        || {
            agent
                .log()
                .contains(&format!("running action {hang}"))
                .then_some(())
        },
    );
    {
        let _down = BrokerStopped::stop();
        let kept = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for("the result kept for later", Duration::from_secs(30), || {
                let outbox = std::fs::read_dir(agent.dir.join("state/outbox")).ok()?;
                (outbox.count() > 0).then_some(())
            })
        }));
        assert!(kept.is_ok(), "{}", agent.log());
    }
    let action = p.wait_action(hang, Duration::from_secs(90));
    assert_eq!(
        action.counters.timeout,
        1,
        "{:?}\n{}",
        action.counters,
        agent.log()
    );

    // And everything works as before afterwards.
    let after = p.launch(
        &p.admin,
        "name='steady'",
        "file",
        search,
        Duration::from_secs(300),
    );
    let action = p.wait_action(after, Duration::from_secs(60));
    assert_eq!(action.status, "completed");
    assert_eq!(action.counters.success, 1);
}
