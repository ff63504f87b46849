//! Dataset-scale robustness (Tian & Xu's table): for each model, accuracy on clean inputs and
//! under the same attack on the audio (xA), the picture (xV) and both (xAV), Avg = mean of the
//! three attacked accuracies, and RI against a baseline model:
//! RI = (Avg - Avg_base) + (clean - clean_base).

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::attacks::{AttackConfig, Modality, apply_universal, attack, universal};
use crate::models::input::Example;
use crate::metrics::ranking;
use crate::data::prepare::Prepared;
use crate::models::LoadedModel;
use crate::models::predict::{predict, softmax};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ModelRow {
    pub name: String,
    pub fusion: String,
    /// Clips evaluated (fewer than asked when cancelled).
    pub clips: usize,
    pub clean: f32,
    pub audio_attacked: f32,
    pub video_attacked: f32,
    pub both_attacked: f32,
    /// mean(xA, xV, xAV).
    pub avg: f32,
    /// Against the baseline row, when one was named.
    pub ri: Option<f32>,
    /// Fraction of clips that survive all three attacks (the per-clip worst case).
    pub worst_case: f32,
    /// Attacks whose input gradient was zero or not finite (a sanity check: should be 0).
    pub dead_gradients: usize,
    /// Li-style ranking metrics (macro one-vs-rest), clean and under the joint attack.
    pub ranking_clean: Ranking,
    pub ranking_attacked: Ranking,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Ranking {
    pub map: Option<f64>,
    pub auc: Option<f64>,
    pub d_prime: Option<f64>,
}

impl Ranking {
    fn of(probs: &[Vec<f32>], labels: &[usize]) -> Self {
        let (auc, map) = ranking::macro_auc_map(probs, labels);
        Self { map, auc, d_prime: auc.map(ranking::d_prime) }
    }
}

/// Progress: (model index, clips done for it, clips in all).
pub type OnProgress<'a> = dyn FnMut(usize, usize, usize) + 'a;

/// Evaluates every model on `items` (decoded once, see `train::prepare_all`) under `cfg`, one
/// attack per clip. Stops between clips when `cancel` is set; rows then hold what was measured
/// so far (`clips` says how many).
pub fn evaluate(models: &[LoadedModel], items: &[&Prepared], cfg: &AttackConfig, cancel: &AtomicBool, progress: &mut OnProgress) -> Vec<ModelRow> {
    tally(models, items, cancel, progress, &mut |_, m, ex, label, modality| {
        let r = attack(&m.net, ex, label, &AttackConfig { modality, ..cfg.clone() });
        let dead = r.norms.audio_linf + r.norms.video_linf == 0.0 || !r.loss_adv.is_finite();
        (r.logits_adv, dead)
    })
}

/// Li et al.'s universal setting: per model and modality one perturbation is fitted on `fit`
/// (`epochs` passes, see [`crate::attacks::universal`]) and the same perturbation is added to
/// every clip of `items`, which should be another split. `fitting(model index)` is called
/// before each model's fit, which takes a while.
pub fn evaluate_universal(
    models: &[LoadedModel],
    fit: &[&Prepared],
    items: &[&Prepared],
    cfg: &AttackConfig,
    epochs: usize,
    cancel: &AtomicBool,
    fitting: &mut dyn FnMut(usize),
    progress: &mut OnProgress,
) -> Vec<ModelRow> {
    let mut deltas: Vec<Option<[(Vec<f32>, Vec<f32>); 3]>> = vec![None; models.len()];
    tally(models, items, cancel, progress, &mut |mi, m, ex, _, modality| {
        let fitted = deltas[mi].get_or_insert_with(|| {
            let size = m.info.input;
            if cfg.eps_a == 0.0 && cfg.eps_v == 0.0 {
                // A zero budget fits a zero perturbation: no passes needed (the x0 of a sweep).
                return std::array::from_fn(|_| (vec![0.0; size.samples], vec![0.0; 3 * size.pixels * size.pixels]));
            }
            fitting(mi);
            let examples: Vec<_> = fit.iter().map(|p| p.example(size, None)).collect();
            let labels: Vec<usize> = fit.iter().map(|p| p.label).collect();
            [Modality::Audio, Modality::Video, Modality::Both]
                .map(|modality| universal(&m.net, &examples, &labels, &AttackConfig { modality, ..cfg.clone() }, epochs))
        });
        let slot = match modality {
            Modality::Audio => 0,
            Modality::Video => 1,
            Modality::Both => 2,
        };
        let (da, dv) = &fitted[slot];
        let dead = da.iter().chain(dv).all(|v| *v == 0.0);
        let device = m.net.classifier.weight.val().device();
        (predict(m, &apply_universal(ex, da, dv), &device).logits, dead)
    })
}

/// What the attacker returns for model `index` on one clip and modality: adversarial logits, and
/// whether the attack could not move the input (zero or non-finite gradient).
type Adversary<'a> = dyn FnMut(usize, &LoadedModel, &Example, usize, Modality) -> (Vec<f32>, bool) + 'a;

fn tally(models: &[LoadedModel], items: &[&Prepared], cancel: &AtomicBool, progress: &mut OnProgress, adversary: &mut Adversary) -> Vec<ModelRow> {
    let mut rows = Vec::new();
    'models: for (mi, m) in models.iter().enumerate() {
        let device = m.net.classifier.weight.val().device();
        let mut row = ModelRow { name: m.info.name.clone(), fusion: m.info.fusion.name().into(), ..Default::default() };
        let (mut clean, mut xa, mut xv, mut xav, mut worst) = (0, 0, 0, 0, 0);
        let (mut probs_clean, mut probs_adv, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for (k, item) in items.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                row.ranking_clean = Ranking::of(&probs_clean, &labels);
                row.ranking_attacked = Ranking::of(&probs_adv, &labels);
                rows.push(finish(row, clean, xa, xv, xav, worst));
                break 'models;
            }
            let ex = item.example(m.info.input, None);
            let p = predict(m, &ex, &device);
            let ok_clean = p.best() == item.label;
            probs_clean.push(p.probs);
            labels.push(item.label);
            let mut survived = [false; 3];
            for (slot, modality) in [Modality::Audio, Modality::Video, Modality::Both].into_iter().enumerate() {
                let (logits, dead) = adversary(mi, m, &ex, item.label, modality);
                let uses = match modality {
                    Modality::Audio => m.info.fusion.uses_audio(),
                    Modality::Video => m.info.fusion.uses_visual(),
                    Modality::Both => true,
                };
                if uses && dead {
                    row.dead_gradients += 1;
                }
                survived[slot] = crate::models::predict::argmax(&logits) == item.label;
                if modality == Modality::Both {
                    probs_adv.push(softmax(&logits));
                }
            }
            clean += usize::from(ok_clean);
            xa += usize::from(survived[0]);
            xv += usize::from(survived[1]);
            xav += usize::from(survived[2]);
            worst += usize::from(ok_clean && survived.iter().all(|s| *s));
            row.clips = k + 1;
            progress(mi, k + 1, items.len());
        }
        row.ranking_clean = Ranking::of(&probs_clean, &labels);
        row.ranking_attacked = Ranking::of(&probs_adv, &labels);
        rows.push(finish(row, clean, xa, xv, xav, worst));
    }
    rows
}

