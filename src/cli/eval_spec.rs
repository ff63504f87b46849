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
use crate::eval::identity::{FORMAT, ModelId, RunIdentity, Setting, SpecRun, hash_ids, sorted_clips};
use crate::eval::journal::{Header, Journal, Line, keep};
use crate::eval::record::{Skipped, SpecRecord};
use crate::eval::shard::Shard;
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
    /// The results folder (resumable), and which part of the clips this run takes.
    pub out: Option<PathBuf>,
    pub shard: Shard,
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
    let cfg = AttackConfig { modality: model.modality(r.attack.modality), loss: if sigmoid { Loss::Bce } else { r.attack.loss }, ..r.attack.clone() };
    let input = match (&model, cfg.modality) {
        (Subject::Sound(_), _) => "waveform",
        (Subject::Video(_), _) | (Subject::Pair(_), Modality::Video) => "frames",
        (Subject::Pair(_), Modality::Audio) => "waveform",
        (Subject::Pair(_), Modality::Both) => "waveform and frames",
    };
    let hears = !matches!(model, Subject::Video(_)) && cfg.modality != Modality::Video;
    let sees = !matches!(model, Subject::Sound(_)) && cfg.modality != Modality::Audio;
    let run = RunIdentity {
        format: FORMAT,
        split: format!("{:?}", r.split).to_lowercase(),
        classes: r.dataset.classes.clone(),
        clips: clips.len(),
        clip_ids: hash_ids(&clips),
        models: vec![model_id(&name, r.spec, r.weights, hears, sees)?],
        attack: cfg.clone(),
        settings: vec![Setting::scale(1.0)],
        universal: None,
        exfmem_views: None,
        baseline: None,
        spec: Some(SpecRun { map: map.clone(), sigmoid, input: input.into(), hears, sees }),
    };
    let data = r.data.display().to_string();
    let (mut journal, held) = match &r.out {
        Some(dir) => {
            let header = Header { format: FORMAT, shard: r.shard.index, shards: r.shard.count, data, run: run.clone() };
            let (j, held) = Journal::open(dir, &header)?;
            (Some(j), held)
        }
        None => (None, None),
    };
    let (mut records, mut skipped): (Vec<SpecRecord>, Vec<Skipped>) = held.map(|h| (h.specs, h.skipped)).unwrap_or_default();
    let done: std::collections::BTreeSet<usize> = records.iter().map(|c| c.index).chain(skipped.iter().map(|s| s.index)).collect();
    let todo: Vec<usize> = (0..clips.len()).filter(|p| r.shard.owns(*p) && !done.contains(p)).collect();
    if let Some(j) = &journal {
        let mine = (0..clips.len()).filter(|p| r.shard.owns(*p)).count();
        let what = if r.shard == Shard::WHOLE { String::new() } else { format!("shard {}: ", r.shard) };
        eprintln!("{what}{mine} clips, {} of them already in {}", mine - todo.len(), j.path().display());
    }
    let started = Instant::now();
    for (k, &position) in todo.iter().enumerate() {
        if super::interrupt::pressed() {
            break;
        }
        let c = &clips[position];
        let path = match &c.item.media {
            Media::File(p) => p,
            Media::Pair { audio, .. } => audio,
        };
        let line = match model.measure(&c.item.media, c.item.centre_s, map[c.item.label], &cfg) {
            Err(reason) => {
                super::progress::note(&format!("skipped: {reason}"));
                Line::Skipped(Skipped { clip: c.id.clone(), index: position, reason })
            }
            Ok(a) => {
                if a.logits_clean.iter().chain(&a.logits_adv).any(|v| !v.is_finite()) {
                    bail!("{name} gives non-finite logits on {}", path.display());
                }
                Line::Spec(SpecRecord {
                    clip: c.id.clone(),
                    index: position,
                    label: c.item.label,
                    clean: a.logits_clean,
                    attacked: a.logits_adv,
                    loss_clean: a.loss_clean,
                    loss_attacked: a.loss_adv,
                    norms: a.norms,
                    snr_db: a.snr_db,
                    psnr_db: a.psnr_db,
                })
            }
        };
        match keep(journal.as_mut(), &line)? {
            Line::Spec(c) => records.push(c),
            Line::Skipped(s) => skipped.push(s),
            _ => {}
        }
        super::eval::show_progress(r.shard, k + 1, todo.len(), started);
    }
    super::progress::end();
    if records.is_empty() {
        bail!("no clip of the {:?} split of {} could be read", r.split, r.data.display());
    }
    if r.shard != Shard::WHOLE {
        let dir = r.out.as_ref().map_or_else(String::new, |d| d.display().to_string());
        eprintln!("shard {} done: `mcgurk eval merge {dir}` makes the table once every shard is", r.shard);
    }
    report(&row(&name, &run, &records, &skipped), r.json.as_deref(), r.csv.as_deref())
}

