//! MIG's `GET /search`: its parameters, its defaults, its "no results found" (404, which MIG's
//! client reads as the end of a paginated listing) and its trailing "search parameters" item.
//!
//! Each search type takes the parameters this server can apply to it; a parameter MIG would
//! apply and this server cannot is refused with its name, never ignored (a filter silently
//! dropped would widen the answer and look like one). MIG's own quirk is kept: an `after`
//! or `before` at MIG's default window (about 4.5 years either side of now, which
//! `mig-console` always sends) filters nothing.

use super::cljs::{Item, Resource};
use super::resources::{mig_investigator, MigResult, Reply};
use super::Origin;
use crate::api::error::ApiError;
use crate::app::{now_ms, App};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use mig_store::actions::ActionFilter;
use mig_store::agents::AgentFilter;
use mig_store::commands::CommandFilter;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// MIG's `search.DefaultWindow`: 39,600 hours.
const DEFAULT_WINDOW_MS: i64 = 39_600 * 3600 * 1000;
const HOUR_MS: i64 = 3600 * 1000;
/// MIG's "any ID" and "any text" values, as its parameters echo them.
const ANY_ID: &str = "∞";
const ANY_TEXT: &str = "%";

/// MIG's `search.Parameters`, with its field names and defaults: what the answer's "search
/// parameters" item shows.
#[derive(Debug, Clone, Serialize)]
struct Parameters {
    actionid: String,
    actionname: String,
    after: String,
    agentid: String,
    agentname: String,
    agentversion: String,
    before: String,
    commandid: String,
    foundanything: bool,
    investigatorid: String,
    investigatorname: String,
    #[serde(serialize_with = "go_float")]
    limit: f64,
    loaderid: String,
    loadername: String,
    manifestid: String,
    manifestname: String,
    #[serde(serialize_with = "go_float")]
    offset: f64,
    report: String,
    status: String,
    target: String,
    threatfamily: String,
    #[serde(rename = "type")]
    kind: String,
    /// Not MIG's: whether `foundanything` was given (MIG keeps it beside the parameters).
    #[serde(skip)]
    filter_found: bool,
    #[serde(skip)]
    after_ms: i64,
    #[serde(skip)]
    before_ms: i64,
}

impl Parameters {
    fn defaults(now_ms: i64) -> Parameters {
        let any_id = || ANY_ID.to_string();
        let any = || ANY_TEXT.to_string();
        Parameters {
            actionid: any_id(),
            actionname: any(),
            after: rfc3339(now_ms - DEFAULT_WINDOW_MS),
            agentid: any_id(),
            agentname: any(),
            agentversion: any(),
            before: rfc3339(now_ms + DEFAULT_WINDOW_MS),
            commandid: any_id(),
            foundanything: false,
            investigatorid: any_id(),
            investigatorname: any(),
            limit: 100.0,
            loaderid: any_id(),
            loadername: any(),
            manifestid: any_id(),
            manifestname: any(),
            offset: 0.0,
            report: String::new(),
            status: any(),
            target: String::new(),
            threatfamily: any(),
            kind: "action".into(),
            filter_found: false,
            after_ms: now_ms - DEFAULT_WINDOW_MS,
            before_ms: now_ms + DEFAULT_WINDOW_MS,
        }
    }

