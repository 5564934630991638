//! The REST API, as the client sees it. Every request carries a fresh MIG token (or the
//! configured API key).

use crate::config::Config;
use anyhow::Context;
use mig_core::{Action, Agent, Command};
use mig_pgp::Signer;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::io::BufRead;
use std::time::Duration;

/// How the client proves who it is to the API.
pub enum Auth {
    /// A fresh signed token per request (MIG's `X-PGPAUTHORIZATION`), from the investigator's key.
    Token(Box<dyn Signer>),
    /// An API key (`mig_<id>_<secret>`), for automation.
    ApiKey(String),
}

/// A blocking client of the server's REST API.
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
    auth: Auth,
}

/// An event of an action's result stream.
#[derive(Debug)]
pub enum StreamEvent {
    /// A command reached a final status, with its results.
    Command(Box<Command>),
    /// The action's status and command counters changed.
    Counters {
        /// The action's status.
        status: String,
        /// Its commands, counted by status.
        counters: mig_core::Counters,
    },
    /// The action reached a final status (the status), and the stream ended.
    Done(String),
}

impl Client {
    /// A client of the API `config` names, authenticating with `auth`.
    pub fn new(config: &Config, auth: Auth) -> anyhow::Result<Client> {
        if config.api.is_empty() {
            anyhow::bail!("api: no API URL configured");
        }
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(None::<Duration>);
        if let Some(ca) = &config.ca {
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read the CA {}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("CA {}", ca.display()))?;
            builder = builder.tls_certs_only([cert]);
        }
        Ok(Client {
            base: config.api.trim_end_matches('/').to_string(),
            http: builder.build().context("HTTP client")?,
            auth,
        })
    }

    /// From the configuration: the API key if set (or $MIG_API_KEY), else signed tokens.
    pub fn from_config(config: &Config) -> anyhow::Result<Client> {
        let key = std::env::var("MIG_API_KEY")
            .ok()
            .or_else(|| config.api_key.clone());
        let auth = match key {
            Some(k) => Auth::ApiKey(k),
            None => Auth::Token(crate::signing::signer(config)?),
        };
        Client::new(config, auth)
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<reqwest::blocking::RequestBuilder> {
        let url = format!("{}{path}", self.base);
        let rb = self.http.request(method, url);
        Ok(match &self.auth {
            Auth::ApiKey(k) => rb.bearer_auth(k),
            Auth::Token(signer) => rb.header(
                "X-PGPAUTHORIZATION",
                mig_pgp::token::make_token(signer.as_ref(), chrono::Utc::now())?,
            ),
        })
    }

    fn send<T: DeserializeOwned>(
        &self,
        rb: reqwest::blocking::RequestBuilder,
    ) -> anyhow::Result<T> {
        let resp = rb
            .send()
            .map_err(|e| anyhow::anyhow!("cannot reach the API at {}: {e}", self.base))?;
        let status = resp.status();
        let body = resp.bytes().context("reading the API's answer")?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            anyhow::bail!("API: {status}: {msg}");
        }
        serde_json::from_slice(&body)
            .with_context(|| format!("unexpected answer from the API ({status})"))
    }

    /// GET `path` with `query`, decoded from JSON.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        self.send(self.request(reqwest::Method::GET, path)?.query(query))
    }

    /// POST `body` as JSON to `path`, the answer decoded from JSON.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        self.send(self.request(reqwest::Method::POST, path)?.json(body))
    }

    /// DELETE `path`, the answer decoded from JSON.
    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.request(reqwest::Method::DELETE, path)?)
    }

    /// Posts a signed action; the server's copy (with its ID) comes back.
    pub fn create_action(&self, action: &Action) -> anyhow::Result<Action> {
        self.send(
            self.request(reqwest::Method::POST, "/api/v1/actions")?
                .json(action),
        )
    }

    /// The action with this ID.
    pub fn action(&self, id: u64) -> anyhow::Result<Action> {
        self.get(&format!("/api/v1/actions/{id}"), &[])
    }

    /// Cancels the action with this ID.
    pub fn cancel(&self, id: u64) -> anyhow::Result<Value> {
        self.post(&format!("/api/v1/actions/{id}/cancel"), &Value::Null)
    }

    /// Actions matching `query` (the API's filters), newest first, following pages.
    pub fn actions(&self, query: &[(&str, String)]) -> anyhow::Result<Vec<Action>> {
        self.list("/api/v1/actions", "actions", query, None)
    }

    /// A list endpoint's rows: as many as `query`'s `limit` asks (or all of them, `all`
    /// pages of that size), following `next_offset` where the server cut a page to its
    /// response budget.
    fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, String)],
        all: Option<i64>,
    ) -> anyhow::Result<Vec<T>> {
        let number = |name: &str| {
            query
                .iter()
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        let limit = all.or_else(|| number("limit")).unwrap_or(100);
        let mut offset = number("offset").unwrap_or(0);
        let mut rows = Vec::new();
        loop {
            let want = match all {
                Some(page) => page,
                None => limit - rows.len() as i64,
            };
            let mut q: Vec<(&str, String)> = query
                .iter()
                .filter(|(k, _)| *k != "limit" && *k != "offset")
                .cloned()
                .collect();
            q.push(("limit", want.to_string()));
            q.push(("offset", offset.to_string()));
            let v: Value = self.get(path, &q)?;
            let page: Vec<T> = serde_json::from_value(v[key].clone())?;
            let n = page.len() as i64;
            rows.extend(page);
            offset = match v["next_offset"].as_i64() {
                Some(next) => next,
                None if all.is_some() && n == want => offset + n,
                None => return Ok(rows),
            };
            if all.is_none() && rows.len() as i64 >= limit {
                return Ok(rows);
            }
        }
    }

    /// Every command of an action (paged through), optionally only found / not found.
    pub fn commands(&self, id: u64, found: Option<bool>) -> anyhow::Result<Vec<Command>> {
        let mut q = Vec::new();
        if let Some(f) = found {
            q.push(("found", f.to_string()));
        }
        self.list(
            &format!("/api/v1/actions/{id}/commands"),
            "commands",
            &q,
            Some(1000),
        )
    }

    /// How many agents `target` selects, with a sample of five.
    pub fn preview(&self, target: &str) -> anyhow::Result<(i64, Vec<Agent>)> {
        let v: Value = self.post(
            "/api/v1/target/preview",
            &serde_json::json!({"target": target, "sample": 5}),
        )?;
        Ok((
            v["count"].as_i64().unwrap_or(0),
            serde_json::from_value(v["agents"].clone())?,
        ))
    }

    /// Agents matching `query` (the API's filters), following pages.
    pub fn agents(&self, query: &[(&str, String)]) -> anyhow::Result<Vec<Agent>> {
        self.list("/api/v1/agents", "agents", query, None)
    }

    /// Follows an action's results as the server stores them; `on_event` returns false to stop.
    pub fn stream(
        &self,
        id: u64,
        mut on_event: impl FnMut(StreamEvent) -> bool,
    ) -> anyhow::Result<()> {
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("/api/v1/actions/{id}/stream"),
            )?
            .send()
            .map_err(|e| anyhow::anyhow!("cannot reach the API at {}: {e}", self.base))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().unwrap_or_default();
            anyhow::bail!("API: {status}: {body}");
        }
        let reader = std::io::BufReader::new(resp);
        let mut event = String::new();
        let mut data = String::new();
        for line in reader.lines() {
            let line = line.context("reading the result stream")?;
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            } else if line.is_empty() && !event.is_empty() {
                let ev =
                    match event.as_str() {
                        "command" => serde_json::from_str(&data)
                            .ok()
                            .map(|c| StreamEvent::Command(Box::new(c))),
                        "counters" => serde_json::from_str::<Value>(&data).ok().map(|v| {
                            StreamEvent::Counters {
                                status: v["status"].as_str().unwrap_or("").to_string(),
                                counters: serde_json::from_value(v["counters"].clone())
                                    .unwrap_or_default(),
                            }
                        }),
                        "done" => Some(StreamEvent::Done(data.clone())),
                        "error" => anyhow::bail!("the result stream failed: {data}"),
                        _ => None,
                    };
                event.clear();
                data.clear();
                if let Some(ev) = ev {
                    let done = matches!(ev, StreamEvent::Done(_));
                    if !on_event(ev) || done {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}
