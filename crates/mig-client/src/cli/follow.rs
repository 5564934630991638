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

/// Follows `action` (as the server stored it) until it finishes; returns the exit code (0
/// found, 1 nothing found). A lost result stream is reconnected with backoff for
/// `reconnect` (the server sends the answered commands again; each is printed once); past
/// that, `mig` says how to look at the action later.
pub fn follow(
    client: Client,
    action: mig_core::Action,
    show: Show,
    format: Format,
    expected: i64,
    reconnect: Duration,
) -> anyhow::Result<u8> {
    let id = action.id;
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
    let (tx, rx) = mpsc::channel::<Event>();
    std::thread::spawn(move || stream_with_reconnects(&client, id, reconnect, &tx));
    let mut printer = Printer::new(format, show, &action);
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bar.abandon();
            eprintln!("\ninterrupted: action {id} keeps running on the agents; look at it later with `mig action show {id}`");
            return Ok(130);
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Stream(StreamEvent::Command(cmd))) => bar.suspend(|| printer.command(&cmd)),
            Ok(Event::Stream(StreamEvent::Counters {
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
            Ok(Event::Stream(StreamEvent::Done(status))) => {
                bar.finish_and_clear();
                printer.finish();
                eprintln!("action {id} {status}: {}", printer.summary());
                return Ok(if printer.found_any() {
                    exit::FOUND
                } else {
                    exit::NOT_FOUND
                });
            }
            Ok(Event::Reconnecting(why)) => {
                bar.suspend(|| eprintln!("lost the result stream ({why}): reconnecting"));
            }
            Ok(Event::GaveUp(why)) => {
                bar.abandon();
                printer.finish();
                anyhow::bail!(
                    "lost the server: {why}; action {id} keeps running on the agents; look at it later with `mig action show {id}`"
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bar.abandon();
                anyhow::bail!("the result stream ended before the action finished; see `mig action show {id}`");
            }
        }
    }
}

/// What the stream thread tells the printer.
enum Event {
    Stream(StreamEvent),
    Reconnecting(String),
    GaveUp(String),
}

/// Streams action `id`'s results into `tx`, reconnecting a lost stream with backoff (0.5 s,
/// doubling, at most 5 s apart) until nothing has come through for `window`.
fn stream_with_reconnects(client: &Client, id: u64, window: Duration, tx: &mpsc::Sender<Event>) {
    let mut last_contact = std::time::Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        let mut done = false;
        let mut heard = false;
        let result = client.stream(id, |ev| {
            heard = true;
            done |= matches!(ev, StreamEvent::Done(_));
            tx.send(Event::Stream(ev)).is_ok()
        });
        if done {
            return;
        }
        let why = match result {
            Ok(()) => "the server ended the stream".to_string(),
            Err(e) => format!("{e:#}"),
        };
        // Something came through on that connection: the window starts again.
        if heard {
            last_contact = std::time::Instant::now();
            wait = Duration::from_millis(500);
        }
        if last_contact.elapsed() >= window {
            let _ = tx.send(Event::GaveUp(why));
            return;
        }
        if tx.send(Event::Reconnecting(why)).is_err() {
            return;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}
