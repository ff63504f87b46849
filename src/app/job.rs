//! The one background-job type of the window. A job is a named thread that reports to the UI
//! through a bounded channel and wakes it (`request_repaint`) on every message; the UI can
//! cancel it through a shared flag; a [`Slot`] holds the one job a part runs at a time, numbers
//! its jobs (generation) and drops whatever a superseded job still sends.
//!
//! Windows own their settings, result and drawing; the thread, the channel, the flag, the
//! progress and the generation live here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

/// Wakes the UI (egui's `request_repaint`); a plain closure so jobs are testable without a window.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// How far a job has come, for a progress bar.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// What is being done ("embedding clips", "Opening cow.mp4").
    pub what: String,
    pub done: usize,
    pub total: usize,
}

impl Progress {
    pub fn fraction(&self) -> f32 {
        if self.total == 0 { 0.0 } else { (self.done as f32 / self.total as f32).clamp(0.0, 1.0) }
    }
}

enum Envelope<M> {
    Progress(Progress),
    Message(M),
}

/// The worker's end: sends messages and progress, reads the cancel flag.
pub struct Reporter<M> {
    tx: SyncSender<Envelope<M>>,
    cancel: Arc<AtomicBool>,
    waker: Waker,
    generation: u64,
}

impl<M> Clone for Reporter<M> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), cancel: self.cancel.clone(), waker: self.waker.clone(), generation: self.generation }
    }
}

impl<M> Reporter<M> {
    /// Sends a message that must arrive (a result); waits while the channel is full. False when
    /// the UI no longer listens (the job was superseded or the window closed).
    pub fn send(&self, message: M) -> bool {
        let ok = self.tx.send(Envelope::Message(message)).is_ok();
        (self.waker)();
        ok
    }

    /// Sends a message that may be dropped when the UI is behind (a step's loss, a note).
    pub fn offer(&self, message: M) {
        if self.tx.try_send(Envelope::Message(message)).is_ok() {
            (self.waker)();
        }
    }

    /// Reports progress; dropped when the UI is behind (the next report replaces it anyway).
    pub fn progress(&self, what: impl Into<String>, done: usize, total: usize) {
        if self.tx.try_send(Envelope::Progress(Progress { what: what.into(), done, total })).is_ok() {
            (self.waker)();
        }
    }

    /// Reports a fraction in [0, 1] (kept as ten-thousandths).
    pub fn progress_fraction(&self, fraction: f32) {
        let done = (fraction.clamp(0.0, 1.0) * 10_000.0).round() as usize;
        self.progress("", done, 10_000);
    }

    /// Whether the UI asked the job to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag, for engine functions that take one.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// The number the slot gave this job.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// The UI's end of one job.
pub struct Job<M> {
    rx: Receiver<Envelope<M>>,
    cancel: Arc<AtomicBool>,
    progress: Option<Progress>,
    ended: bool,
    generation: u64,
}

impl<M: Send + 'static> Job<M> {
    /// Starts `work` on a thread named `mcgurk-{name}`, with room for `capacity` unread
    /// messages. The UI is woken once more when the thread ends.
    pub fn spawn(name: &str, capacity: usize, waker: Waker, work: impl FnOnce(&Reporter<M>) + Send + 'static) -> Result<Self, String> {
        Self::numbered(name, capacity, waker, 0, work)
    }

