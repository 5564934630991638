//! Following an action: a progress bar of its counters, results printed as they arrive
//! (MIG's human form, JSON or NDJSON), Ctrl-C leaving the action running, and the exit code.

use super::output::{Format, Printer, Show};
use crate::exit;
use mig_client::api::{Client, StreamEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Follows action `id` until it finishes; returns the exit code (0 found, 1 nothing found).
pub fn follow(
    client: Client,
    id: u64,
    modules: Vec<String>,
    show: Show,
    format: Format,
    expected: i64,
) -> anyhow::Result<u8> {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(expected.max(0) as u64),
        if format == Format::Text {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} done  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (tx, rx) = mpsc::channel::<anyhow::Result<StreamEvent>>();
    std::thread::spawn(move || {
        let tx2 = tx.clone();
        let r = client.stream(id, move |ev| tx2.send(Ok(ev)).is_ok());
        if let Err(e) = r {
            let _ = tx.send(Err(e));
        }
    });
    let mut printer = Printer::new(format, show, modules);
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bar.abandon();
            eprintln!("\ninterrupted: action {id} keeps running on the agents; look at it later with `mig action show {id}`");
            return Ok(130);
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(StreamEvent::Command(cmd))) => bar.suspend(|| printer.command(&cmd)),
            Ok(Ok(StreamEvent::Counters {
                status,
                counters: c,
            })) => {
                bar.set_length(c.sent.max(expected) as u64);
                bar.set_position(c.done as u64);
                bar.set_message(format!(
                    "success {}  failed {}  timeout {}  expired {}  [{status}]",
                    c.success, c.failed, c.timeout, c.expired
                ));
            }
            Ok(Ok(StreamEvent::Done(status))) => {
                bar.finish_and_clear();
                printer.finish();
                eprintln!("action {id} {status}: {}", printer.summary());
                return Ok(if printer.found_any() {
                    exit::FOUND
                } else {
                    exit::NOT_FOUND
                });
            }
            Ok(Err(e)) => {
                bar.abandon();
                return Err(e);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bar.abandon();
                anyhow::bail!("the result stream ended before the action finished; see `mig action show {id}`");
            }
        }
    }
}
