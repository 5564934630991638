//! MIG's API, for MIG's own clients: the requests MIG's real client made to MIG's real API
//! (recorded in tests/e2e/data/mig-api/, see its README) are replayed against this server,
//! with this platform's IDs, keys and clock in place of the recording's, and every answer
//! must have the status MIG gave and every field MIG's answer had, with the same JSON type.
//! Where this server answers otherwise on purpose, the table below says so and why.

use mig_e2e::{acl, wait_for, Investigator, Platform};
use mig_pgp::KeySigner;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Scenarios where this server's status differs from MIG's, and why.
const DIFFERENT_STATUS: &[(&str, u16, &str)] = &[
    (
        "2-client-lib-search-action-console-default-form",
        200,
        "MIG answers mig-console's default action search with a 500 (an SQL syntax error)",
    ),
    (
        "2b-client-lib-search-action-status",
        200,
        "MIG's action search by status is a 500 (its SQL names a table 'action')",
    ),
    (
        "2-client-lib-search-invalid-type",
        400,
        "a bad parameter is the caller's error, not the server's",
    ),
    (
        "3-client-lib-enable-apikey",
        404,
        "MIG's investigator update form is not served: keys are made with this API",
    ),
];

/// Fields MIG's answers have that this server's do not, on purpose.
const FIELDS_NOT_SERVED: &[&str] = &[
    // MIG's agents looked up their AWS instance; its Go struct always writes `aws: {}`.
    "aws",
    // An action's investigators: MIG embeds whole investigator records (permissions, dates,
    // key); the action carries who signed it (ID, name, fingerprint, status).
    "investigators[].permissions",
    "investigators[].createdat",
    "investigators[].lastmodified",
    // A command carries its agent's identity (ID, name, queue, mode, version); the agent's
    // environment and tags are at agent?agentid=.
    "agent.environment",
    "agent.tags",
];

struct Exchange {
    scenario: String,
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
    status: u16,
    answer: String,
}

fn recorded() -> Vec<Exchange> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mig-api/exchanges.jsonl");
    let mut scenario = String::new();
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(s) = v["scenario"].as_str() {
            scenario = s.to_string();
            continue;
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        out.push(Exchange {
            scenario: scenario.clone(),
            method: text(&v["request"]["method"]),
            path: text(&v["request"]["path"]),
            headers: v["request"]["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.to_lowercase(), text(v)))
                .collect(),
            body: text(&v["request"]["body"]),
            status: v["response"]["status"].as_u64().unwrap() as u16,
            answer: text(&v["response"]["body"]),
        });
    }
    out
}

/// An empty value says nothing about shape (Go writes `{}`, `null`, `""` or zero times for
/// fields it has no value for).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty() || s.starts_with("0001-01-01T00:00:00"),
        _ => false,
    }
}

