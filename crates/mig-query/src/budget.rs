//! The wall-clock cap of one query. SQLite's progress handler asks it every few thousand VM
//! instructions and long generators (a file walk, a hash) ask it between files, so a query
//! stops on time whether the time goes into SQL or into reading the system.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the query runs inside: a deadline and a cancel switch of the whole run (the module's,
/// when the query module runs it), and how many bytes of rows it may keep.
#[derive(Debug, Clone)]
pub struct Parent {
    /// When the whole run must end; `None` for no deadline.
    pub deadline: Option<Instant>,
    /// Set by whoever cancels the run; the query sets it too when the run's deadline passes,
    /// so that the run's other threads stop.
    pub cancelled: Arc<AtomicBool>,
    /// The most bytes of row text the query may keep before it stops (see
    /// [`Budget::max_result_bytes`]).
    pub max_result_bytes: usize,
}

impl Parent {
    /// No deadline, never cancelled, the default result budget (16 MiB less room for the
    /// command around it).
    pub fn unlimited() -> Parent {
        Parent {
            deadline: None,
            cancelled: Arc::new(AtomicBool::new(false)),
            max_result_bytes: (16 << 20) - (64 << 10),
        }
    }
}

/// Why a query stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The query's own `timeout`.
    Timeout(Duration),
    /// The module's deadline (the agent's, or `-e` locally) came first.
    ModuleDeadline,
    /// The run was cancelled by whoever started it.
    Cancelled,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Timeout(d) => write!(
                f,
                "the query was interrupted: it ran longer than its timeout ({})",
                mig_core::gotime::format_duration(*d)
            ),
            StopReason::ModuleDeadline => {
                f.write_str("the query was interrupted: the module ran out of time")
            }
            StopReason::Cancelled => f.write_str("the query was interrupted: it was cancelled"),
        }
    }
}

/// One query's limits: its own timeout within the parent run's deadline and cancel switch,
/// and the result's byte budget. Shared by the engine, the progress handler and the
/// generators.
pub struct Budget {
    parent: Parent,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    /// 0: running; 1: timeout; 2: module deadline; 3: cancelled.
    stopped: AtomicU8,
    /// Rows are kept until their text adds up to this much (the result's byte budget).
    pub max_result_bytes: usize,
}

impl Budget {
    /// A budget for one query in `parent`, whose own `timeout`, if any, starts now.
    pub fn new(parent: Parent, timeout: Option<Duration>) -> Budget {
        Budget {
            max_result_bytes: parent.max_result_bytes,
            parent,
            timeout,
            deadline: timeout.map(|t| Instant::now() + t),
            stopped: AtomicU8::new(0),
        }
    }

    /// No limit: listing tables, `.schema`, tests.
    pub fn unlimited() -> Budget {
        Budget::new(Parent::unlimited(), None)
    }

    /// `Err` with the reason once the query must stop (its timeout passed, the run's deadline
    /// passed or the run was cancelled); the first reason found sticks. Passing the run's
    /// deadline also cancels the run.
    pub fn check(&self) -> Result<(), StopReason> {
        if let Some(r) = self.stopped() {
            return Err(r);
        }
        let now = Instant::now();
        let reason = if self.parent.cancelled.load(Ordering::Relaxed) {
            Some(3)
        } else if self.parent.deadline.is_some_and(|d| now >= d) {
            self.parent.cancelled.store(true, Ordering::Relaxed);
            Some(2)
        } else if self.deadline.is_some_and(|d| now >= d) {
            Some(1)
        } else {
            None
        };
        match reason {
            Some(code) => {
                self.stopped.store(code, Ordering::Relaxed);
                Err(self.stopped().unwrap_or(StopReason::Cancelled))
            }
            None => Ok(()),
        }
    }

    /// The time left before the nearer of the query's and the run's deadlines; `None` when
    /// neither has one. A scan that cannot be interrupted (a YARA scan) is given this long.
    pub fn remaining(&self) -> Option<Duration> {
        let now = Instant::now();
        [self.deadline, self.parent.deadline]
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(now))
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
        let b = Budget::new(Parent::unlimited(), Some(Duration::ZERO));
        assert_eq!(b.check(), Err(StopReason::Timeout(Duration::ZERO)));
        assert!(b.stopped().is_some());
        let run = Parent {
            deadline: Some(Instant::now()),
            ..Parent::unlimited()
        };
        let b = Budget::new(run.clone(), Some(Duration::from_secs(60)));
        assert_eq!(b.check(), Err(StopReason::ModuleDeadline));
        assert!(
            run.cancelled.load(Ordering::Relaxed),
            "the run's other threads stop too"
        );
        let parent = Parent::unlimited();
        let b = Budget::new(parent.clone(), None);
        assert!(b.check().is_ok());
        parent.cancelled.store(true, Ordering::Relaxed);
        assert_eq!(b.check(), Err(StopReason::Cancelled));
        assert!(Budget::unlimited().check().is_ok());
    }
}
