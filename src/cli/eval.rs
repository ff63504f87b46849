//! `mcgurk eval`: Tian-style robustness table over a dataset split, with a progress line, and
//! the table as JSON and CSV on request.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use clap::Args as ClapArgs;
use serde_json::json;

use super::attack::AttackArgs;
use super::inputs::{DataArgs, ModelArgs};
use crate::data::Split;
use crate::attacks::{AttackConfig, Method};
use crate::data::prepare::Prepared;
use crate::eval::{ModelRow, Sanity, check_monotone, check_reaches_chance, check_stronger_than_fgsm, evaluate, evaluate_universal, robustness_improvement};
use crate::train::prepare_all;

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    dataset: DataArgs,
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
    /// Also run at these multiples of --eps-a/--eps-v (e.g. 0.5,1,2,8): a robustness curve, and
    /// the monotonicity and reaches-chance checks.
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<f32>,
    /// Evaluate at most this many clips.
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the robustness curve (joint-attack accuracy per model against eps; give --sweep)
    /// as a PNG.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Universal perturbations (Li et al.): one per model and modality, fitted on --fit-split
    /// and added unchanged to every clip of the evaluated split.
    #[arg(long)]
    universal: bool,
    /// The split the universal perturbations are fitted on.
    #[arg(long, default_value = "train", requires = "universal")]
    fit_split: String,
    /// Also evaluate each model behind Tian & Xu's ExFMem defense (memory banks of the train
    /// split's features, ISTA with lambda 0.1), attacked through it (adaptive attack).
    #[arg(long)]
    exfmem: bool,
    /// Samples per training clip in the ExFMem banks (the clip and augmented views).
    #[arg(long, default_value_t = 8, requires = "exfmem")]
    exfmem_views: usize,
    /// Passes over the fit split.
    #[arg(long, default_value_t = 5, requires = "universal")]
    universal_epochs: usize,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    // Checked first: the table may take hours.
    for p in [&args.json, &args.csv, &args.plot].into_iter().flatten() {
        crate::files::check_writable(p)?;
    }
    let device = args.models.device()?;
    let mut models = args.models.load(&device)?;
    let ds = args.dataset.open()?;
    let split = match &args.split {
        Some(s) => match Split::parse(s) {
            Some(s) => s,
            None => bail!("unknown split '{s}' (train, val or test)"),
        },
        None => ds.validation_split().unwrap_or(Split::Train),
    };
    let size = models.first().map_or(crate::models::Size::Full.input(), |m| m.info.input);
    let (prepared, _, notes) = prepare_all(&ds, &[split], size, &|done, total| super::progress::count("decoding clips", done, total));
    super::progress::end();
    for n in ds.skipped.iter().chain(&notes) {
        eprintln!("skipped: {n}");
    }
    let mut items: Vec<_> = prepared.iter().collect();
    items.truncate(args.limit.unwrap_or(usize::MAX));
    if items.is_empty() {
        bail!("no usable clips in the {split:?} split of {}", args.dataset.data.display());
    }
    for m in &models {
        if m.info.classes != ds.classes {
            bail!("model '{}' has classes {:?}, the dataset {:?}", m.info.name, m.info.classes, ds.classes);
        }
    }
    if args.exfmem {
        if split == Split::Train {
            bail!("--exfmem builds its memory banks from the train split; evaluate another split (--split val or test)");
        }
        let (train, _, _) = prepare_all(&ds, &[Split::Train], size, &|done, total| super::progress::count("decoding memory-bank clips", done, total));
        super::progress::end();
        let train: Vec<&Prepared> = train.iter().collect();
        if train.is_empty() {
            bail!("--exfmem: no usable clips in the train split of {} to build memory banks from", args.dataset.data.display());
        }
        let defended: Vec<_> = models.iter().map(|m| crate::eval::with_exfmem(m, &train, args.exfmem_views)).collect();
        models.extend(defended);
    }
    let cfg = args.attack.config();
    let fit: Vec<Prepared> = if args.universal {
        let Some(fit_split) = Split::parse(&args.fit_split) else { bail!("unknown split '{}' (train, val or test)", args.fit_split) };
        if fit_split == split {
            bail!("--fit-split and the evaluated split are both {split:?}: a universal perturbation is tested on clips it was not fitted on");
        }
        let (fit, _, _) = prepare_all(&ds, &[fit_split], size, &|done, total| super::progress::count("decoding fit clips", done, total));
        super::progress::end();
        if fit.is_empty() {
            bail!("no usable clips in the {fit_split:?} split of {} to fit universal perturbations on", args.dataset.data.display());
        }
        fit
    } else {
        Vec::new()
    };
    let fit: Vec<&Prepared> = fit.iter().collect();
    let mut scales: Vec<f32> = args.sweep.iter().copied().filter(|v| v.is_finite() && *v >= 0.0).collect();
    if !scales.contains(&1.0) {
        scales.push(1.0);
    }
    scales.sort_by(f32::total_cmp);
    scales.dedup();
    let started = Instant::now();
    let fgsm_check = cfg.method != Method::Fgsm && !args.universal;
    let runs = scales.len() + usize::from(fgsm_check);
    let total = items.len() * models.len() * runs;
    let mut done_before = 0;
    let run_once = |cfg: &AttackConfig, label: &str, done_before: usize| {
        let mut progress = |mi: usize, k: usize, n: usize| {
            let done = done_before + mi * n + k;
            let eta = started.elapsed().as_secs_f64() / done as f64 * (total - done) as f64;
            super::progress::show(&format!("{label} {} {k}/{n}  total {done}/{total}  ETA {eta:.0} s", models[mi].info.name), done >= total);
        };
        if args.universal {
            let mut fitting = |mi: usize| {
                super::progress::show(&format!("{label} {}: fitting universal perturbations on {} clips...", models[mi].info.name, fit.len()), false);
            };
            evaluate_universal(&models, &fit, &items, cfg, args.universal_epochs, super::interrupt::flag(), &mut fitting, &mut progress)
        } else {
            evaluate(&models, &items, cfg, super::interrupt::flag(), &mut progress)
        }
    };
    let mut sweep: Vec<(f32, Vec<ModelRow>)> = Vec::new();
    for &scale in &scales {
        let c = AttackConfig { eps_a: cfg.eps_a * scale, eps_v: cfg.eps_v * scale, ..cfg.clone() };
        let rows = run_once(&c, &format!("eps x{scale}"), done_before);
        done_before += items.len() * models.len();
        sweep.push((scale, rows));
        if super::interrupt::pressed() {
            break;
        }
    }
    let fgsm = (fgsm_check && !super::interrupt::pressed())
        .then(|| run_once(&AttackConfig { method: Method::Fgsm, ..cfg.clone() }, "FGSM check", done_before));
    super::progress::end();
    let interrupted = super::interrupt::pressed();
    if interrupted {
        println!("interrupted: the tables hold the clips evaluated so far (see each row's clip count)");
    }
    for (scale, rows) in sweep.iter_mut() {
        if let Some(b) = &args.baseline
            && !robustness_improvement(rows, b)
        {
            bail!("--baseline '{b}' is not one of the evaluated models");
        }
        let steps = if cfg.method == Method::Fgsm { 1 } else { cfg.steps };
        println!(
            "\n{} clips of {} ({split:?} split), {}{} {}, eps_a {} eps_v {} (x{scale}), {steps} steps",
            items.len(),
            args.dataset.data.display(),
            if args.universal { format!("universal (fitted on {} {} clips, {} passes) ", fit.len(), args.fit_split, args.universal_epochs) } else { String::new() },
            cfg.method.label(),
            cfg.norm.label(),
            crate::attacks::number(cfg.eps_a * *scale),
            crate::attacks::pixel_budget(cfg.eps_v * *scale)
        );
        print_table(rows);
        print_ranking(rows);
    }
    let main = sweep.iter().find(|(s, _)| *s == 1.0).map_or_else(Vec::new, |(_, r)| r.clone());
    let dead: usize = main.iter().map(|r| r.dead_gradients).sum();
    let mut sanity = vec![Sanity {
        check: "gradients neither zero nor NaN".into(),
        ok: dead == 0,
        detail: format!("{dead} attacks could not move their input"),
    }];
    if sweep.len() > 1 {
        sanity.push(check_monotone(&sweep));
    }
    if !args.sweep.is_empty()
        && let Some((_, rows)) = sweep.last()
    {
        sanity.push(check_reaches_chance(rows, ds.classes.len()));
    }
    if let Some(f) = &fgsm {
        sanity.push(check_stronger_than_fgsm(&main, f));
    }
    println!();
    for s in &sanity {
        println!("sanity: {:<46} {}  {}", s.check, if s.ok { "ok" } else { "CHECK" }, s.detail);
    }
    if let Some(p) = &args.json {
        let runs: Vec<_> = sweep
            .iter()
            .map(|(scale, rows)| json!({ "scale": scale, "eps_a": cfg.eps_a * scale, "eps_v": cfg.eps_v * scale, "rows": rows }))
            .collect();
        let doc = json!({
            "split": format!("{split:?}").to_lowercase(), "clips": items.len(), "interrupted": interrupted,
            "attack": cfg, "universal": args.universal.then(|| json!({ "fit_split": args.fit_split, "fit_clips": fit.len(), "epochs": args.universal_epochs })), "rows": main, "sweep": runs, "sanity": sanity, "seconds": started.elapsed().as_secs_f64(),
        });
        crate::files::write_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    if let Some(p) = &args.plot {
        write_plot(p, &sweep, &cfg, args.universal)?;
    }
    if let Some(p) = &args.csv {
        let mut s = String::from("scale,model,fusion,clips,clean,audio_attacked,video_attacked,both_attacked,avg,ri,worst_case\n");
        for (scale, rows) in &sweep {
            for r in rows {
                s += &format!(
                    "{scale},{},{},{},{},{},{},{},{},{},{}\n",
                    r.name, r.fusion, r.clips, r.clean, r.audio_attacked, r.video_attacked, r.both_attacked, r.avg,
                    r.ri.map_or(String::new(), |v| v.to_string()), r.worst_case
                );
            }
        }
        crate::files::write_atomic(p, s.as_bytes())?;
    }
    Ok(())
}

