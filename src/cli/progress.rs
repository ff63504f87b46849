//! The commands' one progress line on stderr. On a terminal it rewrites itself in place; in a
//! log file (a batch job's stderr on Slurm or Kubernetes) `\r` would make one endless line, so
//! it prints whole lines instead, at most one every few seconds plus the last one. Whatever
//! else goes to stderr ends the line first (`end`, `note`), so an error or a note never lands
//! glued to it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a log file gets a progress line.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A line is open on the terminal (written without its newline).
static OPEN: AtomicBool = AtomicBool::new(false);
static LAST: Mutex<Option<Instant>> = Mutex::new(None);

fn terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Shows `text` as the current progress; `last` marks the final report of a stage (always
/// written to a log).
pub fn show(text: &str, last: bool) {
    let mut err = std::io::stderr().lock();
    if terminal() {
        let _ = write!(err, "\r{text}   ");
        let _ = err.flush();
        OPEN.store(true, Ordering::Relaxed);
        return;
    }
    let mut previous = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = Instant::now();
    if last || previous.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) {
        let _ = writeln!(err, "{text}");
        *previous = Some(now);
    }
}

/// `what done/total`, the last one always shown.
pub fn count(what: &str, done: usize, total: usize) {
    show(&format!("{what} {done}/{total}"), done >= total);
}

/// Ends an open progress line (before anything else is printed to stderr).
pub fn end() {
    if OPEN.swap(false, Ordering::Relaxed) {
        let _ = writeln!(std::io::stderr());
    }
    if let Ok(mut last) = LAST.lock() {
        *last = None;
    }
}

/// A line of its own (a finished epoch, a note), after ending the progress line.
pub fn note(text: &str) {
    end();
    eprintln!("{text}");
}

/// A duration for people: `42 s`, `3 min 20 s`, `2 h 05 min`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}
