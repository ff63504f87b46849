//! Gradient attacks on a batch of examples (the engine of the attack issue): FGSM, PGD (L-inf
//! and L2, optional random start, restarts) and MIM, on the audio, the picture or both, each
//! with its own eps in raw units (waveform in [-1, 1], pixels in [0, 1]), with cross-entropy or
//! (multi-label models) binary cross-entropy. Every step projects onto the ball around the
//! *clean* input and clips to the valid range, so the bound holds whatever the step size
//! (unlike the public code, see SCIENCE.md). The per-step vector work (gradient direction,
//! projection) runs in the WGSL kernels when the model sits on the shared GPU
//! ([`crate::kernels::shared`]), else in their CPU references (`lp`).

mod describe;
mod frames;
pub mod lp;
mod values;
mod vector;
mod victim;

pub use describe::{number, pixel_budget};
pub use vector::VectorPath;
pub use victim::Victim;

use std::sync::atomic::{AtomicBool, Ordering};

use frames::FrameRows;
pub use frames::frame_l2;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::data::rng::Rng;
use crate::models::AvNet;
use crate::models::input::Example;
use values::Values;
use vector::Vector;

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

/// The objective the attack climbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy (single-label models; a label set is a uniform soft target).
    #[default]
    CrossEntropy,
    /// Per-class sigmoid binary cross-entropy, averaged over classes (multi-label models such
    /// as Li et al.'s AudioSet ones): the label set is the multi-hot target.
    Bce,
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
    #[serde(default)]
    pub loss: Loss,
    /// Runs of PGD/MIM, each after the first from a fresh random start (seed + run); each
    /// example keeps its best run (misclassified first, then the highest objective).
    #[serde(default = "one")]
    pub restarts: usize,
    /// For a clip of several frames under an L2 budget: `eps_v` bounds each frame's
    /// perturbation (steps normalised per frame) instead of the whole clip's. L-inf bounds
    /// every pixel either way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_frame: bool,
}

fn one() -> usize {
    1
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
            loss: Loss::CrossEntropy,
            restarts: 1,
            per_frame: false,
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
    /// The attack's objective (loss to the label set, or to the target) before and after.
    pub loss_clean: f32,
    pub loss_adv: f32,
    pub norms: Norms,
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
    /// Where the steps' direction and projection ran (the WGSL kernels or the CPU references).
    pub vector_path: VectorPath,
}

const AUDIO_RANGE: (f32, f32) = (-1.0, 1.0);
const PIXEL_RANGE: (f32, f32) = (0.0, 1.0);

/// A batch's inputs, flattened: audio [B, samples], pixels [B, 3*S*S].
#[derive(Clone)]
struct Inputs {
    wave: Vec<f32>,
    pixels: Vec<f32>,
}

/// Per-example losses, input gradients and logits of one forward-backward pass.
struct Evaluation {
    losses: Vec<f32>,
    ga: Vec<f32>,
    gv: Vec<f32>,
    logits: Vec<f32>,
}

/// Loss, input gradients and logits of `net` (eval mode on an autodiff device) at a batch.
struct Oracle {
    /// The model on the autodiff device, for gradients.
    net: Victim,
    device: Device,
    /// The same model off autodiff, for forward-only evaluations (no graph bookkeeping).
    plain: Victim,
    plain_device: Device,
    /// [B, classes] target distribution (CE) or multi-hot vector (BCE).
    targets: Vec<f32>,
    classes: usize,
    loss: Loss,
    size: crate::models::InputSize,
    /// `targets` on the autodiff device, made once: the GPU steps upload nothing.
    device_targets: std::sync::OnceLock<Tensor<2>>,
}

