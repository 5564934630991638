//! What the server takes from an agent before storing it: heartbeats of a sane size (tags and
//! environment are stored and sent back in every listing), and new agents at a bounded rate
//! (a stolen client certificate must not fill the database with invented agents). Agents
//! already known register again at any rate: a fleet reconnecting after a restart is not new.

use mig_core::Agent;
use std::sync::Mutex;
use std::time::Instant;

/// Tags one agent may carry.
pub const MAX_TAGS: usize = 64;
/// Bytes of one tag's name.
pub const MAX_TAG_NAME: usize = 128;
/// Bytes of one tag's value.
pub const MAX_TAG_VALUE: usize = 1024;
/// Bytes of all of an agent's tags, as JSON.
pub const MAX_TAGS_BYTES: usize = 16 << 10;
/// Bytes of an agent's environment (addresses, OS…), as JSON.
pub const MAX_ENVIRONMENT_BYTES: usize = 64 << 10;

/// Checks a heartbeat's identity fields and sizes; the error says which field and the cap.
pub fn check_heartbeat(agent: &Agent) -> Result<(), String> {
    if agent.queueloc.is_empty() || agent.queueloc.len() > 512 {
        return Err("queueloc: expected 1 to 512 characters".into());
    }
    if agent.name.is_empty() || agent.name.len() > 512 {
        return Err("name: expected 1 to 512 characters".into());
    }
    if agent.tags.len() > MAX_TAGS {
        return Err(format!(
            "tags: {} tags, more than the {MAX_TAGS} an agent may have",
            agent.tags.len()
        ));
    }
    for (name, value) in &agent.tags {
        if name.is_empty() || name.len() > MAX_TAG_NAME {
            return Err(format!(
                "tags: a tag's name must have 1 to {MAX_TAG_NAME} bytes, {:?}… has {}",
                name.chars().take(32).collect::<String>(),
                name.len()
            ));
        }
        if value.len() > MAX_TAG_VALUE {
            return Err(format!(
                "tags: the value of {name:?} has {} bytes, more than {MAX_TAG_VALUE}",
                value.len()
            ));
        }
    }
    let tags = serde_json::to_vec(&agent.tags).map_or(0, |v| v.len());
    if tags > MAX_TAGS_BYTES {
        return Err(format!(
            "tags: {tags} bytes in all, more than {MAX_TAGS_BYTES}"
        ));
    }
    let env = serde_json::to_vec(&agent.environment).map_or(0, |v| v.len());
    if env > MAX_ENVIRONMENT_BYTES {
        return Err(format!(
            "environment: {env} bytes, more than {MAX_ENVIRONMENT_BYTES}"
        ));
    }
    Ok(())
}

/// A token bucket for registrations of agents the server has never seen.
pub struct NewAgents {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl NewAgents {
    pub fn new(per_second: u32, burst: u32) -> NewAgents {
        let burst = f64::from(burst.max(1));
        NewAgents {
            per_second: f64::from(per_second),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// May one more new agent register now?
    pub fn admit(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, since) = &mut *state;
        let now = Instant::now();
        *tokens =
            (*tokens + now.duration_since(*since).as_secs_f64() * self.per_second).min(self.burst);
        *since = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The reason given to a new agent refused by the rate limit (it tries again later).
pub const TOO_MANY_NEW_AGENTS: &str =
    "too many new agents are registering right now: try again later";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_heartbeats_are_refused_with_the_field_named() {
        let mut a = Agent {
            name: "host".into(),
            queueloc: "linux.host.x".into(),
            ..Default::default()
        };
        assert!(check_heartbeat(&a).is_ok());
        a.tags.insert("big".into(), "x".repeat(MAX_TAG_VALUE + 1));
        assert!(check_heartbeat(&a)
            .unwrap_err()
            .contains("value of \"big\""));
        a.tags.clear();
        for i in 0..=MAX_TAGS {
            a.tags.insert(format!("t{i}"), "v".into());
        }
        assert!(check_heartbeat(&a).unwrap_err().contains("65 tags"));
        a.tags.clear();
        for i in 0..40 {
            a.tags.insert(format!("t{i}"), "v".repeat(MAX_TAG_VALUE));
        }
        assert!(check_heartbeat(&a).unwrap_err().contains("bytes in all"));
    }

    #[test]
    fn new_agents_are_admitted_at_the_configured_rate() {
        let limiter = NewAgents::new(0, 3);
        assert!((0..3).all(|_| limiter.admit()));
        assert!(!limiter.admit(), "the burst is spent and nothing refills");
        let limiter = NewAgents::new(1_000_000, 1);
        assert!(limiter.admit());
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(limiter.admit(), "refilled");
    }
}
