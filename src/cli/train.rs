//! `mcgurk train`: one model on a dataset, with a progress line, checkpoints and a JSON log.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args as ClapArgs, ValueEnum};

use crate::models::{FusionKind, Size};
mod spec;

use crate::train::{Backend, DcMixup, FastAdversarial, OptimizerKind, Progress, Similarity, TrainConfig, train};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FusionArg {
    Sum,
    Concat,
    Film,
    #[value(name = "gated_sum", alias = "gated-sum")]
    GatedSum,
    #[value(name = "gated_concat", alias = "gated-concat")]
    GatedConcat,
    #[value(alias = "audio_only", alias = "audio-only")]
    Audio,
    #[value(alias = "visual_only", alias = "visual-only")]
    Visual,
}

impl From<FusionArg> for FusionKind {
    fn from(f: FusionArg) -> Self {
        match f {
            FusionArg::Sum => Self::Sum,
            FusionArg::Concat => Self::Concat,
            FusionArg::Film => Self::Film,
            FusionArg::GatedSum => Self::GatedSum,
            FusionArg::GatedConcat => Self::GatedConcat,
            FusionArg::Audio => Self::AudioOnly,
            FusionArg::Visual => Self::VisualOnly,
        }
    }
}

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    dataset: super::inputs::DataArgs,
    #[arg(long, value_enum, required_unless_present = "spec")]
    fusion: Option<FusionArg>,
    /// Fine-tune a model from a spec (PANNs' Cnn14) instead of training one of McGurk's: its
    /// checkpoint (--weights, or the spec's own) is the start; --out receives the fine-tuned
    /// weights in the checkpoint's key layout, a spec naming them and train_log.json.
    #[arg(long, conflicts_with = "fusion")]
    spec: Option<PathBuf>,
    /// The checkpoint a --spec describes (default: the weights the spec names); PART=FILE
    /// (audio, visual, fusion, head) for Tian & Xu's checkpoints. Repeatable.
    #[arg(long, requires = "spec")]
    weights: Vec<String>,
    #[arg(long, value_enum, default_value = "small")]
    size: SizeArg,
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Augmented examples per epoch (0: one pass over the training clips).
    #[arg(long, default_value_t = 0)]
    samples_per_epoch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, value_enum, default_value = "adam")]
    optimizer: OptArg,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train on the clean inputs only.
    #[arg(long)]
    no_augment: bool,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Output folder: checkpoint, optimizer state, train_log.json and NAME.safetensors.
    #[arg(long, short)]
    out: PathBuf,
    /// Model name (default: the fusion).
    #[arg(long)]
    name: Option<String>,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Store the final weights as f16 (half the size).
    #[arg(long)]
    half: bool,
    /// Audio-visual fusions: chance that a training example loses its audio or its picture.
    #[arg(long, default_value_t = 0.0)]
    modality_dropout: f32,
    /// Chance that a training example is blended with another clip (mixup).
    #[arg(long, default_value_t = 0.0)]
    mixup: f32,
    /// Li et al.'s density-convexity mixup: mix only classes with kappa below --mixup-kappa and
    /// rho above --mixup-rho (fused features, recomputed every epoch; logged per epoch).
    #[arg(long)]
    dc_mixup: bool,
    /// Convexity threshold T of the density-convexity mixup.
    #[arg(long, default_value_t = 0.5, requires = "dc_mixup")]
    mixup_kappa: f64,
    /// Density threshold D: a number, or "median" (above the median of the epoch's class
    /// densities). Its scale depends on the data and the feature dimension; `mcgurk metrics`
    /// shows the values.
    #[arg(long, default_value = "median", requires = "dc_mixup")]
    mixup_rho: String,
    #[arg(long, default_value_t = 0.6, requires = "dc_mixup")]
    mixup_tau: f64,
    /// Samples per training clip for the metrics (the clip and augmented views).
    #[arg(long, default_value_t = 8, requires = "dc_mixup")]
    mixup_views: usize,
    /// Chance that an example of a selected class is mixed.
    #[arg(long, default_value_t = 0.5, requires = "dc_mixup")]
    mixup_prob: f32,
    /// Fast adversarial training (FGSM from a random start, step 1.25 eps) on both modalities.
    #[arg(long)]
    adversarial: bool,
    /// Audio budget of --adversarial (waveform units).
    #[arg(long, default_value_t = 0.01, requires = "adversarial")]
    adv_eps_a: f32,
    /// Picture budget of --adversarial (pixel units).
    #[arg(long, default_value_t = 8.0 / 255.0, requires = "adversarial")]
    adv_eps_v: f32,
    /// Tian & Xu's MinSim (pushes f_a and f_v apart) or MaxSim (pulls them together).
    #[arg(long, value_enum)]
    similarity: Option<SimilarityArg>,
    #[arg(long, default_value_t = 1.0, requires = "similarity")]
    similarity_weight: f32,
    /// Save the average of the weights of the last N epochs (stochastic weight averaging;
    /// BatchNorm statistics averaged too) instead of the last epoch's.
    #[arg(long, default_value_t = 0)]
    average_last: usize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SimilarityArg {
    #[value(name = "minsim")]
    MinSim,
    #[value(name = "maxsim")]
    MaxSim,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum SizeArg {
    Small,
    Full,
}

impl From<SizeArg> for Size {
    fn from(s: SizeArg) -> Self {
        match s {
            SizeArg::Small => Size::Small,
            SizeArg::Full => Size::Full,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptArg {
    Adam,
    Sgd,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendArg {
    Cpu,
    Wgpu,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    // A Tian & Xu spec starts McGurk's own training from its weights; other specs have their own.
    let init = match &args.spec {
        Some(spec) => match spec::tian_start(args, spec)? {
            Some(start) => Some(start),
            None => return spec::fine_tune(args, spec),
        },
        None => None,
    };
    let (fusion, size): (FusionKind, Size) = match &init {
        Some(s) => (s.fusion, s.size),
        None => (args.fusion.context("--fusion (or --spec)")?.into(), args.size.into()),
    };
    let rho_above: Option<f64> = match args.mixup_rho.as_str() {
        "median" => None,
        v => Some(v.parse().map_err(|_| anyhow::anyhow!("--mixup-rho {v}: a number or 'median'"))?),
    };
    let cfg = TrainConfig {
        data: args.dataset.data.clone(),
        holdout: args.dataset.holdout.clone(),
        fusion,
        size,
        epochs: args.epochs,
        batch: args.batch,
        samples_per_epoch: args.samples_per_epoch,
        lr: args.lr,
        optimizer: match args.optimizer {
            OptArg::Adam => OptimizerKind::Adam,
            OptArg::Sgd => OptimizerKind::Sgd,
        },
        seed: args.seed,
        augment: !args.no_augment,
        backend: match args.backend {
            BackendArg::Cpu => Backend::Cpu,
            BackendArg::Wgpu => Backend::Wgpu,
        },
        out: args.out.clone(),
        name: args.name.clone().or_else(|| init.as_ref().map(|s| s.name.clone())).unwrap_or_else(|| fusion.name().to_string()),
        resume: args.resume,
        half: args.half,
        modality_dropout: args.modality_dropout.clamp(0.0, 1.0),
        mixup: args.mixup.clamp(0.0, 1.0),
        dc_mixup: args.dc_mixup.then(|| DcMixup {
            kappa_below: args.mixup_kappa,
            rho_above,
            tau: args.mixup_tau,
            views: args.mixup_views.max(2),
            pairs: 2000,
            prob: args.mixup_prob.clamp(0.0, 1.0),
        }),
        adversarial: args.adversarial.then_some(FastAdversarial { eps_a: args.adv_eps_a.max(0.0), eps_v: args.adv_eps_v.max(0.0) }),
        similarity: args.similarity.map(|s| {
            let kind = match s {
                SimilarityArg::MinSim => Similarity::MinSim,
                SimilarityArg::MaxSim => Similarity::MaxSim,
            };
            (kind, args.similarity_weight)
        }),
        average_last: args.average_last.min(args.epochs),
        init: init.map(|s| s.path),
    };
    if !(cfg.dc_mixup.as_ref().is_none_or(|d| d.tau > 0.0 && d.tau < 1.0)) {
        anyhow::bail!("--mixup-tau must lie strictly between 0 and 1");
    }
    let started = Instant::now();
    let cancel = super::interrupt::flag();
    let mut report = |p: Progress| match p {
        Progress::Preparing { done, total } => super::progress::count("decoding clips", done, total),
        Progress::Step { epoch, step, steps, loss } => {
            let filled = step * 20 / steps.max(1);
            let line = format!(
                "epoch {epoch}/{} [{}{}] step {step}/{steps} loss {loss:.3}  {:.0} s",
                cfg.epochs,
                "#".repeat(filled),
                " ".repeat(20 - filled),
                started.elapsed().as_secs_f64()
            );
            super::progress::show(&line, false);
        }
        Progress::Epoch(e) => {
            let val = match (e.val_loss, e.val_acc) {
                (Some(l), Some(a)) => format!("  val loss {l:.3} acc {:.1}%", 100.0 * a),
                _ => String::new(),
            };
            let mixed = e.mixup.as_ref().map_or(String::new(), |m| format!("  mixed {}", m.mixed));
            super::progress::note(&format!(
                "epoch {}/{}: train loss {:.3} acc {:.1}%{val}{mixed}  ({:.1} s)",
                e.epoch,
                cfg.epochs,
                e.train_loss,
                100.0 * e.train_acc,
                e.seconds
            ));
        }
        Progress::Note(n) => super::progress::note(&n),
    };
    let log = train(&cfg, &mut report, cancel)?;
    println!(
        "wrote {} ({} classes, {} training / {} held-out clips, {:.0} s)",
        log.model.display(),
        log.classes.len(),
        log.train_items,
        log.val_items,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
