//! Gradient attacks on one example (the engine of the attack issue, CPU path): FGSM, PGD (L-inf
//! and L2, optional random start) and MIM, on the audio, the picture or both, each with its own
//! eps in raw units (waveform in [-1, 1], pixels in [0, 1]). Every step projects onto the ball
//! around the *clean* input and clips to the valid range (`lp`), so the bound holds whatever
//! the step size (unlike the public code, see SCIENCE.md).

pub mod lp;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::data::rng::Rng;
use crate::models::AvNet;
use crate::models::input::Example;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Fgsm,
    Pgd,
    Mim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    Linf,
    L2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Audio,
    Video,
    Both,
}

impl Modality {
    fn audio(self) -> bool {
        self != Self::Video
    }
    fn video(self) -> bool {
        self != Self::Audio
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackConfig {
    pub method: Method,
    pub norm: Norm,
    pub modality: Modality,
    /// Waveform units.
    pub eps_a: f32,
    /// Pixel units in [0, 1].
    pub eps_v: f32,
    /// Iterations for PGD and MIM (FGSM takes one step of size eps).
    pub steps: usize,
    /// Step sizes; default 2.5 * eps / steps.
    pub step_a: Option<f32>,
    pub step_v: Option<f32>,
    pub random_start: bool,
    /// MIM's momentum.
    pub mu: f32,
    pub seed: u64,
    /// Targeted: move towards this class. Untargeted (None): away from `label`.
    pub target: Option<usize>,
}

impl Default for AttackConfig {
    fn default() -> Self {
        Self {
            method: Method::Pgd,
            norm: Norm::Linf,
            modality: Modality::Both,
            eps_a: 0.01,
            eps_v: 4.0 / 255.0,
            steps: 10,
            step_a: None,
            step_v: None,
            random_start: false,
            mu: 1.0,
            seed: 0,
            target: None,
        }
    }
}

/// Norms of the perturbation actually applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Norms {
    pub audio_linf: f32,
    pub audio_l2: f32,
    pub video_linf: f32,
    pub video_l2: f32,
}

#[derive(Clone, Debug)]
pub struct AttackResult {
    pub adversarial: Example,
    pub logits_clean: Vec<f32>,
    pub logits_adv: Vec<f32>,
    /// The attack's objective (cross-entropy to the label, or to the target) before and after.
    pub loss_clean: f32,
    pub loss_adv: f32,
    pub norms: Norms,
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
}

const AUDIO_RANGE: (f32, f32) = (-1.0, 1.0);
const PIXEL_RANGE: (f32, f32) = (0.0, 1.0);

/// Loss, input gradients and logits of `net` (eval mode on an autodiff device) at one example.
struct Oracle {
    net: AvNet,
    device: Device,
    class: usize,
}

impl Oracle {
    fn eval(&self, ex: &Example) -> (f32, Vec<f32>, Vec<f32>, Vec<f32>) {
        let s = ex.size;
        let w = Tensor::<3>::from_data(TensorData::new(ex.wave.clone(), [1, 1, s.samples]), &self.device).require_grad();
        let p = Tensor::<4>::from_data(TensorData::new(ex.pixels.clone(), [1, 3, s.pixels, s.pixels]), &self.device).require_grad();
        let logits = self.net.forward(w.clone(), p.clone()).logits;
        let target = Tensor::<1, Int>::from_data(TensorData::new(vec![self.class as i64], [1]), &self.device);
        let loss = CrossEntropyLossConfig::new().init(&self.device).forward(logits.clone(), target);
        let value: f32 = loss.clone().into_scalar();
        let grads = loss.backward();
        // A model without a modality gives no gradient there: the attack leaves it clean.
        let gw = w.grad(&grads).map_or_else(|| vec![0.0; ex.wave.len()], |g| g.try_to_vec_as::<f32>().expect("f32"));
        let gp = p.grad(&grads).map_or_else(|| vec![0.0; ex.pixels.len()], |g| g.try_to_vec_as::<f32>().expect("f32"));
        let logits = logits.try_to_vec_as::<f32>().expect("f32");
        (value, gw, gp, logits)
    }
}

/// Attacks `ex`, whose true (or clean-predicted) class is `label`, on `net` (any device; the
/// attack runs on its autodiff twin with BatchNorm in inference mode).
pub fn attack(net: &AvNet, ex: &Example, label: usize, cfg: &AttackConfig) -> AttackResult {
    let device = net.classifier.weight.val().device().autodiff();
    let oracle = Oracle { net: net.valid().fork(&device), device, class: cfg.target.unwrap_or(label) };
    // Untargeted: climb the loss of the label. Targeted: descend the loss of the target.
    let dir = if cfg.target.is_some() { -1.0 } else { 1.0 };
    let steps = if cfg.method == Method::Fgsm { 1 } else { cfg.steps.max(1) };
    let step_of = |eps: f32, given: Option<f32>| match cfg.method {
        Method::Fgsm => eps,
        _ => given.unwrap_or(2.5 * eps / steps as f32),
    };
    let (step_a, step_v) = (step_of(cfg.eps_a, cfg.step_a), step_of(cfg.eps_v, cfg.step_v));
    let project = |x: &mut [f32], clean: &[f32], eps: f32, (lo, hi): (f32, f32)| match cfg.norm {
        Norm::Linf => lp::project_linf(x, clean, eps, lo, hi),
        Norm::L2 => lp::project_l2(x, clean, eps, lo, hi),
    };
    let (loss_clean, ga0, gv0, logits_clean) = oracle.eval(ex);
    let mut x = ex.clone();
    let random_start = cfg.random_start && cfg.method != Method::Fgsm;
    // Without a random start the first step is taken at the clean input, whose gradient the
    // clean evaluation has just computed: one forward-backward pass fewer per attack.
    let mut clean_grads = (!random_start).then_some((ga0, gv0));
    if random_start {
        let mut rng = Rng::new(cfg.seed);
        let mut jitter = |v: &mut Vec<f32>, clean: &[f32], eps: f32, range| {
            match cfg.norm {
                Norm::Linf => v.iter_mut().for_each(|x| *x += rng.range(-eps, eps)),
                Norm::L2 => {
                    let d: Vec<f32> = (0..v.len()).map(|_| rng.normal()).collect();
                    let r = eps * rng.uniform();
                    v.iter_mut().zip(lp::normalise(&d, 2)).for_each(|(x, u)| *x += r * u);
                }
            }
            project(v, clean, eps, range);
        };
        if cfg.modality.audio() {
            jitter(&mut x.wave, &ex.wave, cfg.eps_a, AUDIO_RANGE);
        }
        if cfg.modality.video() {
            jitter(&mut x.pixels, &ex.pixels, cfg.eps_v, PIXEL_RANGE);
        }
    }
    let (mut mom_a, mut mom_v) = (vec![0.0; ex.wave.len()], vec![0.0; ex.pixels.len()]);
    for _ in 0..steps {
        let (ga, gv) = match clean_grads.take() {
            Some(g) => g,
            None => {
                let (_, ga, gv, _) = oracle.eval(&x);
                (ga, gv)
            }
        };
        let update = |v: &mut Vec<f32>, g: &[f32], mom: &mut Vec<f32>, clean: &[f32], eps: f32, step: f32, range| {
            let g: Vec<f32> = if cfg.method == Method::Mim {
                // Momentum on the per-sample L1-normalised gradient (Dong et al.).
                let n = lp::normalise(g, 1);
                mom.iter_mut().zip(&n).for_each(|(m, g)| *m = cfg.mu * *m + g);
                mom.clone()
            } else {
                g.to_vec()
            };
            let dirn = match cfg.norm {
                Norm::Linf => lp::sign(&g),
                Norm::L2 => lp::normalise(&g, 2),
            };
            v.iter_mut().zip(&dirn).for_each(|(x, d)| *x += dir * step * d);
            project(v, clean, eps, range);
        };
        if cfg.modality.audio() {
            update(&mut x.wave, &ga, &mut mom_a, &ex.wave, cfg.eps_a, step_a, AUDIO_RANGE);
        }
        if cfg.modality.video() {
            update(&mut x.pixels, &gv, &mut mom_v, &ex.pixels, cfg.eps_v, step_v, PIXEL_RANGE);
        }
    }
    let (loss_adv, _, _, logits_adv) = oracle.eval(&x);
    let da = || x.wave.iter().zip(&ex.wave).map(|(a, c)| a - c);
    let dv = || x.pixels.iter().zip(&ex.pixels).map(|(a, c)| a - c);
    let norms = Norms { audio_linf: lp::linf(da()), audio_l2: lp::l2(da()), video_linf: lp::linf(dv()), video_l2: lp::l2(dv()) };
    AttackResult {
        snr_db: lp::snr_db(&ex.wave, &x.wave),
        psnr_db: lp::psnr_db(&ex.pixels, &x.pixels),
        adversarial: x,
        logits_clean,
        logits_adv,
        loss_clean,
        loss_adv,
        norms,
    }
}

/// One perturbation for a whole set of examples (a universal perturbation, as in Li et al.):
/// `epochs` passes of signed (L-inf) or normalised (L2) gradient steps on the shared delta, each
/// step at the current example's `x + delta` clipped to range, the delta kept inside its eps ball
/// around zero. `labels[i]` is the class example i is pushed away from. Returns the deltas
/// (audio, pixels); apply them with [`apply_universal`].
pub fn universal(net: &AvNet, examples: &[Example], labels: &[usize], cfg: &AttackConfig, epochs: usize) -> (Vec<f32>, Vec<f32>) {
    let Some(first) = examples.first() else { return (Vec::new(), Vec::new()) };
    let device = net.classifier.weight.val().device().autodiff();
    let valid = net.valid().fork(&device);
    let (mut da, mut dv) = (vec![0.0; first.wave.len()], vec![0.0; first.pixels.len()]);
    let zeros_a = vec![0.0; da.len()];
    let zeros_v = vec![0.0; dv.len()];
    let steps = (epochs * examples.len()).max(1);
    let step_a = cfg.step_a.unwrap_or(2.5 * cfg.eps_a / steps as f32);
    let step_v = cfg.step_v.unwrap_or(2.5 * cfg.eps_v / steps as f32);
    let unbounded = (f32::NEG_INFINITY, f32::INFINITY);
    for _ in 0..epochs {
        for (ex, &label) in examples.iter().zip(labels) {
            let oracle = Oracle { net: valid.clone(), device: device.clone(), class: label };
            let x = apply_universal(ex, &da, &dv);
            let (_, ga, gv, _) = oracle.eval(&x);
            let step = |d: &mut Vec<f32>, g: &[f32], zeros: &[f32], eps: f32, size: f32| {
                let dir = match cfg.norm {
                    Norm::Linf => lp::sign(g),
                    Norm::L2 => lp::normalise(g, 2),
                };
                d.iter_mut().zip(&dir).for_each(|(v, s)| *v += size * s);
                match cfg.norm {
                    Norm::Linf => lp::project_linf(d, zeros, eps, unbounded.0, unbounded.1),
                    Norm::L2 => lp::project_l2(d, zeros, eps, unbounded.0, unbounded.1),
                }
            };
            if cfg.modality.audio() {
                step(&mut da, &ga, &zeros_a, cfg.eps_a, step_a);
            }
            if cfg.modality.video() {
                step(&mut dv, &gv, &zeros_v, cfg.eps_v, step_v);
            }
        }
    }
    (da, dv)
}

/// `ex` plus the universal deltas, clipped to the valid ranges.
pub fn apply_universal(ex: &Example, da: &[f32], dv: &[f32]) -> Example {
    let mut x = ex.clone();
    x.wave.iter_mut().zip(da).for_each(|(v, d)| *v = (*v + d).clamp(AUDIO_RANGE.0, AUDIO_RANGE.1));
    x.pixels.iter_mut().zip(dv).for_each(|(v, d)| *v = (*v + d).clamp(PIXEL_RANGE.0, PIXEL_RANGE.1));
    x
}
