//! Draining the workers each frame: the model thread's replies (and asking it again when the
//! frame, clip or attack changed), the curve's result, and the one-shot jobs' commands.


use super::{Level, Workbench};
use crate::app::predictor::Reply;
use crate::live::Maps;

/// Said when Esc stops an update, until the next update arrives.
const CANCELLED: &str = "attack cancelled; the predictions shown are from the previous settings";

impl Workbench {
    pub(super) fn poll_models(&mut self) {
        for reply in self.predictor.poll() {
            match reply {
                Reply::Ready(models) => {
                    if !self.models.is_empty() && models.len() > self.models.len() {
                        let m = &models[models.len() - 1];
                        self.set_status(Level::Info, format!("added model {} ({}, {} classes)", m.name, m.fusion.label(), m.classes.len()));
                    }
                    self.models = models;
                    // Ask again: the new model has no answer yet.
                    self.predicted_for = None;
                }
                Reply::ModelRejected { path, error } => {
                    // Not loaded: not part of the session either.
                    self.model_files.retain(|(p, _)| *p != path);
                    self.set_status(Level::Error, error);
                }
                Reply::Cancelled(_) => {
                    // The request stays "served": nothing is re-run until a setting changes.
                    self.set_status(Level::Info, CANCELLED);
                }
                Reply::Results { results, missing, millis, .. } => {
                    // The shown predictions are current again: the cancel note no longer holds.
                    if self.status.as_ref().is_some_and(|s| s.text == CANCELLED) {
                        self.status = None;
                    }
                    self.results = results;
                    self.last_millis = Some(millis);
                    if self.predicted_for.as_ref().is_some_and(|w| w.attack.is_some()) {
                        self.last_attack_millis = Some(millis);
                    }
                    self.adv_dirty = true;
                    self.grid_dirty = true;
                    self.audio_dirty = true;
                    self.heat_dirty = true;
                    if !missing.is_empty() {
                        self.set_status(Level::Warning, format!("the clip has no {}: the models see silence / a grey frame there", missing.join(" or ")));
                    }
                }
                Reply::Failed(e) => {
                    self.set_status(Level::Error, e.clone());
                    self.models_error = Some(e);
                }
            }
        }
        // Ask again whenever the clip or the frame changed.
        if !self.models.is_empty() && self.predicted_for != self.wanted_prediction()
            && let Some(clip) = self.clip.clone()
        {
            let wanted = self.wanted_prediction();
            let (attack, maps) = wanted.as_ref().map_or((None, Maps::One(0)), |w| (w.attack.clone(), w.maps));
            self.predicted_for = wanted;
            self.predictor.request(clip, self.centre_s, attack, maps);
        }
    }


    pub(super) fn poll_window_models(&mut self) {
        use crate::app::spec_windows::Event;
        for e in self.windows.poll(&super::waker(&self.ctx)) {
            match e {
                Event::NotSpectrogram(path) => self.add_av_model_file(path, None),
                Event::Failed(e) => self.set_status(Level::Error, e),
                Event::Loaded(name, id) => {
                    self.set_status(Level::Info, format!("model {name} loaded (its window)"));
                    self.run_window_model(id);
                }
            }
        }
        // Models that loaded before a clip was open (a session's) look at it once it is.
        if let Some(moment) = self.wanted_moment().filter(|_| self.loader.busy().is_none())
            && let Err(e) = self.windows.run_waiting(&moment, &super::waker(&self.ctx))
        {
            self.set_status(Level::Error, e);
        }
    }

    pub(super) fn poll_curve(&mut self) {
        if let Some(e) = self.curve.poll() {
            self.set_status(Level::Error, e);
        }
    }
}