fn finish(mut row: ModelRow, clean: usize, xa: usize, xv: usize, xav: usize, worst: usize) -> ModelRow {
    let n = row.clips.max(1) as f32;
    row.clean = clean as f32 / n;
    row.audio_attacked = xa as f32 / n;
    row.video_attacked = xv as f32 / n;
    row.both_attacked = xav as f32 / n;
    row.avg = (row.audio_attacked + row.video_attacked + row.both_attacked) / 3.0;
    row.worst_case = worst as f32 / n;
    row
}

/// `model` behind ExFMem (named "<name>+exfmem"), its banks the features of `train` (each clip
/// and `views - 1` augmented views) under the undefended model.
pub fn with_exfmem(model: &LoadedModel, train: &[&Prepared], views: usize) -> LoadedModel {
    use crate::models::exfmem::{Bank, ExFMem};
    let device = model.net.classifier.weight.val().device();
    let samples = crate::metrics::classwise::Samples { items: train, size: model.info.input, views, seed: 0xfe };
    let never = AtomicBool::new(false);
    let emb = crate::metrics::classwise::embed(&model.net, &samples, None, 8, &device, &never, &mut |_| {}).expect("not cancellable");
    let defense = ExFMem {
        audio: emb.audio.map(|(rows, dim)| Bank::new(rows, dim)),
        visual: emb.visual.map(|(rows, dim)| Bank::new(rows, dim)),
        lambda: ExFMem::LAMBDA,
        iterations: ExFMem::ITERATIONS,
    };
    let mut net = model.net.clone();
    net.exfmem = Some(std::sync::Arc::new(defense));
    let mut info = model.info.clone();
    info.name = format!("{}+exfmem", info.name);
    LoadedModel { net, info }
}

/// Fills `ri` of every row against the row named `baseline`; false if there is no such row.
pub fn robustness_improvement(rows: &mut [ModelRow], baseline: &str) -> bool {
    let Some(base) = rows.iter().find(|r| r.name == baseline).cloned() else { return false };
    for r in rows.iter_mut() {
        r.ri = Some((r.avg - base.avg) + (r.clean - base.clean));
    }
    true
}

