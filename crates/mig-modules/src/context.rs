//! What a running module is given besides its parameters: a deadline, a cancel switch and
//! hard caps on the size of what it returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Caps on a result, whatever the parameters ask for. A module that reaches one stops adding
/// and says so in `errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Matches (elements) across the whole result.
    pub max_elements: usize,
    /// Error strings in the result.
    pub max_errors: usize,
    /// Bytes of the result's JSON: what one result may take of the relay's message cap.
    /// The agent sets it per operation; [`crate::fit_result`] enforces it on every result.
    pub max_result_bytes: usize,
}

/// The result budget when nothing smaller is asked for: the relay's message cap (16 MiB),
/// less room for the command around the result.
pub const DEFAULT_RESULT_BYTES: usize = (16 << 20) - (64 << 10);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_elements: 100_000,
            max_errors: 1_000,
            max_result_bytes: DEFAULT_RESULT_BYTES,
        }
    }
}

/// Why a module stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The investigator (or the agent, shutting down) cancelled the run.
    Cancelled,
    /// The run's time ran out.
    Deadline,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Cancelled => f.write_str("the module was cancelled"),
            Stop::Deadline => f.write_str("the module ran out of time"),
        }
    }
}

/// Shared by every thread of one module run; cheap to check often.
#[derive(Debug, Clone)]
pub struct Context {
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
    /// Caps on what the run may return.
    pub limits: Limits,
}

impl Default for Context {
    fn default() -> Self {
        Context::new(None)
    }
}

impl Context {
    /// A context with a deadline `timeout` from now (none: no deadline) and default limits.
    pub fn new(timeout: Option<Duration>) -> Context {
        Context {
            deadline: timeout.map(|t| Instant::now() + t),
            cancelled: Arc::new(AtomicBool::new(false)),
            limits: Limits::default(),
        }
    }

    /// The same context with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Context {
        self.limits = limits;
        self
    }

    /// Asks every thread of the run to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// `Err` once the run was cancelled or its deadline passed. Call it between units of work
    /// (a file, a block of a file).
    pub fn check(&self) -> Result<(), Stop> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(Stop::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.cancel();
            return Err(Stop::Deadline);
        }
        Ok(())
    }

    /// The run's deadline and cancel switch, and its result budget, for the SQL engine.
    pub fn query_parent(&self) -> mig_query::budget::Parent {
        mig_query::budget::Parent {
            deadline: self.deadline,
            cancelled: self.cancelled.clone(),
            max_result_bytes: self.limits.max_result_bytes,
        }
    }

    /// The time left before the deadline; `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_and_cancel_stop_the_run() {
        let ctx = Context::new(Some(Duration::from_millis(0)));
        assert_eq!(ctx.check(), Err(Stop::Deadline));
        let ctx = Context::new(None);
        assert!(ctx.check().is_ok());
        let clone = ctx.clone();
        clone.cancel();
        assert_eq!(ctx.check(), Err(Stop::Cancelled));
    }
}
