//! `mcgurk eval`: Tian-style robustness table over a dataset split, with a progress line, and
//! the table as JSON and CSV on request. With `--out DIR` every clip's results are appended to
//! `DIR/shard-I-of-N.jsonl` as they are measured, so a killed run resumes where it stopped;
//! `--shard I/N` evaluates one part of the split, and `eval merge DIR` makes the table of all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Subcommand};

use super::attack::AttackArgs;
use super::eval_report::{Evaluated, Outputs, report};
use super::inputs::{DataArgs, ModelArgs};
use crate::attacks::Method;
use crate::data::Split;
use crate::data::prepare::Prepared;
use crate::eval::identity::{FORMAT, ModelId, RunIdentity, Setting, hash_ids, sorted_clips};
use crate::eval::journal::{Header, Journal, Line, keep};
use crate::eval::record::{ClipRecord, Skipped};
use crate::eval::shard::Shard;
use crate::eval::universal::{self, UniversalSet};
use crate::eval::{Evaluator, stream};
use crate::train::prepare_all;

#[derive(ClapArgs, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    #[command(flatten)]
    dataset: Option<DataArgs>,
    /// Which split to evaluate (default: val if there is one, else test, else train).
    #[arg(long)]
    split: Option<String>,
    #[command(flatten)]
    models: ModelArgs,
    #[command(flatten)]
    attack: AttackArgs,
    /// What is attacked in a --spec audio-visual model of two encoders: its sound, its frames
    /// or both (the table of McGurk's own models attacks each of them in its columns).
    #[arg(long, value_enum)]
    modality: Option<super::attack::ModalityArg>,
    /// Model whose row is the RI baseline.
    #[arg(long)]
    baseline: Option<String>,
    /// Also run at these multiples of --eps-a/--eps-v (e.g. 0.5,1,2,8): a robustness curve, and
    /// the monotonicity and reaches-chance checks.
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<f32>,
    /// Evaluate at most this many clips (the first ones in the order of their ids).
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    outputs: OutputArgs,
    /// Append every clip's results to DIR/shard-I-of-N.jsonl as they are measured; a run
    /// started again with the same options skips what the file holds.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Evaluate one part of the split: clip i (clips sorted by id) belongs to shard i mod N.
    /// I/N, or auto: Slurm's SLURM_ARRAY_TASK_ID, or a Kubernetes Indexed Job's
    /// JOB_COMPLETION_INDEX. Needs --out.
    #[arg(long, requires = "out")]
    shard: Option<String>,
    /// The number of shards for --shard auto, where the cluster does not say it.
    #[arg(long)]
    shards: Option<usize>,
    /// Universal perturbations (Li et al.): one per model and modality, fitted on --fit-split
    /// and added unchanged to every clip of the evaluated split.
    #[arg(long)]
    universal: bool,
    /// The split the universal perturbations are fitted on.
    #[arg(long, default_value = "train")]
    fit_split: String,
    /// Passes over the fit split.
    #[arg(long, default_value_t = 5)]
    universal_epochs: usize,
    /// Fit the universal perturbations, save them to this file and stop (then evaluate, sharded
    /// or not, with --universal-from).
    #[arg(long, requires = "universal")]
    save_universal: Option<PathBuf>,
    /// Add these universal perturbations (written by --save-universal) instead of fitting.
    #[arg(long, conflicts_with = "save_universal")]
    universal_from: Option<PathBuf>,
    /// Also evaluate each model behind Tian & Xu's ExFMem defense (memory banks of the train
    /// split's features, ISTA with lambda 0.1), attacked through it (adaptive attack).
    #[arg(long)]
    exfmem: bool,
    /// Samples per training clip in the ExFMem banks (the clip and augmented views).
    #[arg(long, default_value_t = 8, requires = "exfmem")]
    exfmem_views: usize,
}

#[derive(ClapArgs, Debug)]
struct OutputArgs {
    /// The table as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The table as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the robustness curve (joint-attack accuracy per model against eps; give --sweep)
    /// as a PNG.
    #[arg(long)]
    plot: Option<PathBuf>,
}

impl OutputArgs {
    fn outputs(&self) -> Outputs {
        Outputs { json: self.json.clone(), csv: self.csv.clone(), plot: self.plot.clone() }
    }
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// The table of a sharded run: reads every DIR/shard-I-of-N.jsonl, checks they are one
    /// finished run, and prints what one unsharded run prints.
    Merge {
        dir: PathBuf,
        #[command(flatten)]
        outputs: OutputArgs,
        /// While shards are missing or unfinished, check again every 30 s for up to this many
        /// seconds (a merge job started beside the shards); other problems end it at once.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        Some(EvalCommand::Merge { dir, outputs, wait }) => merge(dir, &outputs.outputs(), *wait),
        None => evaluate(args),
    }
}

