//! The models from specs, each in a window of its own: spectrogram models (Cnn14, TAL-trans)
//! and video or audio-visual models (R(2+1)D-18, pairs of encoders), as many of each as the
//! user adds. A spec is read on a fresh spectrogram window's thread, which keeps it, hands it
//! to a video window, or hands it back (McGurk's own audio-visual models go to the model
//! thread). Closing a window drops its model.

use std::path::{Path, PathBuf};

use super::job::Waker;
use super::spectrogram_window::{self as spectrogram, SpectrogramWindow};
use super::video_window::{self as video, VideoWindow};
use super::window_cell::{Cell, Moment};
use crate::dsp::Colormap;

/// What the workbench acts on.
pub enum Event {
    /// The spec is not a window's model: it goes to the model thread.
    NotSpectrogram(PathBuf),
    Failed(String),
    /// A model loaded (its name, its window's number): the workbench runs it on the clip on
    /// screen.
    Loaded(String, u64),
}

/// What a window asked for.
pub enum Action {
    /// Run this window's model on the clip and moment on screen.
    Run(u64),
    Listen(Vec<f32>, u32),
}

#[derive(Default)]
pub struct SpecWindows {
    spectro: Vec<SpectrogramWindow>,
    video: Vec<VideoWindow>,
    /// The next window's number (its egui id and where it first opens).
    next: u64,
}

impl SpecWindows {
    /// Reads the spec at `path` and loads its model in a new window (true); a spec already
    /// loaded or loading opens its window again instead (false).
    pub fn add(&mut self, path: PathBuf, waker: Waker) -> Result<bool, String> {
        if self.holds(&path) {
            for w in self.spectro.iter_mut().filter(|w| w.spec_path.as_ref() == Some(&path)) {
                w.open = true;
            }
            for w in self.video.iter_mut().filter(|w| w.spec_path.as_ref() == Some(&path)) {
                w.open = true;
            }
            return Ok(false);
        }
        let mut w = SpectrogramWindow::numbered(self.number(), self.open_windows());
        w.load(path, waker)?;
        self.spectro.push(w);
        Ok(true)
    }

    /// Windows with a model, or reading a spec that may become one.
    fn open_windows(&self) -> usize {
        self.spectro.len() + self.video.len()
    }