    fn numbered(name: &str, capacity: usize, waker: Waker, generation: u64, work: impl FnOnce(&Reporter<M>) + Send + 'static) -> Result<Self, String> {
        let (job, reporter) = Self::channel(capacity, waker, generation);
        std::thread::Builder::new()
            .name(format!("mcgurk-{name}"))
            .spawn(move || {
                work(&reporter);
                let waker = reporter.waker.clone();
                drop(reporter);
                // The channel is closed now: the next poll sees that the job ended.
                waker();
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        Ok(job)
    }

    /// A job without a thread of ours: the reporter goes to a callback that another thread
    /// calls (audio playback's end, a screenshot). The job ends when every reporter is dropped.
    pub fn listen(capacity: usize, waker: Waker) -> (Self, Reporter<M>) {
        Self::channel(capacity, waker, 0)
    }

    fn channel(capacity: usize, waker: Waker, generation: u64) -> (Self, Reporter<M>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        let cancel = Arc::new(AtomicBool::new(false));
        let reporter = Reporter { tx, cancel: cancel.clone(), waker, generation };
        (Self { rx, cancel, progress: None, ended: false, generation }, reporter)
    }
}

impl<M> Job<M> {
    /// Asks the worker to stop; it still reports how it ended.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The messages that arrived since the last poll (progress is kept, not returned).
    pub fn poll(&mut self) -> Vec<M> {
        let mut out = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(Envelope::Progress(p)) => self.progress = Some(p),
                Ok(Envelope::Message(m)) => out.push(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.ended = true;
                    break;
                }
            }
        }
        out
    }

    /// True once the worker is gone and everything it sent has been polled.
    pub fn ended(&self) -> bool {
        self.ended
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl<M> Drop for Job<M> {
    /// Nobody listens any more: the worker should stop at its next check.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The one job a part of the window runs at a time. Starting a job supersedes the running one
/// (cancelled, and what it still sends is dropped with its channel); jobs are numbered.
pub struct Slot<M> {
    job: Option<Job<M>>,
    generation: u64,
}

impl<M> Default for Slot<M> {
    fn default() -> Self {
        Self { job: None, generation: 0 }
    }
}

impl<M: Send + 'static> Slot<M> {
    /// Starts `work` (see [`Job::spawn`]) in place of the running job; returns its generation.
    pub fn start(&mut self, name: &str, capacity: usize, waker: Waker, work: impl FnOnce(&Reporter<M>) + Send + 'static) -> Result<u64, String> {
        self.abandon();
        self.generation += 1;
        self.job = Some(Job::numbered(name, capacity, waker, self.generation, work)?);
        Ok(self.generation)
    }
}

impl<M> Slot<M> {
    /// Asks the running job to stop; its last messages (how it ended) still arrive.
    pub fn cancel(&self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    /// Cancels the running job and forgets it: nothing it sends arrives. True if one ran.
    pub fn abandon(&mut self) -> bool {
        self.job.take().is_some()
    }

    /// The messages of the current job; the slot empties once the job has ended.
    pub fn poll(&mut self) -> Vec<M> {
        let Some(job) = &mut self.job else { return Vec::new() };
        let out = job.poll();
        if job.ended() {
            self.job = None;
        }
        out
    }

    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The running job's last progress report.
    pub fn progress(&self) -> Option<&Progress> {
        self.job.as_ref().and_then(Job::progress)
    }

    /// The number of the newest job started (running or not).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// Several one-shot jobs at once whose messages go to one place (the workbench's file dialogs,
/// exports, hashing and playback, each answering with a command).
pub struct Pool<M> {
    jobs: Vec<Job<M>>,
    waker: Waker,
}

impl<M: Send + 'static> Pool<M> {
    pub fn new(waker: Waker) -> Self {
        Self { jobs: Vec::new(), waker }
    }

    /// Runs `work` on a thread named `mcgurk-{name}`; what it returns arrives through `poll`.
    pub fn run(&mut self, name: &str, work: impl FnOnce() -> Option<M> + Send + 'static) -> Result<(), String> {
        let job = Job::spawn(name, 1, self.waker.clone(), move |r| {
            if let Some(m) = work() {
                r.send(m);
            }
        })?;
        self.jobs.push(job);
        Ok(())
    }

    /// A reporter for a callback on a thread that is not ours (see [`Job::listen`]).
    pub fn listener(&mut self) -> Reporter<M> {
        let (job, reporter) = Job::listen(4, self.waker.clone());
        self.jobs.push(job);
        reporter
    }

    /// Everything the jobs sent since the last poll; ended jobs are removed.
    pub fn poll(&mut self) -> Vec<M> {
        let mut out = Vec::new();
        for job in &mut self.jobs {
            out.extend(job.poll());
        }
        self.jobs.retain(|j| !j.ended());
        out
    }

    /// Jobs still running.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}