/// The robustness curve: accuracy under the joint attack (clean at eps 0) per model.
fn write_plot(path: &std::path::Path, sweep: &[(f32, Vec<ModelRow>)], cfg: &AttackConfig, universal: bool) -> anyhow::Result<()> {
    use crate::plot::{Series, line_chart};
    let names: Vec<String> = sweep.first().map(|(_, rows)| rows.iter().map(|r| r.name.clone()).collect()).unwrap_or_default();
    // The eps multiples, with 0 (clean accuracy) first. Sweeps are often geometric (0.5, 1, 4,
    // 100): equal spacing per point keeps every point readable; the ticks give the values.
    let mut scales: Vec<f32> = sweep.iter().map(|(s, _)| *s).collect();
    if !scales.contains(&0.0) {
        scales.insert(0, 0.0);
    }
    let accuracy = |scale: f32, i: usize| -> Option<f64> {
        let rows = if scale == 0.0 { sweep.iter().find(|(s, _)| *s == 0.0).or(sweep.first()) } else { sweep.iter().find(|(s, _)| *s == scale) };
        let r = rows?.1.get(i)?;
        Some(100.0 * f64::from(if scale == 0.0 { r.clean } else { r.both_attacked }))
    };
    let series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name: name.clone(),
            points: scales.iter().enumerate().filter_map(|(k, &scale)| accuracy(scale, i).map(|a| (k as f64, a))).collect(),
        })
        .collect();
    let ticks: Vec<(f64, String)> = scales.iter().enumerate().map(|(k, s)| (k as f64, format!("x{s}"))).collect();
    let title = format!("{}{} {} on audio + video", if universal { "universal " } else { "" }, cfg.method.label(), cfg.norm.label());
    let x_label = format!("eps multiple (x1 = eps_a {} / eps_v {})", crate::attacks::number(cfg.eps_a), crate::attacks::pixel_budget(cfg.eps_v));
    let img = line_chart(&title, &x_label, "accuracy %", 100.0, &ticks, &series);
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    crate::files::write_atomic(path, &png)?;
    Ok(())
}

/// Width of the model-name column: the longest name (at least 14).
fn name_width(rows: &[ModelRow]) -> usize {
    rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).max(14)
}

fn print_ranking(rows: &[ModelRow]) {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    let w = name_width(rows);
    println!("{:<w$} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}   (clean | joint attack)", "model", "mAP", "AUC", "d'", "mAP", "AUC", "d'");
    for r in rows {
        let (c, a) = (r.ranking_clean, r.ranking_attacked);
        println!("{:<w$} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}", r.name, f(c.map), f(c.auc), f(c.d_prime), f(a.map), f(a.auc), f(a.d_prime));
    }
}

fn print_table(rows: &[ModelRow]) {
    let w = name_width(rows);
    println!("{:<w$} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}", "model", "clips", "clean", "xA", "xV", "xAV", "Avg", "RI", "worst");
    for r in rows {
        let ri = r.ri.map_or("-".to_string(), |v| format!("{:.1}", 100.0 * v));
        println!(
            "{:<w$} {:>5} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7} {:>7.1}",
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
}