    fn number(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Whether `path` is a spec this holds (loaded or loading).
    pub fn holds(&self, path: &Path) -> bool {
        self.spec_paths().iter().any(|p| p == path) || self.spectro.iter().any(|w| w.reading(path))
    }

    /// The loaded models' specs, in the order they were added per kind (a session keeps them).
    pub fn spec_paths(&self) -> Vec<PathBuf> {
        self.spectro.iter().filter_map(|w| w.spec_path.clone()).chain(self.video.iter().filter_map(|w| w.spec_path.clone())).collect()
    }

    pub fn poll(&mut self, waker: &Waker) -> Vec<Event> {
        let mut events = Vec::new();
        let mut to_video = Vec::new();
        for w in &mut self.spectro {
            for e in w.poll() {
                match e {
                    spectrogram::Event::NotSpectrogram(p) => events.push(Event::NotSpectrogram(p)),
                    spectrogram::Event::VideoSpec(p) => to_video.push(p),
                    spectrogram::Event::Failed(e) => events.push(Event::Failed(e)),
                    spectrogram::Event::Loaded(name) => events.push(Event::Loaded(name, w.id)),
                }
            }
        }
        // A window that read a spec and holds no model was only its reader.
        self.spectro.retain(|w| w.has_model() || w.running());
        for path in to_video {
            let mut w = VideoWindow::numbered(self.number(), self.open_windows());
            match w.load(path, waker.clone()) {
                Ok(()) => self.video.push(w),
                Err(e) => events.push(Event::Failed(e)),
            }
        }
        for w in &mut self.video {
            for e in w.poll() {
                match e {
                    video::Event::Failed(e) => events.push(Event::Failed(e)),
                    video::Event::Loaded(name) => events.push(Event::Loaded(name, w.id)),
                }
            }
        }
        self.video.retain(|w| w.has_model() || w.running());
        events
    }

    /// Runs every window's model that, idle, last looked at something else than `moment`.
    pub fn run_behind(&mut self, moment: &Moment, waker: &Waker) -> Result<(), String> {
        self.run_where(moment, waker, |w| w.behind(moment))
    }

    /// Runs the models that have not run yet on `moment`.
    pub fn run_waiting(&mut self, moment: &Moment, waker: &Waker) -> Result<(), String> {
        self.run_where(moment, waker, |w| w.waiting())
    }

    /// Runs the model of window `id` on `moment`.
    pub fn run(&mut self, id: u64, moment: &Moment, waker: &Waker) -> Result<(), String> {
        self.run_where(moment, waker, |w| w.id() == id)
    }

    fn run_where(&mut self, moment: &Moment, waker: &Waker, pick: impl Fn(&dyn ModelWindow) -> bool) -> Result<(), String> {
        let spectro = self.spectro.iter_mut().map(|w| w as &mut dyn ModelWindow);
        for w in spectro.chain(self.video.iter_mut().map(|w| w as &mut dyn ModelWindow)) {
            if pick(&*w) {
                w.run(moment.clone(), waker.clone())?;
            }
        }
        Ok(())
    }

    /// The windows; what was asked in them, and the names of the models whose windows were
    /// closed (and dropped).
    pub fn show(&mut self, ctx: &egui::Context, colormap: Colormap) -> (Vec<Action>, Vec<String>) {
        let mut actions = Vec::new();
        for w in &mut self.spectro {
            match w.show(ctx, colormap) {
                Some(spectrogram::Action::Run) => actions.push(Action::Run(w.id)),
                Some(spectrogram::Action::Listen(wave, rate)) => actions.push(Action::Listen(wave, rate)),
                None => {}
            }
        }
        for w in &mut self.video {
            if w.show(ctx) {
                actions.push(Action::Run(w.id));
            }
        }
        let mut closed = Vec::new();
        self.spectro.retain(|w| w.open || !w.has_model() || {
            closed.push(w.name());
            false
        });
        self.video.retain(|w| w.open || !w.has_model() || {
            closed.push(w.name());
            false
        });
        (actions, closed)
    }

    /// The models' tiles in the fusion comparison.
    pub fn cells(&mut self, ctx: &egui::Context, colormap: Colormap) -> Vec<Cell<'_>> {
        let spectro = self.spectro.iter_mut().filter_map(|w| w.cell(ctx, colormap));
        spectro.chain(self.video.iter_mut().filter_map(|w| w.cell(ctx))).collect()
    }

    /// Whether any window works, and what each shows (spectrogram windows first), for tests.
    pub fn state(&self) -> (bool, Vec<Option<&str>>, Vec<Option<&str>>) {
        let running = self.spectro.iter().any(SpectrogramWindow::running) || self.video.iter().any(VideoWindow::running);
        (running, self.spectro.iter().map(SpectrogramWindow::shown).collect(), self.video.iter().map(VideoWindow::shown).collect())
    }
}

/// What running a model takes, the same for both kinds of window.
trait ModelWindow {
    fn id(&self) -> u64;
    fn behind(&self, moment: &Moment) -> bool;
    fn waiting(&self) -> bool;
    fn run(&mut self, moment: Moment, waker: Waker) -> Result<(), String>;
}

impl ModelWindow for SpectrogramWindow {
    fn id(&self) -> u64 {
        self.id
    }
    fn behind(&self, moment: &Moment) -> bool {
        SpectrogramWindow::behind(self, moment)
    }
    fn waiting(&self) -> bool {
        SpectrogramWindow::waiting(self)
    }
    fn run(&mut self, moment: Moment, waker: Waker) -> Result<(), String> {
        SpectrogramWindow::run(self, moment, waker)
    }
}

impl ModelWindow for VideoWindow {
    fn id(&self) -> u64 {
        self.id
    }
    fn behind(&self, moment: &Moment) -> bool {
        VideoWindow::behind(self, moment)
    }
    fn waiting(&self) -> bool {
        VideoWindow::waiting(self)
    }
    fn run(&mut self, moment: Moment, waker: Waker) -> Result<(), String> {
        VideoWindow::run(self, moment, waker)
    }
}
