//! `mcgurk eval --spec S --weights W --data DIR`: a spectrogram model (PANNs Cnn14, Li et al.'s
//! TAL-trans) over a dataset split, clean and with its waveform attacked through the front end,
//! a video model (R(2+1)D-18) with every frame it reads attacked, or an audio-visual model of
//! two encoders with its sound, its frames or both attacked (`--modality`).
//! The dataset's classes are found among the model's by name (a 527-class AudioSet model on a
//! ten-class dataset), and top-1 and the ranking metrics are taken over the dataset's classes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::attacks::{AttackConfig, AttackResult, Loss, Modality, Victim, attack_victim};
use crate::data::{Dataset, Media, Split};
use crate::eval::identity::sorted_clips;
use crate::media::{Job, LoadOptions};
use crate::metrics::ranking;
use crate::models::input::Example;
use crate::models::predict::probabilities;
use crate::models::spec::Output;
use crate::models::spectrogram::SpectrogramModel;
use crate::models::pair::PairModel;
use crate::models::video::VideoModel;

/// What to evaluate and where the table goes.
pub struct Run<'a> {
    pub spec: &'a Path,
    /// (part, file): one file for spectrogram and video models; an audio-visual model's may
    /// come in parts.
    pub weights: &'a [(Option<String>, PathBuf)],
    pub device: burn::prelude::Device,
    pub dataset: &'a Dataset,
    pub data: &'a Path,
    pub split: Split,
    pub limit: Option<usize>,
    pub attack: AttackConfig,
    pub json: Option<PathBuf>,
    pub csv: Option<PathBuf>,
}

/// The table's one row (and the JSON file's content).
#[derive(Debug, Serialize)]
pub struct SpecRow {
    pub model: String,
    pub split: String,
    pub clips: usize,
    pub skipped: Vec<String>,
    /// Top-1 among the dataset's classes.
    pub clean: f32,
    pub attacked: f32,
    pub map_clean: Option<f64>,
    pub map_attacked: Option<f64>,
    pub auc_clean: Option<f64>,
    pub auc_attacked: Option<f64>,
    pub loss_clean: f32,
    pub loss_attacked: f32,
    /// What was attacked: the waveform (through the front end) or the frames.
    pub input: String,
    /// Mean SNR of the adversarial waveforms (models that hear).
    pub snr_db: Option<f32>,
    /// Mean PSNR of the adversarial clips over their frames (video models).
    pub psnr_db: Option<f32>,
    /// Largest L-inf norm of a perturbation (at most the budget).
    pub max_linf: f32,
    /// Attacks whose input gradient was zero or not finite (should be 0).
    pub dead_gradients: usize,
    pub attack: AttackConfig,
}

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
    fn measure(&self, media: &Media, centre: Option<f64>, label: usize, cfg: &AttackConfig) -> Result<AttackResult, String> {
        let example = self.example(media, centre)?;
        let cfg = AttackConfig { modality: self.modality(cfg.modality), ..cfg.clone() };
        let mut r = attack_victim(&self.victim(), std::slice::from_ref(&example), &[vec![label]], &cfg).pop().ok_or("the attack returned nothing")?;
        if !matches!(self, Self::Sound(_)) {
            r.psnr_db = crate::attacks::lp::psnr_db(&example.pixels, &r.adversarial.pixels);
        }
        Ok(r)
    }
}

