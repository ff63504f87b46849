//! The media worker: opens files and computes their analysis off the UI thread, one job at a
//! time in a [`Slot`] (a newer request supersedes the running one, whose result is dropped).

use std::sync::{Arc, Mutex};

use crate::analysis::{ClipAnalysis, analyse};
use crate::dsp::MelConfig;
use crate::media::{Clip, LoadOptions, open, open_pair};

use super::job::{Reporter, Slot};
use super::job::Waker;
use super::settings::Source;

pub enum Outcome {
    Loaded { source: Source, clip: Arc<Clip>, analysis: Option<Arc<ClipAnalysis>> },
    Analysed { analysis: Option<Arc<ClipAnalysis>> },
    Failed { source: Option<Source>, message: String },
}

/// What is running now, for the status line.
#[derive(Clone, Debug)]
pub struct Busy {
    pub label: String,
    pub fraction: f32,
}

pub struct Loader {
    slot: Slot<Outcome>,
    /// What the running job does, for the status line.
    label: String,
    /// The thread could not be started: reported by the next poll.
    failed_to_start: Option<Outcome>,
    waker: Waker,
    options: Arc<Mutex<LoadOptions>>,
}

impl Loader {
    pub fn new(waker: Waker) -> Self {
        Self { slot: Slot::default(), label: String::new(), failed_to_start: None, waker, options: Arc::new(Mutex::new(LoadOptions::default())) }
    }

    pub fn busy(&self) -> Option<Busy> {
        self.slot.running().then(|| Busy { label: self.label.clone(), fraction: self.slot.progress().map_or(0.0, |p| p.fraction()) })
    }

    /// Stop the running job (its result will be dropped).
    pub fn cancel(&mut self) {
        self.slot.abandon();
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

    fn spawn(&mut self, label: String, work: impl FnOnce(&crate::media::Job<'_>) -> Outcome + Send + 'static) {
        let started = self.slot.start("media", 4, self.waker.clone(), move |r: &Reporter<Outcome>| {
            let progress = |fraction: f32| r.progress_fraction(fraction);
            let outcome = work(&crate::media::Job::new(&progress, r.cancel_flag()));
            if !r.cancelled() {
                r.send(outcome);
            }
        });
        match started {
            Ok(_) => self.label = label,
            // Without a thread nothing runs: say so as the job's outcome would.
            Err(message) => self.failed_to_start = Some(Outcome::Failed { source: None, message }),
        }
    }

    /// Finished outcomes of the current job only (a superseded job's result never arrives).
    pub fn poll(&mut self) -> Vec<Outcome> {
        let mut done = self.slot.poll();
        if !done.is_empty() {
            // One outcome per job: it is over even if its thread has not quite ended.
            self.slot.abandon();
        }
        done.extend(self.failed_to_start.take());
        done
    }
}
