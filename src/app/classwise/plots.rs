//! The class-wise window's two pictures: drop rate against kappa coloured by rho (Li et al.'s
//! Fig. 4) and the PCA of the fused embeddings, clean and attacked.

use egui_plot::{Legend, Plot, PlotPoints, Points, Text};

use crate::dsp::colormap::Colormap;
use crate::metrics::classwise::{Report, Space};

/// Drop rate against kappa, one point per class, coloured by rho (viridis, low to high).
pub fn scatter(ui: &mut egui::Ui, r: &Report) {
    let tau = r.options.taus.first().copied().unwrap_or(0.6);
    let rhos: Vec<f64> = r.rows.iter().filter_map(|row| row.rho(Space::Fused, tau)).collect();
    let (lo, hi) = rhos.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    ui.label(format!("drop rate vs kappa; colour: rho (dark {lo:.2} .. bright {hi:.2})"));
    Plot::new("classwise_scatter").height(240.0).include_x(0.0).include_x(1.0).include_y(0.0).include_y(100.0).x_axis_label("kappa").y_axis_label("drop rate %").show(ui, |p| {
        for row in &r.rows {
            let (Some(k), Some(d)) = (row.kappa.kappa(), row.drop_rate) else { continue };
            let t = row.rho(Space::Fused, tau).map_or(0.0, |v| if hi > lo { ((v - lo) / (hi - lo)) as f32 } else { 0.5 });
            let [cr, cg, cb] = Colormap::Viridis.rgb(t);
            let colour = egui::Color32::from_rgb(cr, cg, cb);
            p.points(Points::new(row.class.clone(), PlotPoints::from(vec![[k, 100.0 * d]])).radius(6.0).color(colour));
            p.text(Text::new(row.class.clone(), [k, 100.0 * d + 5.0].into(), row.class.clone()));
        }
    });
}

/// The fused embeddings in 2-D: filled clean, hollow attacked, one colour per class.
pub fn projection(ui: &mut egui::Ui, r: &Report) {
    let pr = &r.projection;
    ui.label(format!("PCA of the fused embeddings ({:.0}% of the variance); rings: attacked", 100.0 * pr.explained));
    Plot::new("classwise_pca").height(240.0).data_aspect(1.0).legend(Legend::default()).show(ui, |p| {
        for (c, name) in r.classes.iter().enumerate() {
            let [cr, cg, cb] = crate::figures::colour(c);
            let colour = egui::Color32::from_rgb(cr, cg, cb);
            let pick = |pts: &[[f32; 2]]| -> Vec<[f64; 2]> { pts.iter().zip(&pr.labels).filter(|(_, l)| **l == c).map(|(q, _)| [f64::from(q[0]), f64::from(q[1])]).collect() };
            p.points(Points::new(name.clone(), PlotPoints::from(pick(&pr.clean))).radius(3.0).color(colour));
            let adv = pick(&pr.attacked);
            if !adv.is_empty() {
                p.points(Points::new(name.clone(), PlotPoints::from(adv)).radius(4.0).filled(false).color(colour));
            }
        }
    });
}
