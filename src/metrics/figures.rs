//! The class-wise report's two figures: drop rate against convexity coloured by density (Li et
//! al.'s Fig. 4) and the PCA of the fused embeddings, clean and attacked.

use super::classwise::{Report, Space};
use crate::dsp::colormap::Colormap;
use crate::figures::{Figure, Layer, colour};

/// One point per class with both numbers: (kappa, drop rate %), coloured by rho of the fused
/// feature at the report's first tau (viridis, with its scale).
pub fn drop_vs_kappa(r: &Report) -> Figure {
    let tau = r.options.taus.first().copied().unwrap_or(0.6);
    let rows: Vec<_> = r.rows.iter().filter_map(|row| Some((row, row.kappa.kappa()?, row.drop_rate?))).collect();
    let rhos: Vec<f64> = rows.iter().filter_map(|(row, _, _)| row.rho(Space::Fused, tau)).collect();
    let (lo, hi) = rhos.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let t = |rho: Option<f64>| rho.map_or(0.0, |v| if hi > lo { ((v - lo) / (hi - lo)) as f32 } else { 0.5 });
    let layer = Layer::Points {
        name: None,
        colour: rows.iter().map(|(row, _, _)| Colormap::Viridis.rgb(t(row.rho(Space::Fused, tau)))).collect(),
        points: rows.iter().map(|(_, k, d)| (*k, 100.0 * d)).collect(),
        filled: true,
        labels: rows.iter().map(|(row, _, _)| format!("  {}", row.class)).collect(),
    };
    Figure {
        title: format!("{}: drop rate against convexity", r.model),
        x_label: "convexity kappa".into(),
        y_label: "drop rate under attack %".into(),
        x_range: Some((-0.02, 1.02)),
        y_range: Some((-2.0, 102.0)),
        x_ticks: None,
        layers: vec![layer],
        colour_scale: lo.is_finite().then(|| (format!("rho (fused, tau {tau})"), lo, hi)),
    }
}

/// The fused embeddings on their first two principal axes: filled clean, rings attacked (on the
/// clean axes), one colour per class.
pub fn pca(r: &Report) -> Figure {
    let pr = &r.projection;
    let mut layers = Vec::new();
    for (c, name) in r.classes.iter().enumerate() {
        let pick = |pts: &[[f32; 2]]| -> Vec<(f64, f64)> { pts.iter().zip(&pr.labels).filter(|(_, l)| **l == c).map(|(q, _)| (f64::from(q[0]), f64::from(q[1]))).collect() };
        let clean = pick(&pr.clean);
        if !clean.is_empty() {
            layers.push(Layer::Points { name: Some(name.clone()), colour: vec![colour(c)], points: clean, filled: true, labels: Vec::new() });
        }
        let adv = pick(&pr.attacked);
        if !adv.is_empty() {
            layers.push(Layer::Points { name: None, colour: vec![colour(c)], points: adv, filled: false, labels: Vec::new() });
        }
    }
    Figure {
        title: format!("{}: fused embeddings, PCA ({:.0}% of the variance); rings: attacked", r.model, 100.0 * pr.explained),
        x_label: "first principal axis".into(),
        y_label: "second principal axis".into(),
        x_range: None,
        y_range: None,
        x_ticks: None,
        layers,
        colour_scale: None,
    }
}
