//! The robustness table of an evaluation, printed and written (JSON, CSV, the curve's PNG) from
//! its records: one run's, a shard's, or the merge of all shards, alike.

use std::path::PathBuf;

use serde_json::json;

use crate::attacks::Method;
use crate::eval::identity::RunIdentity;
use crate::eval::record::{ClipRecord, Uses, row};
use crate::eval::{ModelRow, Sanity, check_monotone, check_reaches_chance, check_stronger_than_fgsm, robustness_improvement};

/// Where the table goes besides stdout.
#[derive(Debug, Default)]
pub struct Outputs {
    pub json: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub plot: Option<PathBuf>,
}

impl Outputs {
    /// Checked before any work: the table may take hours.
    pub fn check(&self) -> anyhow::Result<()> {
        for p in [&self.json, &self.csv, &self.plot].into_iter().flatten() {
            crate::files::check_writable(p)?;
        }
        if let Some(p) = &self.plot {
            crate::figures::check_path(p)?;
        }
        Ok(())
    }
}

/// What the table is made from.
pub struct Evaluated<'a> {
    pub run: &'a RunIdentity,
    /// The dataset as named on the command line.
    pub data: &'a str,
    pub records: &'a [ClipRecord],
    pub interrupted: bool,
    /// Wall time of the run (absent for a merge).
    pub seconds: Option<f64>,
}

/// The rows of one setting.
fn rows(e: &Evaluated, setting: &str) -> Vec<ModelRow> {
    let records: Vec<&ClipRecord> = e.records.iter().filter(|r| r.setting == setting).collect();
    e.run
        .models
        .iter()
        .enumerate()
        .map(|(mi, m)| row(mi, &m.name, &m.fusion, Uses { audio: m.uses_audio, visual: m.uses_visual }, &records))
        .collect()
}

pub fn report(e: &Evaluated, out: &Outputs) -> anyhow::Result<()> {
    let run = e.run;
    let cfg = &run.attack;
    let mut sweep: Vec<(f32, Vec<ModelRow>)> = run.settings.iter().filter(|s| !s.fgsm_check).map(|s| (s.scale, rows(e, &s.name))).collect();
    let fgsm = run.settings.iter().find(|s| s.fgsm_check).map(|s| rows(e, &s.name));
    let clips = e.records.iter().map(|r| r.index).collect::<std::collections::BTreeSet<_>>().len();
    if e.interrupted {
        println!("interrupted: the tables hold the clips evaluated so far (see each row's clip count)");
    }
    let universal = run.universal.as_ref().map_or(String::new(), |u| format!("universal (fitted on {} {} clips, {} passes) ", u.fit_clips, u.fit_split, u.epochs));
    let split = format!("{}{}", run.split[..1].to_uppercase(), &run.split[1..]);
    for (scale, rows) in sweep.iter_mut() {
        if let Some(b) = &run.baseline
            && !robustness_improvement(rows, b)
        {
            anyhow::bail!("--baseline '{b}' is not one of the evaluated models");
        }
        let steps = if cfg.method == Method::Fgsm { 1 } else { cfg.steps };
        println!(
            "\n{clips} clips of {} ({split} split), {universal}{} {}, eps_a {} eps_v {} (x{scale}), {steps} steps",
            e.data,
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
    let mut sanity = vec![Sanity { check: "gradients neither zero nor NaN".into(), ok: dead == 0, detail: format!("{dead} attacks could not move their input") }];
    if sweep.len() > 1 {
        sanity.push(check_monotone(&sweep));
    }
    // A sweep asked for (more than the x1 setting) must reach chance at its largest eps.
    if run.settings.iter().any(|s| !s.fgsm_check && s.scale != 1.0)
        && let Some((_, rows)) = sweep.last()
    {
        sanity.push(check_reaches_chance(rows, run.classes.len()));
    }
    if let Some(f) = &fgsm {
        sanity.push(check_stronger_than_fgsm(&main, f));
    }
    println!();
    for s in &sanity {
        println!("sanity: {:<46} {}  {}", s.check, if s.ok { "ok" } else { "CHECK" }, s.detail);
    }
    if let Some(p) = &out.json {
        let runs: Vec<_> = sweep
            .iter()
            .map(|(scale, rows)| json!({ "scale": scale, "eps_a": cfg.eps_a * scale, "eps_v": cfg.eps_v * scale, "rows": rows }))
            .collect();
        let doc = json!({
            "split": run.split, "clips": clips, "interrupted": e.interrupted,
            "attack": cfg, "universal": run.universal.as_ref().map(|u| json!({ "fit_split": u.fit_split, "fit_clips": u.fit_clips, "epochs": u.epochs })),
            "models": run.models, "rows": main, "sweep": runs, "sanity": sanity, "seconds": e.seconds,
        });
        crate::files::write_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    if let Some(p) = &out.plot {
        crate::figures::save(p, &crate::eval::figure::robustness_curve(&sweep, cfg, run.universal.is_some()))?;
    }
    if let Some(p) = &out.csv {
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
