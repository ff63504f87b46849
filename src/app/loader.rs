//! The media worker: opens files and computes their analysis off the UI thread.
//! Named threads, one bounded channel, a cancel flag per job, and a generation number so a
//! result that arrives after a newer request is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use crate::analysis::{ClipAnalysis, analyse};
use crate::dsp::MelConfig;
use crate::media::{Clip, Job, LoadOptions, open, open_pair};

use super::settings::Source;

/// Wakes the UI (egui's `request_repaint`); a plain closure so the loader is testable alone.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

pub enum Outcome {
    Loaded { source: Source, clip: Arc<Clip>, analysis: Option<Arc<ClipAnalysis>> },
    Analysed { analysis: Option<Arc<ClipAnalysis>> },
    Failed { source: Option<Source>, message: String },
}

enum Msg {
    Progress { generation: u64, fraction: f32 },
    Done { generation: u64, outcome: Outcome },
}

/// What is running now, for the status line.
#[derive(Clone, Debug)]
pub struct Busy {
    pub label: String,
    pub fraction: f32,
}

pub struct Loader {
    tx: SyncSender<Msg>,
    rx: Receiver<Msg>,
    generation: u64,
    cancel: Arc<AtomicBool>,
    busy: Option<Busy>,
    waker: Waker,
    options: Arc<Mutex<LoadOptions>>,
}

impl Loader {
    pub fn new(waker: Waker) -> Self {
        let (tx, rx) = sync_channel(64);
        Self { tx, rx, generation: 0, cancel: Arc::new(AtomicBool::new(false)), busy: None, waker, options: Arc::new(Mutex::new(LoadOptions::default())) }
    }

    pub fn busy(&self) -> Option<&Busy> {
        self.busy.as_ref()
    }

    /// Stop the running job (its result will be dropped).
    pub fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.generation += 1;
        self.busy = None;
    }

    /// Open a file or pair, then analyse it with `mel`.
    pub fn open(&mut self, source: Source, mel: MelConfig) {
        let label = format!("Opening {}", source.label());
        let options = self.options.lock().map(|o| o.clone()).unwrap_or_default();
        self.spawn(label, move |job| {
            let clip = match &source {
                Source::File(p) => open(p, &options, job),
                Source::Pair { audio, image } => open_pair(audio, image, &options, job),
            };
            match clip {
                Ok(clip) => match analyse(&clip, mel) {
                    Ok(analysis) => Outcome::Loaded { source, clip: Arc::new(clip), analysis: analysis.map(Arc::new) },
                    Err(e) => Outcome::Failed { source: Some(source), message: format!("spectrogram settings: {e}") },
                },
                Err(e) => Outcome::Failed { source: Some(source), message: e.to_string() },
            }
        });
    }

    /// Recompute the analysis of the current clip (spectrogram settings changed).
    pub fn reanalyse(&mut self, clip: Arc<Clip>, mel: MelConfig) {
        self.spawn("Computing spectrogram".into(), move |_| match analyse(&clip, mel) {
            Ok(analysis) => Outcome::Analysed { analysis: analysis.map(Arc::new) },
            Err(e) => Outcome::Failed { source: None, message: format!("spectrogram settings: {e}") },
        });
    }

    fn spawn(&mut self, label: String, work: impl FnOnce(&Job<'_>) -> Outcome + Send + 'static) {
        self.cancel.store(true, Ordering::Relaxed);
        self.cancel = Arc::new(AtomicBool::new(false));
        self.generation += 1;
        let generation = self.generation;
        let (tx, cancel, waker) = (self.tx.clone(), self.cancel.clone(), self.waker.clone());
        self.busy = Some(Busy { label, fraction: 0.0 });
        let progress_tx = tx.clone();
        let progress_waker = waker.clone();
        let spawned = std::thread::Builder::new().name("mcgurk-media".into()).spawn(move || {
            let progress = move |fraction: f32| {
                // Progress is advisory: drop it rather than block when the UI is behind.
                if progress_tx.try_send(Msg::Progress { generation, fraction }).is_ok() {
                    progress_waker();
                }
            };
            let job = Job::new(&progress, &cancel);
            let outcome = work(&job);
            if !cancel.load(Ordering::Relaxed) && tx.send(Msg::Done { generation, outcome }).is_ok() {
                waker();
            }
        });
        if let Err(e) = spawned {
            self.busy = None;
            let _ = self.tx.try_send(Msg::Done { generation, outcome: Outcome::Failed { source: None, message: format!("cannot start worker thread: {e}") } });
        }
    }

    /// Drain the channel; returns finished outcomes of the current generation only.
    pub fn poll(&mut self) -> Vec<Outcome> {
        let mut done = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Progress { generation, fraction } if generation == self.generation => {
                    if let Some(b) = &mut self.busy {
                        b.fraction = fraction;
                    }
                }
                Msg::Done { generation, outcome } if generation == self.generation => {
                    self.busy = None;
                    done.push(outcome);
                }
                _ => {} // stale: a newer request superseded it
            }
        }
        done
    }
}