impl Oracle {
    /// Losses and logits at (`wave`, `pixels`), and the input gradients when `grad` (else
    /// empty).
    fn eval(&self, wave: &[f32], pixels: &[f32], grad: bool) -> Evaluation {
        let s = self.size;
        let b = wave.len() / s.samples;
        let (net, device) = if grad { (&self.net, &self.device) } else { (&self.plain, &self.plain_device) };
        let mut w = Tensor::<3>::from_data(TensorData::new(wave.to_vec(), [b, 1, s.samples]), device);
        let mut p = Tensor::<4>::from_data(TensorData::new(pixels.to_vec(), [b, 3, s.frames * s.pixels, s.pixels]), device);
        if grad {
            w = w.require_grad();
            p = p.require_grad();
        }
        let split = if grad { net.logits_split(w.clone(), p.clone()) } else { None };
        let logits = match &split {
            Some((logits, _)) => logits.clone(),
            None => net.logits(w.clone(), p.clone()),
        };
        let per_example = self.objective(logits.clone(), self.targets_on(device));
        let losses = per_example.clone().try_to_vec_as::<f32>().expect("f32");
        let logits = logits.try_to_vec_as::<f32>().expect("f32");
        if !grad {
            // No gradients were asked for; nothing reads them.
            return Evaluation { losses, ga: Vec::new(), gv: Vec::new(), logits };
        }
        // Examples are independent (BatchNorm in inference mode): the sum's gradient is each
        // example's own gradient.
        let grads = per_example.sum().backward();
        let (ga, gv) = match split {
            Some((_, s)) => {
                let (ga, gv) = (s.la.grad(&grads), s.lv.grad(&grads));
                rayon::join(|| through(s.fa, ga, &w, device), || through(s.fv, gv, &p, device))
            }
            None => (input_grad(&w, &grads), input_grad(&p, &grads)),
        };
        Evaluation { losses, ga, gv, logits }
    }

    /// The [B, classes] targets on `device`.
    fn targets_on(&self, device: &Device) -> Tensor<2> {
        let b = self.targets.len() / self.classes.max(1);
        Tensor::from_data(TensorData::new(self.targets.clone(), [b, self.classes]), device)
    }

    /// Each example's objective ([B, 1]) from its logits.
    fn objective(&self, logits: Tensor<2>, t: Tensor<2>) -> Tensor<2> {
        match self.loss {
            Loss::CrossEntropy => (log_softmax(logits, 1) * t).sum_dim(1).neg(),
            // softplus(z) - t z, written stably: max(z, 0) + ln(1 + e^-|z|) - t z.
            Loss::Bce => {
                let z = logits;
                (z.clone().clamp_min(0.0) + z.clone().abs().neg().exp().log1p() - z * t).mean_dim(1)
            }
        }
    }

    /// The input gradients at GPU values (flat [1, B * n] each), left on the GPU: nothing is
    /// read back (the step's losses and logits are not needed).
    fn device_gradients(&self, wave: &Tensor<2>, pixels: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let s = self.size;
        let [_, na] = wave.dims();
        let [_, nv] = pixels.dims();
        let b = na / s.samples;
        let w = wave.clone().reshape([b, 1, s.samples]).autodiff().require_grad();
        let p = pixels.clone().reshape([b, 3, s.frames * s.pixels, s.pixels]).autodiff().require_grad();
        let logits = self.net.logits(w.clone(), p.clone());
        let targets = self.device_targets.get_or_init(|| self.targets_on(&self.device)).clone();
        let grads = self.objective(logits, targets).sum().backward();
        let flat = |g: Option<Tensor<2>>, n: usize| g.unwrap_or_else(|| Tensor::zeros([1, n], &self.plain_device));
        (flat(w.grad(&grads).map(|g| g.reshape([1, na])), na), flat(p.grad(&grads).map(|g| g.reshape([1, nv])), nv))
    }
}

/// The gradient `grads` hold for the input `x`, flat; zeros where the model does not read it
/// (a model without a modality: the attack leaves it clean).
fn input_grad<const D: usize>(x: &Tensor<D>, grads: &burn::tensor::Gradients) -> Vec<f32> {
    x.grad(grads).map_or_else(|| vec![0.0; x.shape().num_elements()], |g| g.try_to_vec_as::<f32>().expect("f32"))
}

/// The gradient at input `x` of an encoder whose output `f` received the gradient `g`: the
/// encoder's own backward pass, from `sum(f * g)` (whose gradient at `f` is exactly `g`).
fn through<const D: usize>(f: Tensor<2>, g: Option<Tensor<2>>, x: &Tensor<D>, device: &Device) -> Vec<f32> {
    let Some(g) = g else { return vec![0.0; x.shape().num_elements()] };
    let g = Tensor::<2>::from_data(TensorData::new(g.try_to_vec_as::<f32>().expect("f32"), f.dims()), device);
    input_grad(x, &(f * g).sum().backward())
}

/// Attacks `ex`, whose true (or clean-predicted) class is `label`, on `net` (any device; the
/// attack runs on its autodiff twin with BatchNorm in inference mode).
pub fn attack(net: &AvNet, ex: &Example, label: usize, cfg: &AttackConfig) -> AttackResult {
    attack_sets(net, std::slice::from_ref(ex), &[vec![label]], cfg).remove(0)
}