/// One of the built-in checks (Carlini et al.'s advice), printed with every evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct Sanity {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// Accuracy must not rise with eps: `sweep` holds (eps scale, rows) in increasing scale.
pub fn check_monotone(sweep: &[(f32, Vec<ModelRow>)]) -> Sanity {
    let mut bad = Vec::new();
    for w in sweep.windows(2) {
        for (a, b) in w[0].1.iter().zip(&w[1].1) {
            for (what, x, y) in [("xA", a.audio_attacked, b.audio_attacked), ("xV", a.video_attacked, b.video_attacked), ("xAV", a.both_attacked, b.both_attacked)] {
                if y > x + 1e-6 {
                    bad.push(format!("{} {what}: {:.1}% at x{} -> {:.1}% at x{}", a.name, 100.0 * x, w[0].0, 100.0 * y, w[1].0));
                }
            }
        }
    }
    Sanity { check: "accuracy non-increasing in eps".into(), ok: bad.is_empty(), detail: if bad.is_empty() { "holds".into() } else { bad.join("; ") } }
}

/// At the largest eps the joint attack should bring every model to chance or below.
pub fn check_reaches_chance(rows: &[ModelRow], classes: usize) -> Sanity {
    let chance = 1.0 / classes.max(1) as f32;
    let above: Vec<String> =
        rows.iter().filter(|r| r.both_attacked > chance + 1e-6).map(|r| format!("{} xAV {:.1}%", r.name, 100.0 * r.both_attacked)).collect();
    Sanity {
        check: format!("largest eps reaches chance ({:.1}%)", 100.0 * chance),
        ok: above.is_empty(),
        detail: if above.is_empty() { "holds".into() } else { above.join("; ") },
    }
}

/// The iterative attack must be at least as strong as FGSM at the same eps.
pub fn check_stronger_than_fgsm(iterative: &[ModelRow], fgsm: &[ModelRow]) -> Sanity {
    let bad: Vec<String> = iterative
        .iter()
        .zip(fgsm)
        .filter(|(i, f)| i.both_attacked > f.both_attacked + 1e-6)
        .map(|(i, f)| format!("{}: xAV {:.1}% vs FGSM {:.1}%", i.name, 100.0 * i.both_attacked, 100.0 * f.both_attacked))
        .collect();
    Sanity { check: "iterative attack at least as strong as FGSM".into(), ok: bad.is_empty(), detail: if bad.is_empty() { "holds".into() } else { bad.join("; ") } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ri_matches_tians_worked_example() {
        // SCIENCE.md: MinSim+ExFMem on AVE: (38.06 - 24.71) + (71.39 - 70.40) = 14.34.
        let none = ModelRow { name: "none".into(), clean: 70.40, avg: 24.71, ..Default::default() };
        let def = ModelRow { name: "def".into(), clean: 71.39, avg: 38.06, ..Default::default() };
        let mut rows = vec![none, def];
        assert!(robustness_improvement(&mut rows, "none"));
        assert!((rows[1].ri.unwrap() - 14.34).abs() < 1e-3);
        assert_eq!(rows[0].ri, Some(0.0));
        assert!(!robustness_improvement(&mut rows, "absent"));
    }

    #[test]
    fn sanity_checks_flag_what_they_should() {
        let row = |name: &str, xav: f32| ModelRow { name: name.into(), both_attacked: xav, audio_attacked: 1.0, video_attacked: 1.0, ..Default::default() };
        let sweep = vec![(0.5, vec![row("m", 0.8)]), (1.0, vec![row("m", 0.9)])];
        let s = check_monotone(&sweep);
        assert!(!s.ok && s.detail.contains("m xAV: 80.0% at x0.5 -> 90.0% at x1"), "{}", s.detail);
        assert!(check_monotone(&[(1.0, vec![row("m", 0.9)]), (2.0, vec![row("m", 0.1)])]).ok);
        assert!(check_reaches_chance(&[row("m", 0.1)], 9).ok);
        assert!(!check_reaches_chance(&[row("m", 0.5)], 9).ok);
        assert!(!check_stronger_than_fgsm(&[row("m", 0.5)], &[row("m", 0.2)]).ok);
        assert!(check_stronger_than_fgsm(&[row("m", 0.1)], &[row("m", 0.2)]).ok);
    }

    #[test]
    fn avg_is_the_mean_of_the_attacked_accuracies() {
        let row = finish(ModelRow { clips: 4, ..Default::default() }, 4, 3, 2, 1, 1);
        assert_eq!((row.clean, row.audio_attacked, row.video_attacked, row.both_attacked), (1.0, 0.75, 0.5, 0.25));
        assert!((row.avg - 0.5).abs() < 1e-6 && row.worst_case == 0.25);
    }
}
