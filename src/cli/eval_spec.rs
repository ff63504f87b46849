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

use crate::attacks::{AttackConfig, Loss, Modality};
use crate::data::{Dataset, Media, Split};
use crate::eval::identity::sorted_clips;
use crate::metrics::ranking;
use crate::models::predict::probabilities;
use crate::models::spec::Output;
use super::spec_models::{Subject, class_map};

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
