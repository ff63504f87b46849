//! The robustness curve of an evaluation: accuracy under the joint attack per model against the
//! eps multiple, clean accuracy at x0.

use super::ModelRow;
use crate::attacks::AttackConfig;
use crate::figures::{Figure, Layer, colour};

pub fn robustness_curve(sweep: &[(f32, Vec<ModelRow>)], cfg: &AttackConfig, universal: bool) -> Figure {
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
    let layers = names
        .iter()
        .enumerate()
        .map(|(i, name)| Layer::Line {
            name: name.clone(),
            colour: colour(i),
            points: scales.iter().enumerate().filter_map(|(k, &scale)| accuracy(scale, i).map(|a| (k as f64, a))).collect(),
        })
        .collect();
    let last = scales.len().saturating_sub(1) as f64;
    Figure {
        title: format!("{}{} {} on audio + video", if universal { "universal " } else { "" }, cfg.method.label(), cfg.norm.label()),
        x_label: format!("eps multiple (x1 = eps_a {} / eps_v {})", crate::attacks::number(cfg.eps_a), crate::attacks::pixel_budget(cfg.eps_v)),
        y_label: "accuracy under the joint attack %".into(),
        x_range: Some((-0.25, last + 0.25)),
        y_range: Some((0.0, 102.0)),
        x_ticks: Some(scales.iter().enumerate().map(|(k, s)| (k as f64, format!("x{s}"))).collect()),
        layers,
        colour_scale: None,
    }
}
