//! `mcgurk attack`: one clip, each chosen model, clean versus adversarial. With no `--label`
//! the attack moves away from the clean prediction. `--json` is a contract for scripts:
//! `{"clip", "time_s", "config", "models": [{"name", "fusion", "label", "clean": {"logits",
//! "probs", "top"}, "adversarial": {...}, "loss": {"clean", "adversarial"}, "norms": {...},
//! "snr_db", "psnr_db", "vector_path"}]}` (an SNR or PSNR is null when that input was not
//! changed; `vector_path` says where the steps' direction and projection ran: "cpu", "gpu" (the
//! WGSL kernels, `--gpu`) or {"gpu_fell_back": error}).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, ValueEnum};
use serde_json::json;

use super::inputs::{ClipArgs, ModelArgs};
use crate::attacks::{AttackConfig, Loss, Method, Modality, Norm, attack};
use crate::models::input::Example;
use crate::models::predict::softmax;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    Fgsm,
    Pgd,
    Mim,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NormArg {
    Linf,
    L2,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LossArg {
    /// Softmax cross-entropy (single-label models).
    Ce,
    /// Per-class sigmoid binary cross-entropy (multi-label models).
    Bce,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum AttackSpace {
    Wave,
    Features,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum ModalityArg {
    A,
    V,
    Av,
}

/// The attack itself, shared by `attack` and `eval`.
#[derive(ClapArgs, Debug)]
pub struct AttackArgs {
    #[arg(long, value_enum, default_value = "pgd")]
    method: MethodArg,
    #[arg(long, value_enum, default_value = "linf")]
    norm: NormArg,
    /// Audio budget in waveform units ([-1, 1] signal).
    #[arg(long, default_value_t = 0.01)]
    eps_a: f32,
    /// Picture budget in pixel units ([0, 1]).
    #[arg(long, default_value_t = 8.0 / 255.0)]
    eps_v: f32,
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Step sizes (default 2.5 * eps / steps).
    #[arg(long)]
    step_a: Option<f32>,
    #[arg(long)]
    step_v: Option<f32>,
    #[arg(long)]
    random_start: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// MIM momentum.
    #[arg(long, default_value_t = 1.0)]
    mu: f32,
    /// PGD/MIM runs per clip, each after the first from a fresh random start; the strongest
    /// is kept.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    restarts: u64,
    /// The objective: cross-entropy, or binary cross-entropy for multi-label models.
    #[arg(long, value_enum, default_value = "ce")]
    loss: LossArg,
    /// With --norm l2 on a model of several frames: --eps-v bounds each frame's perturbation
    /// instead of the whole clip's (L-inf bounds every pixel either way).
    #[arg(long)]
    per_frame: bool,
}

impl AttackArgs {
    /// The configuration for both modalities, untargeted.
    pub fn config(&self) -> AttackConfig {
        AttackConfig {
            method: match self.method {
                MethodArg::Fgsm => Method::Fgsm,
                MethodArg::Pgd => Method::Pgd,
                MethodArg::Mim => Method::Mim,
            },
            norm: match self.norm {
                NormArg::Linf => Norm::Linf,
                NormArg::L2 => Norm::L2,
            },
            modality: Modality::Both,
            eps_a: self.eps_a,
            eps_v: self.eps_v,
            steps: self.steps,
            step_a: self.step_a,
            step_v: self.step_v,
            random_start: self.random_start,
            mu: self.mu,
            seed: self.seed,
            target: None,
            loss: match self.loss {
                LossArg::Ce => Loss::CrossEntropy,
                LossArg::Bce => Loss::Bce,
            },
            restarts: self.restarts as usize,
            per_frame: self.per_frame,
        }
    }
}

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(super) input: ClipArgs,
    #[command(flatten)]
    pub(super) models: ModelArgs,
    #[command(flatten)]
    pub(super) attack: AttackArgs,
    /// a: audio only, v: picture only, av: both.
    #[arg(long, value_enum, default_value = "av")]
    pub(super) modality: ModalityArg,
    /// The true class (a name); default: the clean prediction.
    #[arg(long)]
    pub(super) label: Option<String>,
    /// Targeted attack towards this class (a name).
    #[arg(long)]
    pub(super) target: Option<String>,
    /// Time of the frame, seconds; default the clip's centre.
    #[arg(long)]
    pub(super) at: Option<f64>,
    #[arg(long)]
    pub(super) json: bool,
    /// What a spectrogram model (--spec) is attacked on: its waveform, through the front end, or
    /// its normalised log-mel features (Li et al.'s setting; eps in feature units, no sound).
    #[arg(long, value_enum, default_value = "wave")]
    pub(super) attack_space: AttackSpace,
    /// Write the adversarial audio window (one model only).
    #[arg(long)]
    pub(super) out_audio: Option<PathBuf>,
    /// Write the adversarial model-view image (one model only).
    #[arg(long)]
    pub(super) out_image: Option<PathBuf>,
    /// A video model's adversarial frames: a video (.mp4, .webm, .mkv; through ffmpeg) or, for
    /// any other name or without ffmpeg, a folder of PNG frames.
    #[arg(long)]
    pub(super) out_video: Option<PathBuf>,
}

pub(super) fn class_index(classes: &[String], name: &str, what: &str) -> anyhow::Result<usize> {
    classes.iter().position(|c| c == name).with_context(|| format!("{what} '{name}' is not a class of this model ({})", classes.join(", ")))
}

fn top(classes: &[String], probs: &[f32]) -> serde_json::Value {
    let best = crate::models::predict::argmax(&probs);
    json!({ "class": classes[best], "index": best, "prob": probs[best] })
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some((spec, weights)) = args.models.pair_spec()? {
        return super::attack_pair::run(args, &spec, &weights);
    }
    if let Some((spec, weights)) = args.models.spectrogram_spec()? {
        return super::attack_spectrogram::run(args, &spec, &weights);
    }
    if let Some((spec, weights)) = args.models.video_spec()? {
        return super::attack_video::run(args, &spec, &weights);
    }
    if args.out_video.is_some() {
        bail!("--out-video is for a video model (--spec with an r2plus1d_18 visual encoder)");
    }
    let device = args.models.device()?;
    let clip = args.input.open()?;
    let models = args.models.load(&device)?;
    if (args.out_audio.is_some() || args.out_image.is_some()) && models.len() != 1 {
        bail!("--out-audio/--out-image need exactly one model (give --model NAME)");
    }
    if args.attack_space != AttackSpace::Wave {
        bail!("--attack-space features is for spectrogram models (--spec); McGurk's own models are attacked on the waveform and pixels");
    }
    for p in args.out_audio.iter().chain(&args.out_image) {
        crate::files::check_writable(p)?;
    }
    let t = args.at.unwrap_or_else(|| Example::centre_time(&clip));
    let mut docs = Vec::new();
    // The adversarial inputs, written after the results are printed (a full disk loses no stdout).
    let mut outputs = Vec::new();
    for m in &models {
        let (ex, _) = Example::from_clip(&clip, t, m.info.input);
        let clean = crate::models::predict::predict(m, &ex, &device);
        let label = match &args.label {
            Some(name) => class_index(&m.info.classes, name, "--label")?,
            None => clean.best(),
        };
        let target = args.target.as_deref().map(|n| class_index(&m.info.classes, n, "--target")).transpose()?;
        let cfg = AttackConfig {
            modality: match args.modality {
                ModalityArg::A => Modality::Audio,
                ModalityArg::V => Modality::Video,
                ModalityArg::Av => Modality::Both,
            },
            target,
            ..args.attack.config()
        };
        let r = attack(&m.net, &ex, label, &cfg);
        let (pc, pa) = (softmax(&r.logits_clean), softmax(&r.logits_adv));
        if !args.json {
            let (c, a) = (top(&m.info.classes, &pc), top(&m.info.classes, &pa));
            println!(
                "{:<14} {} {:.1}% -> {} {:.1}%   loss {:.3} -> {:.3}   audio L-inf {:.4} L2 {:.3}  SNR {}   video L-inf {:.4} PSNR {}",
                m.info.name,
                c["class"].as_str().unwrap_or("?"),
                100.0 * c["prob"].as_f64().unwrap_or(0.0),
                a["class"].as_str().unwrap_or("?"),
                100.0 * a["prob"].as_f64().unwrap_or(0.0),
                r.loss_clean,
                r.loss_adv,
                r.norms.audio_linf,
                r.norms.audio_l2,
                r.snr_db.map_or("-".into(), |v| format!("{v:.1} dB")),
                r.norms.video_linf,
                r.psnr_db.map_or("-".into(), |v| format!("{v:.1} dB")),
            );
        }
        outputs.push(r.adversarial.clone());
        docs.push(json!({
            "name": m.info.name,
            "fusion": m.info.fusion.name(),
            "label": m.info.classes[label],
            "clean": { "logits": r.logits_clean, "probs": pc, "top": top(&m.info.classes, &pc) },
            "adversarial": { "logits": r.logits_adv, "probs": pa, "top": top(&m.info.classes, &pa) },
            "loss": { "clean": r.loss_clean, "adversarial": r.loss_adv },
            "norms": r.norms,
            "snr_db": r.snr_db,
            "psnr_db": r.psnr_db,
            "vector_path": r.vector_path,
        }));
    }
    if args.json {
        let doc = json!({ "clip": clip.title(), "time_s": t, "models": docs });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    if let Some(adv) = outputs.first() {
        if let Some(p) = &args.out_audio {
            crate::export::write_wav(p, &adv.wave)?;
        }
        if let Some(p) = &args.out_image {
            crate::export::write_model_view_png(p, &adv.pixels, adv.size.pixels)?;
        }
    }
    Ok(())
}