    /// MIG's `parseSearchParameters`: the first value of each parameter MIG knows.
    fn parse(q: &HashMap<String, String>, now_ms: i64) -> Result<Parameters, ApiError> {
        let mut p = Parameters::defaults(now_ms);
        for (name, value) in q {
            let value = value.clone();
            match name.as_str() {
                "actionname" => p.actionname = value,
                "actionid" => p.actionid = value,
                "after" => {
                    p.after_ms = time(&value, "after")?;
                    p.after = value;
                }
                "agentid" => p.agentid = value,
                "agentname" => p.agentname = value,
                "agentversion" => p.agentversion = value,
                "before" => {
                    p.before_ms = time(&value, "before")?;
                    p.before = value;
                }
                "commandid" => p.commandid = value,
                "foundanything" => {
                    p.foundanything = match value.to_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ApiError::bad_request(
                                "foundanything parameter must be true or false",
                            ))
                        }
                    };
                    p.filter_found = true;
                }
                "investigatorid" => p.investigatorid = value,
                "investigatorname" => p.investigatorname = value,
                "limit" => p.limit = number(&value, "limit")?,
                "loadername" => p.loadername = value,
                "loaderid" => p.loaderid = value,
                "manifestname" => p.manifestname = value,
                "manifestid" => p.manifestid = value,
                "offset" => p.offset = number(&value, "offset")?,
                "report" => p.report = value,
                "status" => p.status = value,
                "target" => p.target = value,
                "threatfamily" => p.threatfamily = value,
                "type" => p.kind = value,
                _ => {}
            }
        }
        Ok(p)
    }

    /// `after`, unless it is at MIG's default window (then MIG applies no lower bound).
    fn after(&self, now_ms: i64) -> Option<i64> {
        (self.after_ms > now_ms - (DEFAULT_WINDOW_MS - HOUR_MS)).then_some(self.after_ms)
    }

    /// `before`, unless it is at MIG's default window.
    fn before(&self, now_ms: i64) -> Option<i64> {
        (self.before_ms < now_ms + (DEFAULT_WINDOW_MS - HOUR_MS)).then_some(self.before_ms)
    }

    /// The parameters a search type cannot apply, among those given (not at their default).
    fn refuse_unsupported(&self, supported: &[&str], now_ms: i64) -> Result<(), ApiError> {
        let given = [
            ("actionid", self.actionid != ANY_ID),
            ("actionname", self.actionname != ANY_TEXT),
            ("after", self.after(now_ms).is_some()),
            ("agentid", self.agentid != ANY_ID),
            ("agentname", self.agentname != ANY_TEXT),
            ("agentversion", self.agentversion != ANY_TEXT),
            ("before", self.before(now_ms).is_some()),
            ("commandid", self.commandid != ANY_ID),
            ("foundanything", self.filter_found),
            ("investigatorid", self.investigatorid != ANY_ID),
            ("investigatorname", self.investigatorname != ANY_TEXT),
            ("status", self.status != ANY_TEXT),
            ("target", !self.target.is_empty()),
            ("threatfamily", self.threatfamily != ANY_TEXT),
        ];
        let refused: Vec<&str> = given
            .iter()
            .filter(|(name, set)| *set && !supported.contains(name))
            .map(|(name, _)| *name)
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!(
                "search type '{}' cannot filter on {} on this server (docs/api.md lists what each type takes)",
                self.kind,
                refused.join(", ")
            )))
        }
    }

    fn limit(&self) -> i64 {
        self.limit.clamp(0.0, i64::MAX as f64) as i64
    }

    fn offset(&self) -> i64 {
        self.offset.clamp(0.0, i64::MAX as f64) as i64
    }
}

/// A float64 as Go's encoder writes it: `37`, not `37.0`.
fn go_float<S: serde::Serializer>(n: &f64, s: S) -> Result<S::Ok, S::Error> {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        s.serialize_i64(*n as i64)
    } else {
        s.serialize_f64(*n)
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn time(text: &str, name: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiError::bad_request(format!("{name} date not in RFC3339 format")))
}

fn number(text: &str, name: &str) -> Result<f64, ApiError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| ApiError::bad_request(format!("invalid {name} parameter")))
}

/// An ID parameter, or None for MIG's "any".
fn id(text: &str, name: &str) -> Result<Option<u64>, ApiError> {
    if text == ANY_ID {
        return Ok(None);
    }
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= mig_core::id::MAX_SAFE_ID as f64)
        .map(|n| Some(n as u64))
        .ok_or_else(|| ApiError::bad_request(format!("{name}: '{text}' is not an ID")))
}

/// A LIKE pattern, or None for MIG's "any". MIG's client turns `*` into `%`.
fn like(text: &str) -> Option<String> {
    (text != ANY_TEXT).then(|| text.replace('*', "%"))
}

/// An equality filter on a status, or None for "any".
fn status(text: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    if text == ANY_TEXT {
        return Ok(None);
    }
    crate::api::params::check_status(Some(text), allowed)?;
    Ok(Some(text.to_string()))
}