/// The identity of a spec model: its name, what it reads, a hash of its spec and weights.
fn model_id(name: &str, spec: &Path, weights: &[(Option<String>, PathBuf)], uses_audio: bool, uses_visual: bool) -> anyhow::Result<ModelId> {
    let mut bytes = std::fs::read(spec).with_context(|| format!("cannot read {}", spec.display()))?;
    for (part, file) in weights {
        bytes.extend(part.as_deref().unwrap_or_default().as_bytes());
        bytes.extend(std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?);
    }
    Ok(ModelId { name: name.into(), fusion: "spec".into(), uses_audio, uses_visual, hash: format!("{:016x}", crate::files::fnv64(&bytes)) })
}

/// Prints the row and writes its JSON and CSV files.
pub fn report(row: &SpecRow, json: Option<&Path>, csv_path: Option<&Path>) -> anyhow::Result<()> {
    print_row(row);
    // Printed first, written after: a full disk loses the file, not the table.
    if let Some(p) = json {
        crate::files::write_atomic(p, serde_json::to_string_pretty(row)?.as_bytes())?;
    }
    if let Some(p) = csv_path {
        crate::files::write_atomic(p, csv(row).as_bytes())?;
    }
    Ok(())
}

/// The table's row from the clips' records (a whole run, or the shards merged).
pub fn row(name: &str, run: &RunIdentity, records: &[SpecRecord], skipped: &[Skipped]) -> SpecRow {
    let Some(spec) = &run.spec else { unreachable!("a spec model's run names how its outputs are read") };
    let restrict = |logits: &[f32]| -> Vec<f32> {
        let p = probabilities(logits, spec.sigmoid);
        spec.map.iter().map(|&i| p.get(i).copied().unwrap_or(0.0)).collect()
    };
    let clean: Vec<Vec<f32>> = records.iter().map(|c| restrict(&c.clean)).collect();
    let attacked: Vec<Vec<f32>> = records.iter().map(|c| restrict(&c.attacked)).collect();
    let labels: Vec<usize> = records.iter().map(|c| c.label).collect();
    let n = labels.len().max(1);
    let top1 = |probs: &[Vec<f32>]| -> f32 {
        let right = probs.iter().zip(&labels).filter(|(p, l)| (0..p.len()).max_by(|a, b| p[*a].total_cmp(&p[*b])) == Some(**l)).count();
        right as f32 / n as f32
    };
    let (auc_clean, map_clean) = ranking::macro_auc_map(&clean, &labels);
    let (auc_attacked, map_attacked) = ranking::macro_auc_map(&attacked, &labels);
    let (mut snr, mut psnr) = (Mean::default(), Mean::default());
    for c in records {
        if spec.hears {
            snr.add(c.snr_db);
        }
        if spec.sees {
            psnr.add(c.psnr_db);
        }
    }
    let linf = |c: &SpecRecord| c.norms.audio_linf.max(c.norms.video_linf);
    SpecRow {
        model: name.into(),
        input: spec.input.clone(),
        split: run.split.clone(),
        clips: records.len(),
        skipped: skipped.iter().map(|s| s.reason.clone()).collect(),
        clean: top1(&clean),
        attacked: top1(&attacked),
        map_clean,
        map_attacked,
        auc_clean,
        auc_attacked,
        loss_clean: (records.iter().map(|c| f64::from(c.loss_clean)).sum::<f64>() / n as f64) as f32,
        loss_attacked: (records.iter().map(|c| f64::from(c.loss_attacked)).sum::<f64>() / n as f64) as f32,
        snr_db: snr.mean(),
        psnr_db: psnr.mean(),
        max_linf: records.iter().map(linf).fold(0.0, f32::max),
        dead_gradients: records.iter().filter(|c| linf(c) == 0.0 || !c.loss_attacked.is_finite()).count(),
        attack: run.attack.clone(),
    }
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