/// [`attack`] on a batch (one forward-backward pass per step for all of them).
pub fn attack_batch(net: &AvNet, examples: &[Example], labels: &[usize], cfg: &AttackConfig) -> Vec<AttackResult> {
    let sets: Vec<Vec<usize>> = labels.iter().map(|&l| vec![l]).collect();
    attack_sets(net, examples, &sets, cfg)
}

/// The general form: each example has a set of true labels (multi-label models; use
/// [`Loss::Bce`]). All examples must have the same input size.
pub fn attack_sets(net: &AvNet, examples: &[Example], labels: &[Vec<usize>], cfg: &AttackConfig) -> Vec<AttackResult> {
    attack_victim(&Victim::AudioVisual(net.clone()), examples, labels, cfg)
}

/// [`attack_sets`] on any [`Victim`] (a spectrogram model: the waveform is attacked through its
/// front end; give audio-only examples, see [`Example::audio_only`]).
pub fn attack_victim(victim: &Victim, examples: &[Example], labels: &[Vec<usize>], cfg: &AttackConfig) -> Vec<AttackResult> {
    match CleanPass::for_victim(victim, examples, labels, cfg) {
        Some(pass) => pass.attack(cfg),
        None => Vec::new(),
    }
}

/// The clean half of an attack: the model on its autodiff device, the objective, and the loss,
/// logits and input gradient at the clean inputs. It depends on the objective (labels, target,
/// loss) but not on the budget, so the workbench keeps it while the user drags eps: FGSM from it
/// then costs one forward pass.
pub struct CleanPass {
    oracle: Oracle,
    vector: Vector,
    examples: Vec<Example>,
    labels: Vec<Vec<usize>>,
    /// The label sets the objective uses (the target's, when targeted).
    sets: Vec<Vec<usize>>,
    clean: Inputs,
    eval: Evaluation,
    loss: Loss,
    target: Option<usize>,
}

impl CleanPass {
    /// None for an empty batch.
    pub fn new(net: &AvNet, examples: &[Example], labels: &[Vec<usize>], cfg: &AttackConfig) -> Option<Self> {
        Self::for_victim(&Victim::AudioVisual(net.clone()), examples, labels, cfg)
    }

    /// [`Self::new`] for any [`Victim`].
    pub fn for_victim(victim: &Victim, examples: &[Example], labels: &[Vec<usize>], cfg: &AttackConfig) -> Option<Self> {
        let size = examples.first()?.size;
        assert!(examples.iter().all(|e| e.size == size) && labels.len() == examples.len(), "one input size and one label set per example");
        let base = victim.device();
        let device = base.clone().autodiff();
        let classes = victim.classes();
        // Untargeted: climb the loss of the labels. Targeted: descend the loss of the target.
        let sets: Vec<Vec<usize>> = match cfg.target {
            Some(t) => vec![vec![t]; examples.len()],
            None => labels.to_vec(),
        };
        let mut targets = vec![0.0; examples.len() * classes];
        for (row, set) in sets.iter().enumerate() {
            let weight = match cfg.loss {
                Loss::CrossEntropy => 1.0 / set.len().max(1) as f32,
                Loss::Bce => 1.0,
            };
            set.iter().filter(|&&c| c < classes).for_each(|&c| targets[row * classes + c] = weight);
        }
        let plain = victim.valid();
        // Input gradients only: parameters loaded for training carry require_grad, and their
        // gradients would cost as much again in every backward pass.
        let oracle = Oracle { net: plain.fork_no_grad(&device), device, plain, plain_device: base.clone(), targets, classes, loss: cfg.loss, size, device_targets: Default::default() };
        let clean = Inputs {
            wave: examples.iter().flat_map(|e| e.wave.iter().copied()).collect(),
            pixels: examples.iter().flat_map(|e| e.pixels.iter().copied()).collect(),
        };
        let eval = oracle.eval(&clean.wave, &clean.pixels, true);
        Some(Self { oracle, vector: Vector::for_device(&base), examples: examples.to_vec(), labels: labels.to_vec(), sets, clean, eval, loss: cfg.loss, target: cfg.target })
    }

