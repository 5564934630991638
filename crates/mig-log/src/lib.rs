//! How the platform's programs log, to stderr: text for people (coloured only when stderr is
//! a terminal, so that log files hold no escape codes) or one JSON object per line for log
//! pipelines (`--log-format json`). `RUST_LOG` overrides the default filter.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

use std::io::IsTerminal;

/// Logging unless RUST_LOG says otherwise. lapin reports a lost broker connection as errors of
/// its own; ours say the same once, with what happens next. PostgreSQL's notices are chatter.
pub const DEFAULT_FILTER: &str = "info,lapin=off,sqlx::postgres::notice=warn";

/// The names `--log-format` takes.
pub const FORMATS: [&str; 2] = ["text", "json"];

/// Starts logging in `format` (`text` or `json`; anything else is text).
pub fn init(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| DEFAULT_FILTER.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
