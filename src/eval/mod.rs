//! Dataset-scale robustness (Tian & Xu's table): for each model, accuracy on clean inputs and
//! under the same attack on the audio (xA), the picture (xV) and both (xAV), Avg = mean of the
//! three attacked accuracies, and RI against a baseline model:
//! RI = (Avg - Avg_base) + (clean - clean_base).

pub mod figure;
pub mod identity;
pub mod journal;
pub mod merge;
pub mod record;
pub mod shard;
pub mod stream;
pub mod universal;

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::attacks::{AttackConfig, Modality, apply_universal, attack};
use crate::data::prepare::Prepared;
use crate::metrics::ranking;
use crate::models::LoadedModel;
use crate::models::input::Example;
use crate::models::predict::predict;
use identity::Setting;
use record::{ClipRecord, ModelResult, Outcome};
use universal::UniversalSet;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
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

/// Evaluates models on one clip at a time under every setting of a run: the records a results
/// file holds, from which [`record::row`] makes the table.
pub struct Evaluator<'a> {
    pub models: &'a [LoadedModel],
    pub settings: &'a [Setting],
    pub attack: &'a AttackConfig,
    /// Perturbations added instead of attacking each clip (Li et al.'s universal setting).
    pub universal: Option<&'a UniversalSet>,
    pub classes: &'a [String],
}

impl Evaluator<'_> {
    /// One record per setting, in the settings' order; fewer when `cancel` is set between
    /// settings.
    pub fn clip(&self, clip: &str, index: usize, item: &Prepared, cancel: &AtomicBool) -> Vec<ClipRecord> {
        let clean: Vec<(Example, Vec<f32>)> = self
            .models
            .iter()
            .map(|m| {
                let ex = item.example(m.info.input, None);
                let logits = predict(m, &ex, &m.net.classifier.weight.val().device()).logits;
                (ex, logits)
            })
            .collect();
        let mut out = Vec::new();
        for s in self.settings {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let models = self
                .models
                .iter()
                .zip(&clean)
                .enumerate()
                .map(|(mi, (m, (ex, logits)))| {
                    let [audio, video, both] = [Modality::Audio, Modality::Video, Modality::Both].map(|modality| self.outcome(mi, m, ex, item.label, s, modality));
                    ModelResult { model: m.info.name.clone(), clean: logits.clone(), audio, video, both }
                })
                .collect();
            let class = self.classes.get(item.label).cloned().unwrap_or_default();
            out.push(ClipRecord { clip: clip.into(), index, label: item.label, class, setting: s.name.clone(), models });
        }
        out
    }

    fn outcome(&self, mi: usize, m: &LoadedModel, ex: &Example, label: usize, s: &Setting, modality: Modality) -> Outcome {
        let finite = |v: f32| v.is_finite().then_some(v);
        match self.universal {
            None => {
                let r = attack(&m.net, ex, label, &AttackConfig { modality, ..s.config(self.attack) });
                let n = r.norms;
                Outcome {
                    dead: n.audio_linf + n.video_linf == 0.0 || !r.loss_adv.is_finite(),
                    logits: r.logits_adv,
                    norms: [n.audio_linf, n.audio_l2, n.video_linf, n.video_l2].iter().all(|v| v.is_finite()).then_some(n),
                    snr_db: r.snr_db.and_then(finite),
                    psnr_db: r.psnr_db.and_then(finite),
                    loss: finite(r.loss_adv),
                }
            }
            Some(u) => {
                let (da, dv) = u.get(mi, &s.name, modality).unwrap_or((&[], &[]));
                let device = m.net.classifier.weight.val().device();
                Outcome {
                    dead: da.iter().chain(dv).all(|v| *v == 0.0),
                    logits: predict(m, &apply_universal(ex, da, dv), &device).logits,
                    norms: None,
                    snr_db: None,
                    psnr_db: None,
                    loss: None,
                }
            }
        }
    }
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
