//! The server's edges: API authentication and permissions, hostile relay clients, the relay's
//! mutual TLS, and the agent's promise never to listen on a socket.

use mig_e2e::{acl, wait_for, Platform};
use mig_pgp::KeySigner;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "X-PGPAUTHORIZATION";

fn token(key_file: &std::path::Path, at: chrono::DateTime<chrono::Utc>) -> String {
    let signer = KeySigner::from_file(key_file, None).unwrap();
    mig_pgp::token::make_token(&signer, at).unwrap()
}

#[test]
fn api_authentication_and_permissions() {
    let p = Platform::start();
    let http = p.http();
    let me = p.api_url("/api/v1/me");

    // No credentials: 401 with a JSON error.
    let r = http.get(&me).send().unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("authentication required"));

    // A good token, once.
    let t = token(&p.admin.key_file, chrono::Utc::now());
    let r = http.get(&me).header(TOKEN, &t).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["permission"], "admin");
    // The same token again: a replayed nonce.
    let r = http.get(&me).header(TOKEN, &t).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("already used"));

    // Too old.
    let old = token(
        &p.admin.key_file,
        chrono::Utc::now() - chrono::Duration::minutes(11),
    );
    let r = http.get(&me).header(TOKEN, &old).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("away from the server's clock"));

    // A key the server does not know.
    let stranger = p.investigator("Stranger");
    let r = http
        .get(&me)
        .header(TOKEN, token(&stranger.key_file, chrono::Utc::now()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("unknown signer"));

    // A read-only investigator may read but not launch, nor manage investigators.
    let reader = p.investigator("Reader");
    p.add_investigator(&reader, "readonly");
    let r = http
        .get(p.api_url("/api/v1/actions"))
        .header(TOKEN, token(&reader.key_file, chrono::Utc::now()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut action = mig_client::build::action(
        "x",
        "status='online'",
        vec![mig_core::Operation::new(
            "file",
            json!({"searches": {"s1": {"paths": ["/"], "names": ["x"]}}}),
        )],
        Duration::from_secs(60),
        false,
    );
    mig_client::build::sign(
        &mut action,
        &KeySigner::from_file(&reader.key_file, None).unwrap(),
    )
    .unwrap();
    let err = p
        .api(&reader)
        .create_action(&action)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("403") && err.contains("needs 'investigator'"),
        "{err}"
    );
    let r = http
        .post(p.api_url("/api/v1/investigators"))
        .header(TOKEN, token(&reader.key_file, chrono::Utc::now()))
        .json(&json!({"name": "x", "publickey": "y"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);

    // An admin creates an API key; it works; revoked, it does not.
    let r = http
        .post(p.api_url(&format!("/api/v1/investigators/{}/apikeys", me_id(&p))))
        .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
        .json(&json!({"name": "ci"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let key: Value = r.json().unwrap();
    let k = key["key"].as_str().unwrap();
    let r = http.get(&me).bearer_auth(k).send().unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(&me).bearer_auth(format!("{k}x")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .delete(p.api_url(&format!("/api/v1/apikeys/{}", key["id"])))
        .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(http.get(&me).bearer_auth(k).send().unwrap().status(), 401);

    // A disabled investigator is out.
    let out = std::process::Command::new(mig_e2e::bin("mig-server"))
        .arg("--config")
        .arg(p.server_config())
        .args(["investigator", "disable", &reader.fingerprint])
        .output()
        .unwrap();
    assert!(out.status.success());
    wait_for(
        "the key cache to drop the disabled investigator",
        Duration::from_secs(10),
        || {
            let r = http
                .get(&me)
                .header(TOKEN, token(&reader.key_file, chrono::Utc::now()))
                .send()
                .ok()?;
            (r.status() == 401).then_some(())
        },
    );

    // Unknown endpoints and bad bodies answer in JSON.
    let r = http.get(p.api_url("/api/v1/nope")).send().unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().unwrap()["error"].is_string());
    let r = http
        .post(p.api_url("/api/v1/actions"))
        .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("invalid action"));
    let r = http
        .post(p.api_url("/api/v1/target/preview"))
        .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
        .json(&json!({"target": "status='online'; DROP TABLE agents"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("unexpected `;`"));
}

fn me_id(p: &Platform) -> u64 {
    let r = p
        .http()
        .get(p.api_url("/api/v1/me"))
        .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
        .send()
        .unwrap();
    r.json::<Value>().unwrap()["id"].as_u64().unwrap()
}

#[test]
fn every_documented_endpoint_exists() {
    let p = Platform::start();
    let http = p.http();
    let doc: Value = http
        .get(p.api_url("/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{}", paths.len());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let url = p.api_url(&path.replace("{id}", "1"));
            let req = match method.as_str() {
                "get" => http.get(&url),
                "post" => http.post(&url).json(&json!({})),
                "delete" => http.delete(&url),
                other => panic!("unexpected method {other}"),
            };
            let status = req
                .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
                .send()
                .unwrap()
                .status();
            // Any answer but "no such route": 404 for a missing object is fine only with a body
            // naming the object, which the router's fallback does not have.
            assert_ne!(status, 405, "{method} {path}");
            if status == 404 {
                let r = http
                    .request(method.to_uppercase().parse().unwrap(), &url)
                    .header(TOKEN, token(&p.admin.key_file, chrono::Utc::now()))
                    .send()
                    .unwrap();
                let text = r.text().unwrap();
                assert!(
                    !text.contains("no such endpoint"),
                    "{method} {path}: {text}"
                );
            }
        }
    }
    let metrics = http
        .get(p.api_url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("mig_relay_connections"));
}

/// A client of the platform's built-in relay, trusting its CA, presenting `client` if given.
fn relay_client(
    p: &Platform,
    client: Option<(&std::path::Path, &std::path::Path)>,
) -> mig_relay::builtin::client::ClientSettings {
    mig_relay::builtin::client::ClientSettings {
        url: format!("wss://localhost:{}/", p.relay_port),
        tls: mig_relay::tls::client_config(&p.pki("ca.pem"), client).unwrap(),
        proxy: None,
        max_message: 1 << 22,
        timeout: Duration::from_secs(10),
    }
}

#[test]
fn hostile_relay_clients_do_not_hurt_the_server() {
    // A small message cap, so that "oversized" is cheap to send.
    let mut p = Platform::start();
    p.kill_server();
    let cfg = std::fs::read_to_string(p.server_config()).unwrap();
    std::fs::write(
        p.server_config(),
        cfg.replace("[relay]\n", "[relay]\nmax_message_bytes = 65536\n"),
    )
    .unwrap();
    p.start_server();
    let good = p.agent("good", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("good");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings = relay_client(&p, Some((&p.pki("agent.pem"), &p.pki("agent.key"))));
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let hb = mig_core::Agent {
        name: "mallory".into(),
        queueloc: "linux.mallory.x".into(),
        mode: "daemon".into(),
        ..Default::default()
    };
    rt.block_on(async {
        let mut s = mig_relay::builtin::client::connect(&settings, &key, hb.clone())
            .await
            .unwrap();
        // Malformed: dropped, the connection lives on.
        s.sender.send_text("{not json".into()).await.unwrap();
        s.sender
            .send_text(r#"{"type":"result","command":{"id":"x"}}"#.into())
            .await
            .unwrap();
        s.sender
            .send_text(r#"{"type":"heartbeat","agent":{"queueloc":"linux.good.other"}}"#.into())
            .await
            .unwrap();
        // A result for a command that was never sent to us: stored nowhere.
        s.sender
            .send_text(
                r#"{"type":"result","command":{"id":12345,"status":"success","results":[]}}"#
                    .into(),
            )
            .await
            .unwrap();
        // Oversized: the server drops this connection.
        let big = format!(
            r#"{{"type":"heartbeat","agent":{{"name":"{}"}}}}"#,
            "A".repeat(200_000)
        );
        let _ = s.sender.send_text(big).await;
        let end = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.receiver.next().await {
                    Ok(Some(_)) => continue,
                    other => return other.map(|_| ()),
                }
            }
        })
        .await;
        assert!(
            end.is_ok(),
            "the server should close an oversized connection"
        );

        // Someone else's queueloc with another key: refused.
        let other_key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let err = mig_relay::builtin::client::connect(&settings, &other_key, hb.clone())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("another agent key"), "{err}");
    });

    // The server is fine and serves the good agent.
    let out = p.mig(
        &p.admin,
        &[
            "file",
            "-t",
            "name='good'",
            "-path",
            "/etc",
            "-name",
            "^hostname$",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", mig_e2e::stderr(&out));
    assert!(
        p.server_log().contains("malformed message"),
        "malformed messages are logged"
    );
    drop(good);
}

#[test]
fn the_agent_never_listens() {
    let p = Platform::start();
    let a = p.agent("quiet", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("quiet");
    // Run something, so the agent has done all it does.
    let out = p.mig(&p.admin, &["file", "-path", "/etc", "-name", "^hostname$"]);
    assert_eq!(out.status.code(), Some(0));

    let pid = a.pid();
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_string)
        })
        .collect();
    assert!(!inodes.is_empty(), "the agent has its relay connection");
    let mut established = 0;
    for table in ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"] {
        let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || !inodes.iter().any(|i| i == f[9]) {
                continue;
            }
            assert!(
                table.starts_with("tcp"),
                "the agent holds a {table} socket: {line}"
            );
            // 0A is LISTEN; 01 is ESTABLISHED.
            assert_ne!(f[3], "0A", "the agent listens: {line}");
            if f[3] == "01" {
                established += 1;
            }
        }
    }
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    for line in unix.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 7 && inodes.iter().any(|i| i == f[6]) {
            // Flags 00010000 is __SO_ACCEPTCON: a listening unix socket.
            assert_ne!(
                f[3], "00010000",
                "the agent listens on a unix socket: {line}"
            );
        }
    }
    assert_eq!(
        established, 1,
        "exactly one outbound connection, to the relay"
    );
}

#[test]
fn the_relay_accepts_only_client_certificates_from_its_ca() {
    let p = Platform::start();
    // Another installation's PKI: a certificate as good as ours, from the wrong CA.
    let other = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(mig_e2e::bin("mig-server"))
        .args(["init", "--data-dir"])
        .arg(other.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", mig_e2e::stderr(&out));
    let foreign = (
        other.path().join("pki/agent.pem"),
        other.path().join("pki/agent.key"),
    );
    let ours = (p.pki("agent.pem"), p.pki("agent.key"));
    // The client trusts the relay's CA in every case: only its own certificate varies.
    let settings = |client| relay_client(&p, client);
    let key = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
    let hb = mig_core::Agent {
        name: "eve".into(),
        queueloc: "linux.eve.x".into(),
        mode: "daemon".into(),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for (what, client) in [
            ("no client certificate", None),
            (
                "a certificate from another CA",
                Some((foreign.0.as_path(), foreign.1.as_path())),
            ),
        ] {
            let r = mig_relay::builtin::client::connect(&settings(client), &key, hb.clone()).await;
            assert!(r.is_err(), "the relay let in a client with {what}");
        }
        // The same client with the installation's certificate gets in.
        mig_relay::builtin::client::connect(
            &settings(Some((ours.0.as_path(), ours.1.as_path()))),
            &key,
            hb.clone(),
        )
        .await
        .expect("the installation's agent certificate is accepted");
    });
    // Each refusal is in the server's log at info, with who tried.
    let log = mig_e2e::wait_for(
        "the refusals logged",
        std::time::Duration::from_secs(10),
        || {
            let log = p.server_log();
            (log.matches("TLS handshake with 127.0.0.1:").count() >= 2).then_some(log)
        },
    );
    assert!(log.contains("INFO"), "{log}");
    assert!(log.contains("refused"), "{log}");
}