/// Every non-empty field of MIG's answer is in ours with the same JSON type.
fn compare_shape(mig: &Value, ours: &Value, path: &str, diffs: &mut Vec<String>) {
    if is_empty(mig) {
        return;
    }
    let not_served = |p: &str| {
        FIELDS_NOT_SERVED
            .iter()
            .any(|f| p == *f || p.ends_with(&format!(".{f}")))
    };
    match (mig, ours) {
        (Value::Object(m), Value::Object(o)) => {
            for (k, mv) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if is_empty(mv) || not_served(&p) {
                    continue;
                }
                match o.get(k) {
                    Some(ov) => compare_shape(mv, ov, &p, diffs),
                    None => diffs.push(format!("{p}: missing (MIG: {mv})")),
                }
            }
        }
        (Value::Array(m), Value::Array(o)) => {
            if o.is_empty() {
                diffs.push(format!("{path}: empty (MIG has {} entries)", m.len()));
                return;
            }
            // Items and named values are matched by name (MIG's dashboard, say, may lack the
            // statistics item ours starts with); other entries by position.
            for (i, mv) in m.iter().enumerate() {
                let ov = match item_name(mv) {
                    Some(name) => o.iter().find(|ov| item_name(ov) == Some(name)),
                    None => o.get(i).or(o.first()),
                };
                match ov {
                    Some(ov) => compare_shape(mv, ov, &format!("{path}[]"), diffs),
                    None => diffs.push(format!(
                        "{path}: no entry named {:?}",
                        item_name(mv).unwrap_or_default()
                    )),
                }
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (m, o) => diffs.push(format!("{path}: {o} where MIG has {m}")),
    }
}

/// What names a Collection+JSON item (its first value's name) or a named value; MIG's
/// "action ID <id>" is named "action".
fn item_name(v: &Value) -> Option<&str> {
    let name = v["data"][0]["name"].as_str().or(v["name"].as_str())?;
    name.split(" ID ").next()
}

/// The recording's IDs, keys and times, and this platform's.
struct Substitutions {
    pairs: Vec<(String, String)>,
    /// How far this run is from the recording, for `after=` and `before=`.
    shift: chrono::Duration,
}

impl Substitutions {
    fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.pairs {
            out = out.replace(from, to);
        }
        for name in ["after=", "before="] {
            if let Some(start) = out.find(name).map(|i| i + name.len()) {
                let end = out[start..].find('&').map_or(out.len(), |e| start + e);
                if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&out[start..end]) {
                    let moved = (t + self.shift)
                        .with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    out.replace_range(start..end, &moved);
                }
            }
        }
        out
    }
}

/// When a recorded request was made: its token's time.
fn token_time(e: &Exchange) -> Option<chrono::DateTime<chrono::Utc>> {
    let token = e.headers.get("x-pgpauthorization")?;
    let time = token.split(';').nth(1)?;
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

struct Replay<'p> {
    p: &'p Platform,
    rec: &'p Investigator,
    http: reqwest::blocking::Client,
    api_key: String,
    subs: Substitutions,
}

struct Answer {
    status: u16,
    text: String,
}