pub fn run(r: &Run) -> anyhow::Result<()> {
    for p in [&r.json, &r.csv].into_iter().flatten() {
        crate::files::check_writable(p)?;
    }
    let model = Subject::load(r.spec, r.weights, &r.device)?;
    let name = model.spec().name.clone();
    let map = class_map(&r.dataset.classes, model.classes()).map_err(anyhow::Error::msg).with_context(|| format!("{} against {}", r.data.display(), r.spec.display()))?;
    let sigmoid = model.spec().output == Output::Sigmoid;
    let mut clips = sorted_clips(&r.dataset.root, &r.dataset.split(r.split));
    clips.truncate(r.limit.unwrap_or(usize::MAX));
    if clips.is_empty() {
        bail!("no clips in the {:?} split of {}", r.split, r.data.display());
    }
    let cfg = AttackConfig { loss: if sigmoid { Loss::Bce } else { r.attack.loss }, ..r.attack.clone() };
    let restrict = |logits: &[f32]| -> Vec<f32> {
        let p = probabilities(logits, sigmoid);
        map.iter().map(|&i| p[i]).collect()
    };
    let (mut clean, mut attacked, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let (mut loss_c, mut loss_a, mut max_linf, mut dead) = (0.0f64, 0.0f64, 0.0f32, 0usize);
    // Mean SNR of the attacked sounds and PSNR of the attacked frames.
    let (mut snr, mut psnr) = (Mean::default(), Mean::default());
    let mut skipped = Vec::new();
    let started = Instant::now();
    for (k, c) in clips.iter().enumerate() {
        if super::interrupt::pressed() {
            break;
        }
        let path = match &c.item.media {
            Media::File(p) => p,
            Media::Pair { audio, .. } => audio,
        };
        match model.measure(&c.item.media, c.item.centre_s, map[c.item.label], &cfg) {
            Err(reason) => {
                super::progress::note(&format!("skipped: {reason}"));
                skipped.push(reason);
            }
            Ok(a) => {
                if a.logits_clean.iter().chain(&a.logits_adv).any(|v| !v.is_finite()) {
                    bail!("{name} gives non-finite logits on {}", path.display());
                }
                clean.push(restrict(&a.logits_clean));
                attacked.push(restrict(&a.logits_adv));
                labels.push(c.item.label);
                loss_c += f64::from(a.loss_clean);
                loss_a += f64::from(a.loss_adv);
                if cfg.modality != Modality::Video || matches!(model, Subject::Sound(_)) {
                    snr.add(a.snr_db);
                }
                if cfg.modality != Modality::Audio && !matches!(model, Subject::Sound(_)) {
                    psnr.add(a.psnr_db);
                }
                let linf = a.norms.audio_linf.max(a.norms.video_linf);
                max_linf = max_linf.max(linf);
                dead += usize::from(linf == 0.0 || !a.loss_adv.is_finite());
            }
        }
        super::eval::show_progress(crate::eval::shard::Shard::WHOLE, k + 1, clips.len(), started);
    }
    super::progress::end();
    let n = labels.len();
    if n == 0 {
        bail!("no clip of the {:?} split of {} could be read", r.split, r.data.display());
    }
    let top1 = |probs: &[Vec<f32>]| -> f32 {
        let right = probs.iter().zip(&labels).filter(|(p, l)| (0..p.len()).max_by(|a, b| p[*a].total_cmp(&p[*b])) == Some(**l)).count();
        right as f32 / n as f32
    };
    let (auc_clean, map_clean) = ranking::macro_auc_map(&clean, &labels);
    let (auc_attacked, map_attacked) = ranking::macro_auc_map(&attacked, &labels);
    let input = match (&model, cfg.modality) {
        (Subject::Sound(_), _) => "waveform",
        (Subject::Video(_), _) | (Subject::Pair(_), Modality::Video) => "frames",
        (Subject::Pair(_), Modality::Audio) => "waveform",
        (Subject::Pair(_), Modality::Both) => "waveform and frames",
    };
    let row = SpecRow {
        model: name.clone(),
        input: input.into(),
        split: format!("{:?}", r.split).to_lowercase(),
        clips: n,
        skipped,
        clean: top1(&clean),
        attacked: top1(&attacked),
        map_clean,
        map_attacked,
        auc_clean,
        auc_attacked,
        loss_clean: (loss_c / n as f64) as f32,
        loss_attacked: (loss_a / n as f64) as f32,
        snr_db: snr.mean(),
        psnr_db: psnr.mean(),
        max_linf,
        dead_gradients: dead,
        attack: cfg,
    };
    print_row(&row);
    // Printed first, written after: a full disk loses the file, not the table.
    if let Some(p) = &r.json {
        crate::files::write_atomic(p, serde_json::to_string_pretty(&row)?.as_bytes())?;
    }
    if let Some(p) = &r.csv {
        crate::files::write_atomic(p, csv(&row).as_bytes())?;
    }
    Ok(())
}

/// A running mean of the finite values given.
#[derive(Default)]
struct Mean {
    sum: f64,
    n: usize,
}

impl Mean {
    fn add(&mut self, v: Option<f32>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.sum += f64::from(v);
            self.n += 1;
        }
    }

    fn mean(&self) -> Option<f32> {
        (self.n > 0).then(|| (self.sum / self.n as f64) as f32)
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

fn print_row(r: &SpecRow) {
    let what = match r.input.as_str() {
        "frames" => "every frame attacked",
        "waveform" => "waveform attacked (through the front end of a spectrogram encoder)",
        _ => "waveform and every frame attacked",
    };
    let quality = match (r.snr_db.is_some(), r.psnr_db.is_some()) {
        (true, true) => "SNR/PSNR",
        (false, true) => "PSNR dB",
        _ => "SNR dB",
    };
    println!("{} on {} clips of the {} split ({} skipped), {what}", r.model, r.clips, r.split, r.skipped.len());
    println!("{:<16} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>15} {:>8} {:>5}", "model", "clean", "attacked", "mAP", "mAP adv", "AUC", "AUC adv", "loss", quality, "dead");
    println!(
        "{:<16} {:>6.1}% {:>8.1}% {:>9} {:>9} {:>9} {:>9} {:>15} {:>8} {:>5}",
        r.model,
        100.0 * r.clean,
        100.0 * r.attacked,
        opt(r.map_clean),
        opt(r.map_attacked),
        opt(r.auc_clean),
        opt(r.auc_attacked),
        format!("{:.3} -> {:.3}", r.loss_clean, r.loss_attacked),
        match (r.snr_db, r.psnr_db) {
            (Some(a), Some(v)) => format!("{a:.1}/{v:.1}"),
            (a, v) => a.or(v).map_or("-".into(), |v| format!("{v:.1}")),
        },
        r.dead_gradients,
    );
}

fn csv(r: &SpecRow) -> String {
    let o = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    format!(
        "model,split,clips,skipped,clean,attacked,map_clean,map_attacked,auc_clean,auc_attacked,loss_clean,loss_attacked,snr_db,max_linf,dead_gradients,psnr_db\n{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        r.model,
        r.split,
        r.clips,
        r.skipped.len(),
        r.clean,
        r.attacked,
        o(r.map_clean),
        o(r.map_attacked),
        o(r.auc_clean),
        o(r.auc_attacked),
        r.loss_clean,
        r.loss_attacked,
        r.snr_db.map_or(String::new(), |v| v.to_string()),
        r.max_linf,
        r.dead_gradients,
        r.psnr_db.map_or(String::new(), |v| v.to_string()),
    )
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