    /// Clean logits of example `i`.
    pub fn logits(&self, i: usize) -> &[f32] {
        let c = self.oracle.classes;
        &self.eval.logits[i * c..(i + 1) * c]
    }

    /// Runs `cfg` from this clean pass (rebuilt first if `cfg` has another objective).
    pub fn attack(&self, cfg: &AttackConfig) -> Vec<AttackResult> {
        self.run(cfg, true, None)
    }

    /// [`Self::attack`] that stops between steps once `cancel` is set (the result is then
    /// partial: for a caller that throws it away). Without `evaluate`, a single run skips the
    /// forward pass at its end point: `logits_adv` is then empty and `loss_adv` NaN, for a
    /// caller that runs the model on the adversarial input anyway (the workbench's map model).
    pub fn attack_until(&self, cfg: &AttackConfig, evaluate: bool, cancel: &AtomicBool) -> Vec<AttackResult> {
        self.run(cfg, evaluate, Some(cancel))
    }

    fn run(&self, cfg: &AttackConfig, evaluate: bool, cancel: Option<&AtomicBool>) -> Vec<AttackResult> {
        if cfg.loss != self.loss || cfg.target != self.target {
            return attack_victim(&self.oracle.plain, &self.examples, &self.labels, cfg);
        }
        let (oracle, size, classes) = (&self.oracle, self.oracle.size, self.oracle.classes);
        let dir = if cfg.target.is_some() { -1.0 } else { 1.0 };
        let runs = if cfg.method == Method::Fgsm { 1 } else { cfg.restarts.max(1) };
        let mut best: Option<(Inputs, Evaluation)> = None;
        for run in 0..runs {
            let random_start = cfg.method != Method::Fgsm && (cfg.random_start || run > 0);
            let seed = cfg.seed.wrapping_add(run as u64);
            let x = if self.vector.on_gpu() {
                iterate::<Tensor<2>>(oracle, &self.vector, &self.clean, &self.eval, cfg, random_start, seed, dir, cancel)
            } else {
                iterate::<Vec<f32>>(oracle, &self.vector, &self.clean, &self.eval, cfg, random_start, seed, dir, cancel)
            };
            // The end point needs logits and losses only: no backward pass (and none at all
            // when the caller evaluates it and no other run competes).
            let e = if evaluate || runs > 1 {
                oracle.eval(&x.wave, &x.pixels, false)
            } else {
                Evaluation { losses: vec![f32::NAN; self.examples.len()], ga: Vec::new(), gv: Vec::new(), logits: Vec::new() }
            };
            best = Some(match best {
                None => (x, e),
                Some(b) => keep_better(b, (x, e), &self.sets, classes, cfg.target.is_some(), dir, size),
            });
        }
        let (x, last) = best.expect("at least one run");
        let vector_path = self.vector.path();
        let (na, nv) = (size.samples, size.pixel_values());
        self.examples
            .iter()
            .enumerate()
            .map(|(i, ex)| {
                let adversarial = Example { wave: x.wave[i * na..(i + 1) * na].to_vec(), pixels: x.pixels[i * nv..(i + 1) * nv].to_vec(), size };
                let da = || adversarial.wave.iter().zip(&ex.wave).map(|(a, c)| a - c);
                let dv = || adversarial.pixels.iter().zip(&ex.pixels).map(|(a, c)| a - c);
                let norms = Norms { audio_linf: lp::linf(da()), audio_l2: lp::l2(da()), video_linf: lp::linf(dv()), video_l2: lp::l2(dv()) };
                AttackResult {
                    snr_db: lp::snr_db(&ex.wave, &adversarial.wave),
                    psnr_db: lp::psnr_db(&ex.pixels, &adversarial.pixels),
                    logits_clean: self.eval.logits[i * classes..(i + 1) * classes].to_vec(),
                    logits_adv: last.logits.get(i * classes..(i + 1) * classes).map_or_else(Vec::new, <[f32]>::to_vec),
                    loss_clean: self.eval.losses[i],
                    loss_adv: last.losses[i],
                    norms,
                    adversarial,
                    vector_path: vector_path.clone(),
                }
            })
            .collect()
    }
}