impl Replay<'_> {
    fn send(&self, e: &Exchange, body: Option<String>) -> Answer {
        let url = self.p.api_url(&self.subs.apply(&e.path));
        let mut req = match e.method.as_str() {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            other => panic!("unexpected method {other}"),
        };
        for name in ["content-type", "user-agent"] {
            if let Some(v) = e.headers.get(name) {
                req = req.header(name, v);
            }
        }
        // A good credential is replaced by one of this platform's; a bad one is sent as is.
        if let Some(t) = e.headers.get("x-pgpauthorization") {
            let fresh = e.status != 401;
            let token = if fresh {
                let signer = KeySigner::from_file(&self.rec.key_file, None).unwrap();
                mig_pgp::token::make_token(&signer, chrono::Utc::now()).unwrap()
            } else {
                t.clone()
            };
            req = req.header("X-PGPAUTHORIZATION", token);
        }
        if let Some(k) = e.headers.get("x-migapikey") {
            let key = if e.status == 401 { k } else { &self.api_key };
            req = req.header("X-MIGAPIKEY", key);
        }
        let r = req
            .body(body.unwrap_or_else(|| e.body.clone()))
            .send()
            .unwrap();
        Answer {
            status: r.status().as_u16(),
            text: r.text().unwrap(),
        }
    }

    /// MIG's action upload, re-signed: the recorded action is MIG's client's own JSON, with
    /// a fresh validity window and this platform's investigator's signature.
    fn create_action(&self, e: &Exchange) -> Answer {
        let form: BTreeMap<String, String> = form_urlencoded::parse(e.body.as_bytes())
            .into_owned()
            .collect();
        let mut action = mig_core::Action::from_json(form["action"].as_bytes()).unwrap();
        assert_eq!(
            action.syntaxversion, 2,
            "MIG's client posts syntax version 2"
        );
        let now = mig_core::GoTime::now();
        action.validfrom = now;
        action.expireafter =
            mig_core::GoTime::from_unix_millis(chrono::Utc::now().timestamp_millis() + 120_000)
                .unwrap();
        action.pgpsignatures.clear();
        let signer = KeySigner::from_file(&self.rec.key_file, None).unwrap();
        mig_client::build::sign(&mut action, &signer).unwrap();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &serde_json::to_string(&action).unwrap())
            .finish();
        self.send(e, Some(body))
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[test]
fn mig_api_replays_mig_client() {
    let p = Platform::start();
    let rec = p.investigator("Rec Investigator");
    p.add_investigator(&rec, "admin");
    // As in the recording: two hosts, tagged.
    let tags = "[tags]\noperator = \"rec\"\n";
    let _one = p.agent("rec-host-1", &[&rec], acl(1, &[&rec]), tags);
    let _two = p.agent("rec-host-2", &[&rec], acl(1, &[&rec]), tags);
    let agent_id = |name: &str| p.wait_online(name)["id"].as_u64().unwrap().to_string();
    let (host1, host2) = (agent_id("rec-host-1"), agent_id("rec-host-2"));
    let http = p.http();
    let me: Value = http
        .get(p.api_url("/api/v1/me"))
        .header(
            "X-PGPAUTHORIZATION",
            mig_pgp::token::make_token(
                &KeySigner::from_file(&rec.key_file, None).unwrap(),
                chrono::Utc::now(),
            )
            .unwrap(),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    let rec_id = me["id"].as_u64().unwrap();
    let key: Value = http
        .post(p.api_url(&format!("/api/v1/investigators/{rec_id}/apikeys")))
        .header(
            "X-PGPAUTHORIZATION",
            mig_pgp::token::make_token(
                &KeySigner::from_file(&rec.key_file, None).unwrap(),
                chrono::Utc::now(),
            )
            .unwrap(),
        )
        .json(&json!({"name": "mig client"}))
        .send()
        .unwrap()
        .json()
        .unwrap();

    let exchanges = recorded();
    let recorded_at = exchanges.iter().find_map(token_time).unwrap();
    let mut replay = Replay {
        p: &p,
        rec: &rec,
        http,
        api_key: key["key"].as_str().unwrap().to_string(),
        subs: Substitutions {
            pairs: vec![
                ("28140826656779".into(), host1.clone()),
                ("28140826656780".into(), host2.clone()),
                (
                    "6AD6BF8FD1E95F94D1D051681A91D757C3E248B2".into(),
                    rec.fingerprint.to_uppercase(),
                ),
                (
                    "investigatorid=1".into(),
                    format!("investigatorid={rec_id}"),
                ),
            ],
            shift: chrono::Utc::now() - recorded_at,
        },
    };

    let mut action_id = None;
    let mut failures = Vec::new();
    for e in &exchanges {
        let what = format!("{} {} {}", e.scenario, e.method, e.path);
        let answer = if e.path.ends_with("/action/create/") {
            let a = replay.create_action(e);
            let created = json(&a.text);
            let id = created["collection"]["items"][0]["data"][0]["value"]["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: no action in {}", a.text));
            // MIG's IDs in the recording become this action's, and its commands'.
            replay
                .subs
                .pairs
                .push(("28140826984457".into(), id.to_string()));
            action_id = Some(id);
            // MIG's recording ends with the action done; so do the reads that follow here
            // (an action still running has no counters yet).
            p.wait_action(id, Duration::from_secs(60));
            a
        } else {
            if e.path.contains("type=command") || e.path.contains("commandid=") {
                let id = action_id.expect("the action is created before its commands are read");
                if !replay
                    .subs
                    .pairs
                    .iter()
                    .any(|(from, _)| from == "28140826984458")
                {
                    for (from, host) in [("28140826984458", &host1), ("28140826984459", &host2)] {
                        let command = command_of(&p, &rec, id, host);
                        replay.subs.pairs.push((from.into(), command));
                    }
                }
            }
            replay.send(e, None)
        };

        let expected = DIFFERENT_STATUS
            .iter()
            .find(|(s, _, _)| *s == e.scenario)
            .map_or(e.status, |(_, status, _)| *status);
        if answer.status != expected {
            failures.push(format!(
                "{what}: status {} (expected {expected}): {}",
                answer.status, answer.text
            ));
            continue;
        }
        let (mig, ours) = (json(&e.answer), json(&answer.text));
        if mig.is_null() {
            // Bare text: ip, publickey.
            check_text(e, &answer, &replay.subs, &mut failures);
            continue;
        }
        let mut diffs = Vec::new();
        if expected == e.status {
            compare_shape(&mig, &ours, "", &mut diffs);
        }
        let mig_error = mig["collection"]["error"]["message"].as_str().unwrap_or("");
        let our_error = ours["collection"]["error"]["message"]
            .as_str()
            .unwrap_or("");
        // MIG's own wording is kept where its client or users read it.
        let kept = mig_error.ends_with("' not found")
            || mig_error == "no results found"
            || mig_error == "search type is invalid";
        if kept && replay.subs.apply(mig_error) != our_error {
            diffs.push(format!("error message {our_error:?}, MIG's {mig_error:?}"));
        }
        if answer.status < 300 && expected == e.status {
            // What MIG's client reads first (`Items[0].Data[0]`) is there, under its name.
            let names = |v: &Value| -> Vec<String> {
                v["collection"]["items"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(item_name)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (m, o) = (names(&mig), names(&ours));
            if m.first() != o.first() && !(e.path.ends_with("/dashboard") && o.contains(&m[0])) {
                diffs.push(format!("items are {o:?}, MIG's {m:?}"));
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("{what}:\n    {}", diffs.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} exchanges differ from MIG's:\n{}",
        failures.len(),
        exchanges.len(),
        failures.join("\n")
    );

    // What MIG's client makes of the result pages: rec-host-1's command found /etc/passwd,
    // and carries the action's operations (the client picks each result's printer by them).
    let id = action_id.unwrap();
    let page = replay.send(
        &Exchange {
            scenario: String::new(),
            method: "GET".into(),
            path: format!(
                "/api/v1/search?type=command&limit=37&offset=0&actionid={id}&foundanything=true"
            ),
            headers: BTreeMap::from([("x-migapikey".to_string(), String::new())]),
            body: String::new(),
            status: 200,
            answer: String::new(),
        },
        None,
    );
    assert_eq!(page.status, 200, "{}", page.text);
    let page = json(&page.text);
    let commands: Vec<&Value> = page["collection"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["data"][0])
        .filter(|d| d["name"] == "command")
        .map(|d| &d["value"])
        .collect();
    assert_eq!(commands.len(), 2, "both hosts found /etc/passwd: {page}");
    for c in commands {
        assert_eq!(c["action"]["operations"][0]["module"], "file", "{c}");
        let files = c["results"][0]["elements"]["s1"].as_array().unwrap();
        assert!(files.iter().any(|f| f["file"] == "/etc/passwd"), "{c}");
    }
}

/// The command `action_id` sent to agent `agent_id`, through this API.
fn command_of(p: &Platform, inv: &Investigator, action_id: u64, agent_id: &str) -> String {
    let client = p.api(inv);
    wait_for("the command", Duration::from_secs(30), || {
        let commands = client.commands(action_id, None).ok()?;
        commands
            .into_iter()
            .find(|c| c.agent.id.to_string() == agent_id)
            .map(|c| c.id.to_string())
    })
}

/// `ip` and `publickey` answer bare text, as MIG does.
fn check_text(e: &Exchange, answer: &Answer, subs: &Substitutions, failures: &mut Vec<String>) {
    let what = format!("{} {}", e.scenario, e.path);
    let ok = if e.path.ends_with("/ip") {
        answer.text == "127.0.0.1"
    } else if e.status == 200 {
        answer
            .text
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    } else {
        answer.text == subs.apply(&e.answer)
    };
    if !ok {
        failures.push(format!("{what}: {:?} (MIG: {:?})", answer.text, e.answer));
    }
}

/// MIG's routes refuse what ours refuse, in MIG's form: malformed IDs and forms, an action
/// no investigator signed, a read-only investigator's upload, a replayed token.
#[test]
fn mig_api_refuses_hostile_requests_in_migs_form() {
    let p = Platform::start();
    let http = p.http();
    let reader = p.investigator("Reader");
    p.add_investigator(&reader, "readonly");
    let token = |inv: &Investigator| {
        mig_pgp::token::make_token(
            &KeySigner::from_file(&inv.key_file, None).unwrap(),
            chrono::Utc::now(),
        )
        .unwrap()
    };
    let get = |path: &str, t: &str| {
        let r = http
            .get(p.api_url(path))
            .header("X-PGPAUTHORIZATION", t)
            .send()
            .unwrap();
        (r.status().as_u16(), json(&r.text().unwrap()))
    };
    let message = |v: &Value| {
        v["collection"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    for (path, status, says) in [
        (
            "/api/v1/action?actionid=abc",
            400,
            "Wrong parameters 'actionid'",
        ),
        ("/api/v1/action?actionid=-1", 400, "Invalid Action ID '-1'"),
        (
            "/api/v1/action?actionid=1e300",
            400,
            "Invalid Action ID '1e300'",
        ),
        (
            "/api/v1/action?actionid=NaN",
            400,
            "Invalid Action ID 'NaN'",
        ),
        (
            "/api/v1/action",
            400,
            "Wrong parameters 'actionid': missing",
        ),
        (
            "/api/v1/command?commandid=12.5",
            400,
            "Invalid Command ID '12.5'",
        ),
        (
            "/api/v1/search?type=agent&target=id%3D1%3BDROP%20TABLE%20agents",
            400,
            "",
        ),
        (
            "/api/v1/search?type=action&threatfamily=x",
            400,
            "cannot filter on threatfamily",
        ),
        (
            "/api/v1/search?type=command&limit=1e400",
            400,
            "invalid limit parameter",
        ),
        ("/api/v1/loader", 404, "is not served by this server"),
    ] {
        let (got, body) = get(path, &token(&p.admin));
        assert_eq!(got, status, "{path}: {body}");
        assert!(message(&body).contains(says), "{path}: {body}");
        assert!(
            body["collection"]["error"]["code"].as_str().is_some(),
            "{path}: {body}"
        );
    }

    // A token is good once, on MIG's routes as on ours.
    let t = token(&p.admin);
    assert_eq!(get("/api/v1/dashboard", &t).0, 200);
    let (status, body) = get("/api/v1/dashboard", &t);
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("already used"), "{body}");

    let post = |inv: &Investigator, body: String| {
        let r = http
            .post(p.api_url("/api/v1/action/create/"))
            .header("X-PGPAUTHORIZATION", token(inv))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), json(&r.text().unwrap()))
    };
    let form = |action: &mig_core::Action| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &serde_json::to_string(action).unwrap())
            .finish()
    };
    let (status, body) = post(&p.admin, "nothing=here".into());
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("no 'action' field"), "{body}");
    let (status, body) = post(&p.admin, "action=%7B%22name%22%3A".into());
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("invalid action"), "{body}");

    let op = mig_core::Operation::new(
        "file",
        json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^passwd$"]}}}),
    );
    let mut action = mig_client::build::action(
        "hostile",
        "status='online'",
        vec![op],
        Duration::from_secs(60),
        false,
    );
    // Unsigned.
    let (status, body) = post(&p.admin, form(&action));
    assert_eq!(status, 400, "{body}");
    // Signed by a key the server does not know.
    let stranger = p.investigator("Stranger");
    let mut by_stranger = action.clone();
    mig_client::build::sign(
        &mut by_stranger,
        &KeySigner::from_file(&stranger.key_file, None).unwrap(),
    )
    .unwrap();
    let (status, body) = post(&p.admin, form(&by_stranger));
    assert_eq!(status, 400, "{body}");
    // Signed and sent by a read-only investigator.
    mig_client::build::sign(
        &mut action,
        &KeySigner::from_file(&reader.key_file, None).unwrap(),
    )
    .unwrap();
    let (status, body) = post(&reader, form(&action));
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("readonly"), "{body}");
    let (status, body) = get(
        "/api/v1/search?type=action&actionname=hostile",
        &token(&p.admin),
    );
    assert_eq!(status, 404, "nothing was stored: {body}");
}