/// GET /search
pub async fn search(
    State(app): State<Arc<App>>,
    origin: Origin,
    Query(q): Query<HashMap<String, String>>,
) -> MigResult {
    let now = now_ms();
    let p = Parameters::parse(&q, now)?;
    let base = origin.base();
    let items: Vec<Item> = match p.kind.as_str() {
        "action" => actions(&app, &p, now, &base).await?,
        "agent" => agents(&app, &p, now, &base).await?,
        "command" => commands(&app, &p, now, &base).await?,
        "investigator" => investigators(&app, &p, now, &base).await?,
        "manifest" | "loader" => {
            return Err(ApiError::bad_request(format!(
                "search type '{}' is MIG's upgrade machinery, which this server does not serve",
                p.kind
            ))
            .into())
        }
        _ => return Err(ApiError::bad_request("search type is invalid").into()),
    };
    let mut r = Resource::new(origin.location());
    if items.is_empty() {
        r.push(Item::new(origin.location(), "search parameters", &p));
        return Err(Reply::Resource(Box::new(
            r.fail(StatusCode::NOT_FOUND, "no results found"),
        )));
    }
    for item in items {
        r.push(item);
    }
    if p.offset > 0.0 {
        let next = next_page(&q, p.offset + p.limit);
        r.push(Item::new(
            origin.location(),
            "pagination",
            serde_json::json!({"limit": p.limit as i64, "offset": p.offset as i64, "next": format!("{base}/search?{next}")}),
        ));
    }
    r.push(Item::new(origin.location(), "search parameters", &p));
    Ok(r)
}

/// The same query with the next page's offset.
fn next_page(q: &HashMap<String, String>, offset: f64) -> String {
    let mut pairs: Vec<(&str, String)> = q
        .iter()
        .filter(|(k, _)| k.as_str() != "offset")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    pairs.sort();
    pairs.push(("offset", format!("{offset:.0}")));
    serde_urlencoded_pairs(&pairs)
}

