//! Progress reporting and cancellation for long media work, with no GUI types.

use std::sync::atomic::{AtomicBool, Ordering};

/// What a long-running load reports to, and how it learns it should stop.
pub struct Job<'a> {
    progress: &'a (dyn Fn(f32) + Sync),
    cancel: &'a AtomicBool,
}

static NEVER: AtomicBool = AtomicBool::new(false);

impl<'a> Job<'a> {
    pub fn new(progress: &'a (dyn Fn(f32) + Sync), cancel: &'a AtomicBool) -> Self {
        Self { progress, cancel }
    }

    /// A job nobody watches and nobody cancels (CLI, tests).
    pub fn detached() -> Job<'static> {
        Job { progress: &|_| {}, cancel: &NEVER }
    }

    /// Report a fraction in [0, 1].
    pub fn progress(&self, fraction: f32) {
        (self.progress)(fraction.clamp(0.0, 1.0));
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}
