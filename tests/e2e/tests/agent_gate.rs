//! The agent is the security boundary: whatever the server sends, it runs nothing its own
//! keyring and ACL do not allow. Here the "server" is a hostile relay run by the test, which
//! sends a real mig-agent process tampered, expired, replayed and garbage commands.

use mig_core::{Action, Agent, Command, GoTime, Operation};
use mig_e2e::{acl, bin, free_port, Investigator, Platform};
use mig_pgp::{KeySigner, Signer};
use mig_relay::builtin::server::{serve, Backend, Hub, ServerSettings};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A relay that hands the agent a fixed list of commands and records what comes back.
struct HostileRelay {
    commands: Vec<String>,
    results: Mutex<Vec<Command>>,
    hub: Hub,
}

impl Backend for HostileRelay {
    async fn register(&self, _: Agent, _: String, _: SocketAddr) -> Result<u64, String> {
        Ok(1)
    }
    async fn heartbeat(&self, _: u64, _: Agent) {}
    async fn result(&self, agent_id: u64, command: Command) {
        self.hub.send(
            agent_id,
            format!(r#"{{"type":"ack","command_id":{}}}"#, command.id),
        );
        self.results.lock().unwrap().push(command);
    }
    async fn run(&self, agent_id: u64, run: mig_core::ScheduledRun) {
        self.hub
            .send(agent_id, format!(r#"{{"type":"runack","id":{}}}"#, run.id));
    }
    async fn pending(&self, _: u64) -> Vec<String> {
        self.commands.clone()
    }
}

fn signed(inv: &Investigator, target: &str, from: GoTime, until: GoTime) -> Action {
    let mut a = Action {
        id: mig_core::id::generate(),
        name: "gate test".into(),
        target: target.into(),
        validfrom: from,
        expireafter: until,
        operations: vec![Operation::new(
            "file",
            json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^hostname$"], "options": {"matchall": true}}}}),
        )],
        syntaxversion: 2,
        ..Default::default()
    };
    let signer = KeySigner::from_file(&inv.key_file, None).unwrap();
    a.pgpsignatures
        .push(signer.sign(a.signing_text().as_bytes()).unwrap());
    a
}

/// The action signed again by `inv` alone, after a change.
fn resign(mut a: Action, inv: &Investigator) -> Action {
    let signer = KeySigner::from_file(&inv.key_file, None).unwrap();
    a.pgpsignatures = vec![signer.sign(a.signing_text().as_bytes()).unwrap()];
    a
}

fn command(id: u64, action: &Action) -> String {
    json!({"id": id, "action": action, "agent": {"name": "x", "queueloc": "q", "mode": "daemon"}, "status": "sent"}).to_string()
}

fn at(offset_secs: i64) -> GoTime {
    GoTime(chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
}

#[test]
fn the_agent_refuses_what_its_keyring_and_acl_do_not_allow() {
    // The platform only provides the PKI and investigators; its server is not used.
    let p = Platform::start();
    let stranger = p.investigator("Mallory");

    let valid = signed(&p.admin, "status='online'", at(-60), at(300));
    let mut tampered = valid.clone();
    tampered.operations[0].parameters["searches"]["s1"]["paths"] = json!(["/root"]);
    let expired = signed(&p.admin, "TRUE", at(-600), at(-300));
    let early = signed(&p.admin, "TRUE", at(300), at(600));
    let unknown = signed(&stranger, "TRUE", at(-60), at(300));
    let mut replay = valid.clone();
    replay.id = mig_core::id::generate();
    // Validly signed, but past the limits of one action: 65 operations; four operations whose
    // parameters expand to 5 MiB each.
    let mut many = signed(&p.admin, "TRUE", at(-60), at(300));
    many.operations = vec![many.operations[0].clone(); 65];
    let many = resign(many, &p.admin);
    let mut huge = signed(&p.admin, "TRUE", at(-60), at(300));
    let mut big = Operation::new("file", json!({"pad": "x".repeat(5 << 20)}));
    big.compress();
    huge.operations = vec![big; 4];
    let huge = resign(huge, &p.admin);
    let commands = vec![
        command(108, &many),
        command(109, &huge),
        command(101, &valid),
        command(102, &tampered),
        command(103, &expired),
        command(104, &early),
        command(105, &unknown),
        command(106, &replay),
        json!({"id": 107, "action": "not an action"}).to_string(),
        // The same command delivered twice: answered once.
        command(101, &valid),
    ];

    let port = free_port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = Hub::default();
    let relay = Arc::new(HostileRelay {
        commands,
        results: Mutex::new(Vec::new()),
        hub: hub.clone(),
    });
    let settings = ServerSettings {
        tls: mig_relay::tls::server_config(
            &p.pki("server.pem"),
            &p.pki("server.key"),
            Some(&p.pki("ca.pem")),
        )
        .unwrap(),
        max_message: 1 << 20,
        handshake_timeout: Duration::from_secs(5),
        ping_interval: Duration::from_secs(30),
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    rt.spawn(serve(listener, settings, relay.clone(), hub));

    // An agent trusting only the admin, pointed at the hostile relay.
    let agent = p.agent("target", &[&p.admin], acl(1, &[&p.admin]), "");
    let config = std::fs::read_to_string(&agent.config).unwrap().replace(
        &format!("localhost:{}", p.relay_port),
        &format!("localhost:{port}"),
    );
    let mut agent = agent;
    agent.stop();
    std::fs::write(&agent.config, config).unwrap();
    agent.start();

    let results = mig_e2e::wait_for("nine answers", Duration::from_secs(30), || {
        let r = relay.results.lock().unwrap();
        (r.len() >= 9).then(|| r.clone())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        relay.results.lock().unwrap().len(),
        9,
        "command 101 was answered twice"
    );
    let by_id = |id: u64| {
        results
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no answer to {id}"))
    };
    let error = |id: u64| by_id(id).results[0].errors.join(" ");

    assert_eq!(by_id(101).status, "success");
    assert!(by_id(101).found_anything());
    for (id, why) in [
        (102, "bad signature"),
        (103, "expired"),
        (104, "not valid before"),
        (105, "unknown signer"),
        (106, "replay refused"),
        (107, "could not read the command"),
        (108, "more than the 64"),
        (109, "expand beyond"),
    ] {
        assert_eq!(by_id(id).status, "failed", "{id}");
        assert!(
            error(id).contains(why),
            "command {id}: wanted {why:?} in {:?}",
            error(id)
        );
    }
    // Every refusal is in the endpoint's audit log, and nothing ran but the valid action.
    let audit = agent.audit();
    assert_eq!(audit.matches("\"outcome\":\"ran\"").count(), 1, "{audit}");
    assert_eq!(
        audit.matches("\"outcome\":\"refused\"").count(),
        7,
        "{audit}"
    );
    let _ = bin("mig-agent");
}