fn serde_urlencoded_pairs(pairs: &[(&str, String)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

async fn actions(app: &App, p: &Parameters, now: i64, base: &str) -> Result<Vec<Item>, Reply> {
    p.refuse_unsupported(
        &[
            "actionid",
            "actionname",
            "after",
            "before",
            "status",
            "investigatorid",
        ],
        now,
    )?;
    let filter = ActionFilter {
        id: id(&p.actionid, "actionid")?,
        status: status(&p.status, mig_core::action::status::ALL)?,
        name: like(&p.actionname),
        after: p.after(now),
        before: p.before(now),
        investigator: id(&p.investigatorid, "investigatorid")?,
        limit: p.limit(),
        offset: p.offset(),
    };
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    let found = app.store.list_actions(&filter).await?;
    Ok(found
        .iter()
        .map(|a| Item::new(format!("{base}/action?actionid={}", a.id), "action", a))
        .collect())
}

async fn agents(app: &App, p: &Parameters, now: i64, base: &str) -> Result<Vec<Item>, Reply> {
    let filter = if p.target.is_empty() {
        p.refuse_unsupported(
            &[
                "agentid",
                "agentname",
                "agentversion",
                "after",
                "before",
                "status",
            ],
            now,
        )?;
        AgentFilter {
            id: id(&p.agentid, "agentid")?,
            version: like(&p.agentversion),
            status: status(&p.status, mig_core::agent::status::ALL)?,
            name: like(&p.agentname),
            after: p.after(now),
            before: p.before(now),
            limit: p.limit(),
            offset: p.offset(),
            ..Default::default()
        }
    } else {
        // MIG answers a target with the online agents it selects, every other filter aside.
        let target = mig_core::target::parse(&p.target).map_err(ApiError::bad_request)?;
        AgentFilter {
            status: Some(mig_core::agent::status::ONLINE.into()),
            target: Some(target),
            limit: p.limit(),
            offset: p.offset(),
            ..Default::default()
        }
    };
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    let found = app.store.list_agents(&filter, now).await?;
    Ok(found
        .iter()
        .map(|a| Item::new(format!("{base}/agent?agentid={}", a.id), "agent", a))
        .collect())
}

async fn commands(app: &App, p: &Parameters, now: i64, base: &str) -> Result<Vec<Item>, Reply> {
    p.refuse_unsupported(
        &[
            "actionid",
            "agentid",
            "commandid",
            "status",
            "foundanything",
        ],
        now,
    )?;
    // MIG's foundanything searches successful commands only.
    let status = if p.filter_found {
        Some(mig_core::command::status::SUCCESS.to_string())
    } else {
        status(&p.status, mig_core::command::status::ALL)?
    };
    let filter = CommandFilter {
        id: id(&p.commandid, "commandid")?,
        action_id: id(&p.actionid, "actionid")?,
        agent_id: id(&p.agentid, "agentid")?,
        found: p.filter_found.then_some(p.foundanything),
        status,
        done_since: None,
        limit: p.limit(),
        offset: p.offset(),
    };
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    let mut found = app.store.list_commands(&filter).await?;
    // A listed command carries its action's ID and name; MIG's client needs the operations
    // to pick each result's printer. Each action is read once.
    let mut actions: HashMap<u64, mig_core::Action> = HashMap::new();
    for c in &mut found {
        if !actions.contains_key(&c.action.id) {
            let a = app.store.get_action(c.action.id).await?;
            actions.insert(a.id, a);
        }
        c.action = actions[&c.action.id].clone();
    }
    Ok(found
        .iter()
        .map(|c| Item::new(format!("{base}/command?commandid={}", c.id), "command", c))
        .collect())
}

async fn investigators(
    app: &App,
    p: &Parameters,
    now: i64,
    base: &str,
) -> Result<Vec<Item>, Reply> {
    p.refuse_unsupported(&["investigatorid", "investigatorname", "status"], now)?;
    let wanted_id = id(&p.investigatorid, "investigatorid")?;
    let name = like(&p.investigatorname);
    let status = status(&p.status, &["active", "disabled"])?;
    // MIG's search leaves the keys out (GET /investigator has them).
    let all = app.store.list_investigators(false).await?;
    Ok(all
        .iter()
        .filter(|i| wanted_id.is_none_or(|id| i.id == id))
        .filter(|i| status.as_ref().is_none_or(|s| &i.status == s))
        .filter(|i| name.as_ref().is_none_or(|n| like_matches(n, &i.name)))
        .skip(p.offset() as usize)
        .take(p.limit() as usize)
        .map(|i| {
            Item::new(
                format!("{base}/investigator?investigatorid={}", i.id),
                "investigator",
                mig_investigator(i),
            )
        })
        .collect())
}

/// SQL's case-insensitive LIKE (`%` any run, `_` any one character), for the investigators
/// this handler filters itself.
fn like_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_sql_like() {
        assert!(like_matches("%rec%", "Rec Investigator"));
        assert!(like_matches("r_c%", "rec"));
        assert!(!like_matches("rec", "recs"));
        assert!(like_matches("%", ""));
    }

    #[test]
    fn mig_console_default_window_filters_nothing() {
        let now = 1_800_000_000_000;
        let mut q = HashMap::new();
        q.insert("type".to_string(), "command".to_string());
        q.insert(
            "after".to_string(),
            rfc3339(now - DEFAULT_WINDOW_MS + 60_000),
        );
        q.insert(
            "before".to_string(),
            rfc3339(now + DEFAULT_WINDOW_MS - 60_000),
        );
        let p = Parameters::parse(&q, now).unwrap();
        assert_eq!((p.after(now), p.before(now)), (None, None));
        p.refuse_unsupported(&[], now).unwrap();
        q.insert("after".to_string(), rfc3339(now - HOUR_MS));
        let p = Parameters::parse(&q, now).unwrap();
        assert_eq!(p.after(now), Some(now - HOUR_MS));
        let refused = p.refuse_unsupported(&[], now).unwrap_err();
        assert!(
            refused.1.contains("cannot filter on after"),
            "{}",
            refused.1
        );
    }

    #[test]
    fn refuses_what_mig_refuses() {
        let q = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        let now = 0;
        assert!(Parameters::parse(&q("limit", "x"), now).is_err());
        assert!(Parameters::parse(&q("foundanything", "yes"), now).is_err());
        assert!(Parameters::parse(&q("after", "yesterday"), now).is_err());
        assert!(
            Parameters::parse(&q("foundanything", "TRUE"), now)
                .unwrap()
                .foundanything
        );
    }
}