/// One run of FGSM / PGD / MIM from the clean input (or a random start in the ball), with the
/// values moved as `V`: host vectors, or tensors that stay on the GPU from step to step.
#[allow(clippy::too_many_arguments)]
fn iterate<V: Values>(
    oracle: &Oracle,
    vector: &Vector,
    clean: &Inputs,
    clean_eval: &Evaluation,
    cfg: &AttackConfig,
    random_start: bool,
    seed: u64,
    dir: f32,
    cancel: Option<&AtomicBool>,
) -> Inputs {
    let (na, nv) = (oracle.size.samples, oracle.size.pixel_values());
    let steps = if cfg.method == Method::Fgsm { 1 } else { cfg.steps.max(1) };
    let step_of = |eps: f32, given: Option<f32>| match cfg.method {
        Method::Fgsm => eps,
        _ => given.unwrap_or(2.5 * eps / steps as f32),
    };
    let (step_a, step_v) = (step_of(cfg.eps_a, cfg.step_a), step_of(cfg.eps_v, cfg.step_v));
    let mut x = clean.clone();
    // A budget per frame: the picture's values frame-major, one frame per row.
    let rows = FrameRows { frames: oracle.size.frames.max(1), plane: oracle.size.pixels * oracle.size.pixels };
    let frame_rows = (cfg.per_frame && cfg.norm == Norm::L2 && rows.frames > 1).then_some(rows);
    let row_v = frame_rows.map_or(nv, |r| r.row());
    // Without a budget per frame the values stay as they are (no copies on the step's path).
    let into_rows = |v: V| match frame_rows {
        Some(r) => v.frames(r, true),
        None => v,
    };
    let out_of_rows = |v: V| match frame_rows {
        Some(r) => v.frames(r, false),
        None => v,
    };
    let clean_v_rows = frame_rows.map_or_else(|| clean.pixels.clone(), |r| r.to_frame_major(&clean.pixels));
    if random_start {
        // Drawn on the host (the same draws on every device), once per run.
        let mut rng = Rng::new(seed);
        let mut jitter = |v: &mut Vec<f32>, clean: &[f32], n: usize, eps: f32, range: (f32, f32)| {
            match cfg.norm {
                Norm::Linf => v.iter_mut().for_each(|x| *x += rng.range(-eps, eps)),
                Norm::L2 => {
                    for row in v.chunks_mut(n) {
                        let d: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
                        let r = eps * rng.uniform();
                        row.iter_mut().zip(lp::normalise(&d, 2)).for_each(|(x, u)| *x += r * u);
                    }
                }
            }
            vector::project(v, clean, n, eps, cfg.norm, range);
        };
        if cfg.modality.audio() {
            jitter(&mut x.wave, &clean.wave, na, cfg.eps_a, oracle.net.audio_range());
        }
        if cfg.modality.video() {
            let mut v = match frame_rows {
                Some(r) => r.to_frame_major(&x.pixels),
                None => std::mem::take(&mut x.pixels),
            };
            jitter(&mut v, &clean_v_rows, row_v, cfg.eps_v, PIXEL_RANGE);
            x.pixels = match frame_rows {
                Some(r) => r.from_frame_major(&v),
                None => v,
            };
        }
    }
    let device = &oracle.plain_device;
    let load = |v: &[f32]| V::load(v.to_vec(), device);
    let (mut wave, mut pixels) = (V::load(x.wave, device), V::load(x.pixels, device));
    let clean_a = if cfg.modality.audio() { Some(load(&clean.wave)) } else { None };
    let clean_v = if cfg.modality.video() { Some(V::load(clean_v_rows, device)) } else { None };
    // (MIM's momentum is kept in the rows' layout; its normalisation is per example either way.)
    let (mut mom_a, mut mom_v): (Option<V>, Option<V>) = (None, None);
    for step in 0..steps {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            break;
        }
        // Without a random start the first step is taken at the clean input, whose gradient
        // the clean evaluation has already computed: one forward-backward pass fewer.
        let (ga, gv) = if step == 0 && !random_start { (load(&clean_eval.ga), load(&clean_eval.gv)) } else { V::gradients(oracle, &wave, &pixels) };
        // `n` values per example, rows of `row` values under one budget each.
        let update = |v: V, g: V, mom: &mut Option<V>, clean: &V, (n, row): (usize, usize), eps: f32, step: f32, range| {
            let g = if cfg.method == Method::Mim {
                // Momentum on the per-sample L1-normalised gradient (Dong et al.).
                let l1 = g.direction(vector, n, 1);
                let m = match mom.take() {
                    Some(m) => m.momentum(cfg.mu, &l1),
                    None => l1,
                };
                *mom = Some(m.clone());
                m
            } else {
                g
            };
            let d = g.direction(vector, row, if cfg.norm == Norm::Linf { 0 } else { 2 });
            v.plus(dir * step, &d).project(vector, clean, row, eps, cfg.norm, range)
        };
        if let Some(clean_a) = &clean_a {
            wave = update(wave, ga, &mut mom_a, clean_a, (na, na), cfg.eps_a, step_a, oracle.net.audio_range());
        }
        if let Some(clean_v) = &clean_v {
            let v = update(into_rows(pixels), into_rows(gv), &mut mom_v, clean_v, (nv, row_v), cfg.eps_v, step_v, PIXEL_RANGE);
            pixels = out_of_rows(v);
        }
    }
    Inputs { wave: wave.into_host(), pixels: pixels.into_host() }
}