fn merge(dir: &std::path::Path, out: &Outputs, wait: u64) -> anyhow::Result<()> {
    out.check()?;
    let started = Instant::now();
    let merged = loop {
        match crate::eval::merge::merge(dir) {
            Ok(m) => break m,
            Err(e) if e.is_pending() && started.elapsed().as_secs() < wait => {
                let left = wait - started.elapsed().as_secs();
                eprintln!("waiting for the shards ({e}); checking again in {} s", left.min(30));
                std::thread::sleep(std::time::Duration::from_secs(left.clamp(1, 30)));
            }
            Err(e) => return Err(e.into()),
        }
    };
    eprintln!("merged {} shard files of {}", merged.files.len(), dir.display());
    for s in &merged.skipped {
        eprintln!("skipped: {}", s.reason);
    }
    if merged.header.run.spec.is_some() {
        if out.plot.is_some() {
            bail!("--plot: a model from a spec makes one row, no curve");
        }
        let name = merged.header.run.models.first().map_or_else(String::new, |m| m.name.clone());
        let row = super::eval_spec::row(&name, &merged.header.run, &merged.specs, &merged.skipped);
        return super::eval_spec::report(&row, out.json.as_deref(), out.csv.as_deref());
    }
    let e = Evaluated { run: &merged.header.run, data: &merged.header.data, records: &merged.clips, interrupted: false, seconds: None };
    report(&e, out)
}

fn parse_split(s: &str) -> anyhow::Result<Split> {
    Split::parse(s).with_context(|| format!("unknown split '{s}' (train, val or test)"))
}

fn split_name(s: Split) -> String {
    format!("{s:?}").to_lowercase()
}

