//! The wall-clock cap of one query. SQLite's progress handler asks it every few thousand VM
//! instructions and long generators (a file walk, a hash) ask it between files, so a query
//! stops on time whether the time goes into SQL or into reading the system.

use crate::context::{Context, Stop};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Why a query stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The query's own `timeout`.
    Timeout(Duration),
    /// The module's deadline (the agent's, or `-e` locally) came first.
    ModuleDeadline,
    Cancelled,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Timeout(d) => write!(
                f,
                "the query was interrupted: it ran longer than its timeout ({})",
                crate::gofmt::duration(*d)
            ),
            StopReason::ModuleDeadline => {
                f.write_str("the query was interrupted: the module ran out of time")
            }
            StopReason::Cancelled => f.write_str("the query was interrupted: it was cancelled"),
        }
    }
}

pub struct Budget {
    parent: Context,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    /// 0: running; 1: timeout; 2: module deadline; 3: cancelled.
    stopped: AtomicU8,
    /// Rows are kept until their text adds up to this much (the result's byte budget).
    pub max_result_bytes: usize,
}

impl Budget {
    pub fn new(parent: &Context, timeout: Option<Duration>) -> Budget {
        Budget {
            parent: parent.clone(),
            timeout,
            deadline: timeout.map(|t| Instant::now() + t),
            stopped: AtomicU8::new(0),
            max_result_bytes: parent.limits.max_result_bytes,
        }
    }

    /// No limit: listing tables, `.schema`, tests.
    pub fn unlimited() -> Budget {
        Budget::new(&Context::new(None), None)
    }

    pub fn check(&self) -> Result<(), StopReason> {
        if let Some(r) = self.stopped() {
            return Err(r);
        }
        let reason = match self.parent.check() {
            Err(Stop::Cancelled) => Some(3),
            Err(Stop::Deadline) => Some(2),
            Ok(()) if self.deadline.is_some_and(|d| Instant::now() >= d) => Some(1),
            Ok(()) => None,
        };
        match reason {
            Some(code) => {
                self.stopped.store(code, Ordering::Relaxed);
                Err(self.stopped().unwrap_or(StopReason::Cancelled))
            }
            None => Ok(()),
        }
    }

    /// Why the query stopped, once it has.
    pub fn stopped(&self) -> Option<StopReason> {
        match self.stopped.load(Ordering::Relaxed) {
            1 => Some(StopReason::Timeout(self.timeout.unwrap_or_default())),
            2 => Some(StopReason::ModuleDeadline),
            3 => Some(StopReason::Cancelled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_limit_reached_is_the_reason() {
        let b = Budget::new(&Context::new(None), Some(Duration::ZERO));
        assert_eq!(b.check(), Err(StopReason::Timeout(Duration::ZERO)));
        assert!(b.stopped().is_some());
        let b = Budget::new(
            &Context::new(Some(Duration::ZERO)),
            Some(Duration::from_secs(60)),
        );
        assert_eq!(b.check(), Err(StopReason::ModuleDeadline));
        let parent = Context::new(None);
        let b = Budget::new(&parent, None);
        assert!(b.check().is_ok());
        parent.cancel();
        assert_eq!(b.check(), Err(StopReason::Cancelled));
        assert!(Budget::unlimited().check().is_ok());
    }
}