/// Per example, the better of two runs: the one that fools the model (untargeted: its top class
/// is not a label; targeted: its top class is the target), else the higher objective.
#[allow(clippy::too_many_arguments)]
fn keep_better(a: (Inputs, Evaluation), b: (Inputs, Evaluation), sets: &[Vec<usize>], classes: usize, targeted: bool, dir: f32, size: crate::models::InputSize) -> (Inputs, Evaluation) {
    let (na, nv) = (size.samples, size.pixel_values());
    let (mut x, mut e) = a;
    let (bx, be) = b;
    for (i, set) in sets.iter().enumerate() {
        let fooled = |logits: &[f32]| {
            let top = crate::models::predict::argmax(&logits[i * classes..(i + 1) * classes]);
            if targeted { set.contains(&top) } else { !set.contains(&top) }
        };
        let better = match (fooled(&e.logits), fooled(&be.logits)) {
            (false, true) => true,
            (true, false) => false,
            _ => dir * be.losses[i] > dir * e.losses[i],
        };
        if better {
            x.wave[i * na..(i + 1) * na].copy_from_slice(&bx.wave[i * na..(i + 1) * na]);
            x.pixels[i * nv..(i + 1) * nv].copy_from_slice(&bx.pixels[i * nv..(i + 1) * nv]);
            e.logits[i * classes..(i + 1) * classes].copy_from_slice(&be.logits[i * classes..(i + 1) * classes]);
            e.losses[i] = be.losses[i];
        }
    }
    (x, e)
}

/// One perturbation for a whole set of examples (a universal perturbation, as in Li et al.):
/// `epochs` passes of signed (L-inf) or normalised (L2) gradient steps on the shared delta, each
/// step at the current example's `x + delta` clipped to range, the delta kept inside its eps ball
/// around zero. `labels[i]` is the class example i is pushed away from. Returns the deltas
/// (audio, pixels); apply them with [`apply_universal`].
pub fn universal(net: &AvNet, examples: &[Example], labels: &[usize], cfg: &AttackConfig, epochs: usize) -> (Vec<f32>, Vec<f32>) {
    let Some(first) = examples.first() else { return (Vec::new(), Vec::new()) };
    let base = net.classifier.weight.val().device();
    let device = base.clone().autodiff();
    let plain = net.valid();
    let valid = plain.clone().fork(&device).no_grad();
    let classes = net.classifier.weight.val().dims()[1];
    let (mut da, mut dv) = (vec![0.0; first.wave.len()], vec![0.0; first.pixels.len()]);
    let zeros_a = vec![0.0; da.len()];
    let zeros_v = vec![0.0; dv.len()];
    let steps = (epochs * examples.len()).max(1);
    let step_a = cfg.step_a.unwrap_or(2.5 * cfg.eps_a / steps as f32);
    let step_v = cfg.step_v.unwrap_or(2.5 * cfg.eps_v / steps as f32);
    let unbounded = (f32::NEG_INFINITY, f32::INFINITY);
    for _ in 0..epochs {
        for (ex, &label) in examples.iter().zip(labels) {
            let mut targets = vec![0.0; classes];
            targets[label.min(classes - 1)] = 1.0;
            let oracle = Oracle {
                net: Victim::AudioVisual(valid.clone()),
                device: device.clone(),
                plain: Victim::AudioVisual(plain.clone()),
                plain_device: base.clone(),
                targets,
                classes,
                loss: cfg.loss,
                size: ex.size,
                device_targets: Default::default(),
            };
            let x = apply_universal(ex, &da, &dv);
            let Evaluation { ga, gv, .. } = oracle.eval(&x.wave, &x.pixels, true);
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
