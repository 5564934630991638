//! Soak: an agent idle for a long time at the default intervals (the server pings every 30 s,
//! the agent gives up after 100 s of silence) keeps one connection, and actions launched at
//! random moments are answered at once. Outside the normal run (it takes MIG_SOAK_MINUTES,
//! default 15): `bench/soak/idle.sh`. The last result is in docs/agent.md.

use mig_e2e::{acl, Platform};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
#[ignore = "a soak of MIG_SOAK_MINUTES (15): run by bench/soak/idle.sh"]
fn an_idle_agent_stays_connected_for_the_whole_soak() {
    let minutes: u64 = std::env::var("MIG_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(15);
    let p = Platform::start();
    let agent = p.agent("soak", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("soak");
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    let mut latencies = Vec::new();
    while Instant::now() < end {
        // Idle for a random stretch of up to five minutes, then ask something.
        let pause = Duration::from_secs(rand::random::<u64>() % 300)
            .min(end.saturating_duration_since(Instant::now()));
        std::thread::sleep(pause);
        let started = Instant::now();
        let id = p.launch(
            &p.admin,
            "name='soak'",
            "file",
            json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"]}}}),
            Duration::from_secs(60),
        );
        let done = p.wait_action(id, Duration::from_secs(120));
        assert_eq!(done.status, "completed", "{done:?}");
        latencies.push(started.elapsed().as_secs_f64());
    }
    let connections = agent.log().matches("connected to").count();
    let worst = latencies.iter().cloned().fold(0.0, f64::max);
    println!(
        "soak: {minutes} min idle at the default intervals, {} actions at random moments, \
         answered in {:.2}-{worst:.2} s, {connections} connection(s)",
        latencies.len(),
        latencies.iter().cloned().fold(f64::MAX, f64::min),
    );
    assert_eq!(
        connections,
        1,
        "reconnected during the soak:\n{}",
        agent.log()
    );
}
