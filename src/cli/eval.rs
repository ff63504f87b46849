//! `mcgurk eval`: Tian-style robustness table over a dataset split, with a progress line, and
//! the table as JSON and CSV on request.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use clap::Args as ClapArgs;
use serde_json::json;

use super::attack::AttackArgs;
use super::inputs::ModelArgs;
use crate::data::{self, DataOptions, Split};
use crate::eval::{evaluate, robustness_improvement};
use crate::train::prepare_all;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Dataset: a folder per class, an AVE folder or a CSV manifest.
    #[arg(long)]
    data: PathBuf,
    /// Folder layout: clips whose file name contains this form the test split.
    #[arg(long)]
    holdout: Option<String>,
    /// Which split to evaluate (default: val if there is one, else test, else train).
    #[arg(long)]
    split: Option<String>,
    #[command(flatten)]
    models: ModelArgs,
    #[command(flatten)]
    attack: AttackArgs,
    /// Model whose row is the RI baseline.
    #[arg(long)]
    baseline: Option<String>,
    /// Evaluate at most this many clips.
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long)]
    csv: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let device = burn::prelude::Device::flex();
    let models = args.models.load(&device)?;
    let ds = data::open(&args.data, &DataOptions { holdout: args.holdout.clone() })?;
    let split = match &args.split {
        Some(s) => match Split::parse(s) {
            Some(s) => s,
            None => bail!("unknown split '{s}' (train, val or test)"),
        },
        None => ds.validation_split().unwrap_or(Split::Train),
    };
    let size = models.first().map_or(crate::models::Size::Full.input(), |m| m.info.input);
    let (prepared, _, notes) = prepare_all(&ds, &[split], size, &|_, _| {});
    for n in ds.skipped.iter().chain(&notes) {
        eprintln!("skipped: {n}");
    }
    let mut items: Vec<_> = prepared.iter().collect();
    items.truncate(args.limit.unwrap_or(usize::MAX));
    if items.is_empty() {
        bail!("no usable clips in the {split:?} split of {}", args.data.display());
    }
    for m in &models {
        if m.info.classes != ds.classes {
            bail!("model '{}' has classes {:?}, the dataset {:?}", m.info.name, m.info.classes, ds.classes);
        }
    }
    let cfg = args.attack.config();
    let started = Instant::now();
    let total = items.len() * models.len();
    let mut err = std::io::stderr().lock();
    let mut rows = evaluate(&models, &items, &cfg, super::interrupt::flag(), &mut |mi, k, n| {
        let done = mi * n + k;
        let elapsed = started.elapsed().as_secs_f64();
        let eta = elapsed / done as f64 * (total - done) as f64;
        let _ = write!(err, "\r{} {k}/{n}  total {done}/{total}  ETA {eta:.0} s   ", models[mi].info.name);
    });
    let _ = writeln!(err);
    let interrupted = super::interrupt::pressed();
    if interrupted {
        println!("interrupted: the table holds the clips evaluated so far (see each row's clip count)");
    }
    if let Some(b) = &args.baseline
        && !robustness_improvement(&mut rows, b)
    {
        bail!("--baseline '{b}' is not one of the evaluated models");
    }
    let steps = if cfg.method == crate::attacks::Method::Fgsm { 1 } else { cfg.steps };
    println!("{} clips of {} ({split:?} split), {:?} {:?}, eps_a {} eps_v {}, {steps} steps", items.len(), args.data.display(), cfg.method, cfg.norm, cfg.eps_a, cfg.eps_v);
    println!("{:<14} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}", "model", "clips", "clean", "xA", "xV", "xAV", "Avg", "RI", "worst");
    for r in &rows {
        let ri = r.ri.map_or("-".to_string(), |v| format!("{:.1}", 100.0 * v));
        println!(
            "{:<14} {:>5} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7} {:>7.1}",
            r.name,
            r.clips,
            100.0 * r.clean,
            100.0 * r.audio_attacked,
            100.0 * r.video_attacked,
            100.0 * r.both_attacked,
            100.0 * r.avg,
            ri,
            100.0 * r.worst_case
        );
    }
    let dead: usize = rows.iter().map(|r| r.dead_gradients).sum();
    println!("sanity: {} attacks with a zero or non-finite gradient{}", dead, if dead == 0 { " (ok)" } else { " (CHECK: the attack could not move those inputs)" });
    if let Some(p) = &args.json {
        let doc = json!({ "split": format!("{split:?}").to_lowercase(), "clips": items.len(), "interrupted": interrupted, "attack": cfg, "rows": rows, "seconds": started.elapsed().as_secs_f64() });
        crate::files::write_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    if let Some(p) = &args.csv {
        let mut s = String::from("model,fusion,clips,clean,audio_attacked,video_attacked,both_attacked,avg,ri,worst_case\n");
        for r in &rows {
            s += &format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                r.name, r.fusion, r.clips, r.clean, r.audio_attacked, r.video_attacked, r.both_attacked, r.avg,
                r.ri.map_or(String::new(), |v| v.to_string()), r.worst_case
            );
        }
        crate::files::write_atomic(p, s.as_bytes())?;
    }
    Ok(())
}
