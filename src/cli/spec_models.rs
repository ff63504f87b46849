//! The model a spec describes, as `eval`, `metrics` and `train` read it: a spectrogram model,
//! a video model or an audio-visual pair; its input from a dataset clip, its attack, and the
//! dataset's classes found among its own by name.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::attacks::{AttackConfig, AttackResult, Modality, Victim, attack_victim};
use crate::data::Media;
use crate::media::{Job, LoadOptions};
use crate::models::input::Example;
use crate::models::pair::PairModel;
use crate::models::spectrogram::SpectrogramModel;
use crate::models::video::VideoModel;

/// The model's class index of each dataset class, by name (case and `_`/space ignored).
pub fn class_map(dataset: &[String], model: &[String]) -> Result<Vec<usize>, String> {
    let key = |s: &str| s.to_lowercase().replace('_', " ");
    let mut missing = Vec::new();
    let map: Vec<usize> = dataset
        .iter()
        .filter_map(|c| {
            let found = model.iter().position(|m| key(m) == key(c));
            if found.is_none() {
                missing.push(c.clone());
            }
            found
        })
        .collect();
    if missing.is_empty() {
        Ok(map)
    } else {
        let shown: Vec<&str> = model.iter().take(12).map(String::as_str).collect();
        Err(format!(
            "the dataset's classes {missing:?} are not among the model's {} classes ({}{})",
            model.len(),
            shown.join(", "),
            if model.len() > shown.len() { ", ..." } else { "" }
        ))
    }
}

/// The model a spec describes: one that hears, one that sees, or one that does both.
pub(super) enum Subject {
    Sound(SpectrogramModel),
    Video(VideoModel),
    Pair(PairModel),
}

impl Subject {
    pub(super) fn load(spec: &Path, weights: &[(Option<String>, PathBuf)], device: &burn::prelude::Device) -> anyhow::Result<Self> {
        let s = crate::models::spec::ModelSpec::load(spec)?;
        if s.is_pair() {
            return Ok(Self::Pair(PairModel::load(spec, weights, device)?));
        }
        let [(None, weights)] = weights else { bail!("{}: this model takes one --weights FILE", spec.display()) };
        Ok(if s.is_video() { Self::Video(VideoModel::load(spec, weights, device)?) } else { Self::Sound(SpectrogramModel::load(spec, weights, device)?) })
    }

    pub(super) fn spec(&self) -> &crate::models::spec::ModelSpec {
        match self {
            Self::Sound(m) => &m.spec,
            Self::Video(m) => &m.spec,
            Self::Pair(m) => &m.spec,
        }
    }

    pub(super) fn classes(&self) -> &[String] {
        match self {
            Self::Sound(m) => &m.classes,
            Self::Video(m) => &m.classes,
            Self::Pair(m) => &m.classes,
        }
    }

    /// The model as an attack differentiates it.
    pub(super) fn victim(&self) -> Victim {
        match self {
            Self::Sound(m) => Victim::spectrogram(m),
            Self::Video(m) => Victim::video(m),
            Self::Pair(m) => Victim::pair(m),
        }
    }

    /// What kind of model it is, for reports.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Sound(_) => "spectrogram",
            Self::Video(_) => "video",
            Self::Pair(_) => "audio-visual",
        }
    }

    /// What this model attacks of a clip, whatever the panel asks: a spectrogram model its
    /// sound, a video model its frames.
    pub(super) fn modality(&self, asked: Modality) -> Modality {
        match self {
            Self::Sound(_) => Modality::Audio,
            Self::Video(_) => Modality::Video,
            Self::Pair(_) => asked,
        }
    }

    /// The model's input from a clip around `centre` (default: its middle): the sound's
    /// window at the model's rate, the frames it reads, or both.
    pub(super) fn example(&self, media: &Media, centre: Option<f64>) -> Result<Example, String> {
        let path = match media {
            Media::File(p) => p,
            Media::Pair { audio, .. } => audio,
        };
        let fail = |e: String| format!("{}: {e}", path.display());
        match self {
            Self::Pair(m) => {
                let opts = LoadOptions { sample_rate: m.sample_rate, ..LoadOptions::default() };
                let (clip, t) = match media {
                    Media::File(p) => m.sampler.open_around_with(p, centre, opts, &Job::detached()).map_err(|e| fail(e.to_string()))?,
                    Media::Pair { audio, image } => {
                        let clip = crate::media::open_pair(audio, image, &opts, &Job::detached()).map_err(|e| fail(e.to_string()))?;
                        let t = centre.unwrap_or_else(|| Example::centre_time(&clip));
                        (clip, t)
                    }
                };
                let (wave, pixels, _) = m.input(&clip, t).map_err(fail)?;
                let size = crate::models::InputSize { samples: m.samples, pixels: m.sampler.size, frames: m.sampler.frames };
                Ok(Example { wave, pixels, size })
            }
            Self::Sound(m) => {
                let opts = LoadOptions { sample_rate: m.sample_rate(), ..LoadOptions::default() };
                let clip = crate::media::load::open(path, &opts, &Job::detached()).map_err(|e| fail(e.to_string()))?;
                let t = centre.unwrap_or_else(|| Example::centre_time(&clip));
                let (wave, _) = m.window(&clip, t).map_err(fail)?;
                Ok(Example::audio_only(wave))
            }
            Self::Video(m) => {
                let (clip, t) = m.open_around(path, centre, &Job::detached()).map_err(|e| fail(e.to_string()))?;
                if clip.frames.is_empty() {
                    return Err(fail("no pictures for a video model".into()));
                }
                let (pixels, _) = m.input(&clip, t);
                let size = crate::models::InputSize { samples: 1, pixels: m.size, frames: m.frames };
                Ok(Example { wave: vec![0.0], pixels, size })
            }
        }
    }

    /// The clip's input attacked: the waveform through the front end, every frame of the
    /// clip, or both.
    pub(super) fn measure(&self, media: &Media, centre: Option<f64>, label: usize, cfg: &AttackConfig) -> Result<AttackResult, String> {
        let example = self.example(media, centre)?;
        let cfg = AttackConfig { modality: self.modality(cfg.modality), ..cfg.clone() };
        let mut r = attack_victim(&self.victim(), std::slice::from_ref(&example), &[vec![label]], &cfg).pop().ok_or("the attack returned nothing")?;
        if !matches!(self, Self::Sound(_)) {
            r.psnr_db = crate::attacks::lp::psnr_db(&example.pixels, &r.adversarial.pixels);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::class_map;

    #[test]
    fn dataset_classes_are_found_by_name() {
        let model: Vec<String> = ["Speech", "Dog", "Domestic animals, pets", "Bird_song"].map(String::from).to_vec();
        assert_eq!(class_map(&["dog".into(), "bird song".into()], &model).unwrap(), vec![1, 3]);
        let e = class_map(&["dog".into(), "cow".into()], &model).unwrap_err();
        assert!(e.contains("[\"cow\"]") && e.contains("4 classes"), "{e}");
    }
}