fn evaluate(args: &Args) -> anyhow::Result<()> {
    let Some(dataset) = &args.dataset else { bail!("give --data DIR (or `eval merge DIR`)") };
    let out = args.outputs.outputs();
    out.check()?;
    if let Some((spec, weights)) = args.models.pair_spec()? {
        return evaluate_spec(args, dataset, &spec, &weights);
    }
    if args.modality.is_some() {
        bail!("--modality is for a --spec audio-visual model of two encoders (the table of McGurk's models attacks a, v and av in its columns; audio and video models have one input)");
    }
    if let Some((spec, weights)) = args.models.spectrogram_spec()?.or(args.models.video_spec()?) {
        return evaluate_spec(args, dataset, &spec, &[(None, weights)]);
    }
    if let Some(p) = &args.save_universal {
        crate::files::check_writable(p)?;
    }
    let shard = match &args.shard {
        Some(s) => Shard::parse(s, args.shards, &|name| std::env::var(name).ok())?,
        None => Shard::WHOLE,
    };
    let device = args.models.device()?;
    let mut models = args.models.load(&device)?;
    let ds = dataset.open()?;
    let split = match &args.split {
        Some(s) => parse_split(s)?,
        None => ds.validation_split().unwrap_or(Split::Train),
    };
    for n in &ds.skipped {
        eprintln!("skipped: {n}");
    }
    for m in &models {
        if m.info.classes != ds.classes {
            bail!("model '{}' has classes {:?}, the dataset {:?}", m.info.name, m.info.classes, ds.classes);
        }
    }
    let mut clips = sorted_clips(&ds.root, &ds.split(split));
    clips.truncate(args.limit.unwrap_or(usize::MAX));
    if clips.is_empty() {
        bail!("no clips in the {split:?} split of {}", dataset.data.display());
    }
    let size = models.first().map_or(crate::models::Size::Full.input(), |m| m.info.input);
    if args.exfmem {
        if split == Split::Train {
            bail!("--exfmem builds its memory banks from the train split; evaluate another split (--split val or test)");
        }
        let train = decode_all(&ds, Split::Train, size, "decoding memory-bank clips");
        if train.is_empty() {
            bail!("--exfmem: no usable clips in the train split of {} to build memory banks from", dataset.data.display());
        }
        let train: Vec<&Prepared> = train.iter().collect();
        let defended: Vec<_> = models.iter().map(|m| crate::eval::with_exfmem(m, &train, args.exfmem_views)).collect();
        models.extend(defended);
    }
    let ids: Vec<ModelId> = models.iter().map(ModelId::of).collect();
    let cfg = args.attack.config();
    let universal_mode = args.universal || args.universal_from.is_some();
    let mut scales: Vec<f32> = args.sweep.iter().copied().filter(|v| v.is_finite() && *v >= 0.0).collect();
    if !scales.contains(&1.0) {
        scales.push(1.0);
    }
    scales.sort_by(f32::total_cmp);
    scales.dedup();
    let mut settings: Vec<Setting> = scales.into_iter().map(Setting::scale).collect();
    if cfg.method != Method::Fgsm && !universal_mode {
        settings.push(Setting::fgsm_check());
    }
    let universal = universal_set(args, &ds, split, size, &models, &ids, &settings, &cfg)?;
    if let (Some(p), Some(u)) = (&args.save_universal, &universal) {
        u.save(p)?;
        println!("universal perturbations for {} models saved to {}; evaluate with --universal-from {}", models.len(), p.display(), p.display());
        return Ok(());
    }
    let run = RunIdentity {
        format: FORMAT,
        split: split_name(split),
        classes: ds.classes.clone(),
        clips: clips.len(),
        clip_ids: hash_ids(&clips),
        models: ids,
        attack: cfg.clone(),
        settings: settings.clone(),
        universal: universal.as_ref().map(|u| u.id.clone()),
        exfmem_views: args.exfmem.then_some(args.exfmem_views),
        baseline: args.baseline.clone(),
        spec: None,
    };
    if let Some(b) = &args.baseline
        && !run.models.iter().any(|m| &m.name == b)
    {
        bail!("--baseline '{b}' is not one of the evaluated models");
    }
    let data = dataset.data.display().to_string();
    let header = Header { format: FORMAT, shard: shard.index, shards: shard.count, data: data.clone(), run: run.clone() };
    let (mut journal, held) = match &args.out {
        Some(dir) => {
            let (j, held) = Journal::open(dir, &header)?;
            (Some(j), held)
        }
        None => (None, None),
    };
    let (mut records, mut skipped): (Vec<ClipRecord>, Vec<Skipped>) = held.map(|h| (h.clips, h.skipped)).unwrap_or_default();
    let mut done: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for r in &records {
        done.entry(r.index).or_default().insert(r.setting.clone());
    }
    let skipped_at: BTreeSet<usize> = skipped.iter().map(|s| s.index).collect();
    let mine: Vec<usize> = (0..clips.len()).filter(|p| shard.owns(*p)).collect();
    let todo: Vec<(usize, crate::data::Item)> = mine
        .iter()
        .filter(|p| !skipped_at.contains(p) && done.get(p).is_none_or(|s| s.len() < settings.len()))
        .map(|p| (*p, clips[*p].item.clone()))
        .collect();
    if let Some(j) = &journal {
        let resumed = mine.len() - todo.len();
        let what = if shard == Shard::WHOLE { String::new() } else { format!("shard {shard}: ") };
        eprintln!("{what}{} clips, {} of them already in {}", mine.len(), resumed, j.path().display());
    }
    let evaluator = Evaluator { models: &models, settings: &settings, attack: &cfg, universal: universal.as_ref(), classes: &ds.classes };
    let started = Instant::now();
    let total = todo.len();
    let cancel = super::interrupt::flag();
    for (k, (position, prepared)) in stream::decoded(todo, size).context("cannot start the decoding thread")?.into_iter().enumerate() {
        if super::interrupt::pressed() {
            break;
        }
        let id = &clips[position].id;
        let lines: Vec<Line> = match prepared {
            Err(reason) => {
                super::progress::note(&format!("skipped: {reason}"));
                vec![Line::Skipped(Skipped { clip: id.clone(), index: position, reason })]
            }
            Ok(p) => {
                let have = done.get(&position).cloned().unwrap_or_default();
                let fresh = evaluator.clip(id, position, &p, cancel);
                fresh.into_iter().filter(|r| !have.contains(&r.setting)).map(Line::Clip).collect()
            }
        };
        for line in lines {
            match keep(journal.as_mut(), &line)? {
                Line::Clip(r) => records.push(r),
                Line::Skipped(s) => skipped.push(s),
                Line::Header(_) | Line::Spec(_) => {}
            }
        }
        show_progress(shard, k + 1, total, started);
    }
    super::progress::end();
    let e = Evaluated { run: &run, data: &data, records: &records, interrupted: super::interrupt::pressed(), seconds: Some(started.elapsed().as_secs_f64()) };
    report(&e, &out)
}

/// A model from a spec (`eval_spec`): one model, its waveform or its frames attacked,
/// resumable and sharded with `--out`; what belongs to the audio-visual table (sweeps,
/// universal, ExFMem, several models) is refused.
fn evaluate_spec(args: &Args, dataset: &DataArgs, spec: &std::path::Path, weights: &[(Option<String>, std::path::PathBuf)]) -> anyhow::Result<()> {
    let unsupported = [
        (args.universal || args.universal_from.is_some(), "--universal"),
        (args.exfmem, "--exfmem"),
        (!args.sweep.is_empty(), "--sweep"),
        (args.baseline.is_some(), "--baseline"),
        (args.outputs.plot.is_some(), "--plot"),
        (!args.models.models.is_empty(), "--model"),
    ];
    let asked: Vec<&str> = unsupported.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
    if !asked.is_empty() {
        bail!("eval of a model from a spec (--spec) makes its one row: {} not available for it yet", asked.join(", "));
    }
    let shard = match &args.shard {
        Some(s) => Shard::parse(s, args.shards, &|name| std::env::var(name).ok())?,
        None => Shard::WHOLE,
    };
    if shard != Shard::WHOLE && args.out.is_none() {
        bail!("--shard needs --out DIR: each shard writes its results there for `eval merge`");
    }
    let ds = dataset.open_as(true)?;
    for n in &ds.skipped {
        eprintln!("skipped: {n}");
    }
    let split = match &args.split {
        Some(s) => parse_split(s)?,
        None => ds.validation_split().unwrap_or(Split::Train),
    };
    super::eval_spec::run(&super::eval_spec::Run {
        spec,
        weights,
        device: args.models.device()?,
        dataset: &ds,
        data: &dataset.data,
        split,
        limit: args.limit,
        attack: crate::attacks::AttackConfig {
            modality: match args.modality {
                Some(super::attack::ModalityArg::A) => crate::attacks::Modality::Audio,
                Some(super::attack::ModalityArg::V) => crate::attacks::Modality::Video,
                _ => crate::attacks::Modality::Both,
            },
            ..args.attack.config()
        },
        json: args.outputs.json.clone(),
        csv: args.outputs.csv.clone(),
        out: args.out.clone(),
        shard,
    })
}

/// `shard I/N: clip k/n, R clips/h, ETA`: whole lines in a log, one line on a terminal.
pub(super) fn show_progress(shard: Shard, done: usize, total: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let rate = done as f64 / secs.max(1e-9) * 3600.0;
    let eta = secs / done as f64 * (total - done) as f64;
    let what = if shard == Shard::WHOLE { String::new() } else { format!("shard {shard}: ") };
    super::progress::show(&format!("{what}clip {done}/{total}, {rate:.0} clips/h, ETA {}", super::progress::duration(eta)), done >= total);
}

fn decode_all(ds: &crate::data::Dataset, split: Split, size: crate::models::InputSize, what: &str) -> Vec<Prepared> {
    let (prepared, _, notes) = prepare_all(ds, &[split], size, &|done, total| super::progress::count(what, done, total));
    super::progress::end();
    for n in &notes {
        eprintln!("skipped: {n}");
    }
    prepared
}

/// The run's universal perturbations: read from --universal-from, fitted (--universal), or none.
#[allow(clippy::too_many_arguments)]
fn universal_set(
    args: &Args,
    ds: &crate::data::Dataset,
    split: Split,
    size: crate::models::InputSize,
    models: &[crate::models::LoadedModel],
    ids: &[ModelId],
    settings: &[Setting],
    cfg: &crate::attacks::AttackConfig,
) -> anyhow::Result<Option<UniversalSet>> {
    if let Some(p) = &args.universal_from {
        let u = UniversalSet::load(p)?;
        u.check(p, models, ids, cfg, settings)?;
        if u.id.fit_split == split_name(split) {
            bail!("--universal-from {} was fitted on the {split:?} split, the one evaluated: a universal perturbation is tested on clips it was not fitted on", p.display());
        }
        return Ok(Some(u));
    }
    if !args.universal {
        return Ok(None);
    }
    let fit_split = parse_split(&args.fit_split)?;
    if fit_split == split {
        bail!("--fit-split and the evaluated split are both {split:?}: a universal perturbation is tested on clips it was not fitted on");
    }
    let fit = decode_all(ds, fit_split, size, "decoding fit clips");
    if fit.is_empty() {
        bail!("no usable clips in the {fit_split:?} split to fit universal perturbations on");
    }
    let fit: Vec<&Prepared> = fit.iter().collect();
    let mut fitting = |mi: usize, s: &Setting| {
        super::progress::show(&format!("eps {}: fitting universal perturbations for {} on {} clips...", s.name, models[mi].info.name, fit.len()), false);
    };
    let u = universal::fit(models, ids, &fit, &split_name(fit_split), settings, cfg, args.universal_epochs, &mut fitting);
    super::progress::end();
    Ok(Some(u))
}
