//! The engine behind the live workbench: several models looking at one moment of one clip,
//! clean and under an attack that changes as the user drags its sliders. Clean inputs,
//! predictions and gradients are cached per model until the clip or the moment changes, so a
//! new eps costs only the attack's own passes (FGSM: one forward pass per model). The GUI's
//! model thread and `mcgurk bench` both drive this type.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::prelude::Device;

use crate::attacks::{AttackConfig, CleanPass, Norms};
use crate::dsp::colormap::{self, Colormap};
use crate::dsp::{MelAnalyzer, MelConfig};
use crate::media::RgbImage;
use crate::media::Clip;
use crate::models::LoadedModel;
use crate::models::input::Example;
use crate::models::predict::{Prediction, predict};

/// What one model makes of the moment.
#[derive(Clone, Debug)]
pub struct ModelView {
    pub clean: Prediction,
    pub attacked: Option<Attacked>,
    /// The model's clean input (for the models whose maps are shown).
    pub input: Option<Example>,
}

/// Which models get localization maps of their attacked input (one more forward pass each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maps {
    One(usize),
    All,
}

impl Maps {
    pub fn includes(self, i: usize) -> bool {
        match self {
            Self::One(k) => k == i,
            Self::All => true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Attacked {
    pub prediction: Prediction,
    pub norms: Norms,
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
    pub loss_clean: f32,
    pub loss_adv: f32,
    /// The model's clean and adversarial inputs (kept for the model whose maps are shown, for
    /// the perturbation views and export).
    pub inputs: Option<(Example, Example)>,
    /// Log-mel pictures of its audio window (the models whose maps are shown).
    pub audio: Option<AudioViews>,
}

/// The model's audio window as log-mel images: clean, adversarial and the perturbation alone.
/// Clean and adversarial share the clean window's dB scale; the perturbation has its own, and
/// `delta_below_db` says how far its loudest bin sits below the clean window's loudest.
#[derive(Clone, Debug)]
pub struct AudioViews {
    pub clean: RgbImage,
    pub adversarial: RgbImage,
    pub delta: RgbImage,
    pub delta_below_db: f32,
}

impl AudioViews {
    fn of(clean: &[f32], adversarial: &[f32]) -> Option<Self> {
        let mel = MelAnalyzer::new(MelConfig::default(), crate::media::MODEL_SAMPLE_RATE).ok()?;
        let delta: Vec<f32> = adversarial.iter().zip(clean).map(|(a, c)| a - c).collect();
        let (c, a, d) = (mel.compute(clean), mel.compute(adversarial), mel.compute(&delta));
        let range = 80.0;
        let (cmax, dmax) = (c.max_db(), d.max_db());
        // The adversarial picture on the clean one's scale, so added energy shows as brighter.
        Some(Self {
            clean: colormap::render(&c, 0, c.n_frames, range, Colormap::Viridis),
            adversarial: colormap::render_from(&a, 0, a.n_frames, cmax, range, Colormap::Viridis),
            delta: colormap::render(&d, 0, d.n_frames, range, Colormap::Magma),
            delta_below_db: cmax - dmax,
        })
    }
}

/// The moment a cache entry is for: which clip (by identity) at which time.
type Moment = (usize, u64);

struct Cached {
    moment: Moment,
    example: Example,
    clean: Prediction,
    pass: Option<CleanPass>,
}

pub struct Live {
    pub models: Vec<LoadedModel>,
    device: Device,
    cache: Vec<Option<Cached>>,
    models_at_once: usize,
}

/// Raises its flag when dropped (also while unwinding).
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Why an update stopped early.
#[derive(Debug, PartialEq, Eq)]
pub struct Interrupted;

impl Live {
    pub fn new(models: Vec<LoadedModel>, device: Device) -> Self {
        let cache = models.iter().map(|_| None).collect();
        Self { models, device, cache, models_at_once: rayon::current_num_threads() }
    }

    /// One more model (loaded by the user), shown after the others.
    pub fn add(&mut self, model: LoadedModel) {
        self.models.push(model);
        self.cache.push(None);
    }

    /// How many models run at once (1: one after another, each using every core through the
    /// backend's threads). Both share one thread pool, so neither oversubscribes the cores.
    pub fn set_models_at_once(&mut self, n: usize) {
        self.models_at_once = n.max(1);
    }

    /// Every model at `time_s` of `clip`, clean and (with `attack`) attacked, away from its own
    /// clean prediction. Localization maps of attacked inputs are computed for the models in
    /// `maps` only (one more forward pass each). Models run as tasks of the backend's own thread
    /// pool (rayon), so the threads inside a model and the models beside it share the cores
    /// instead of competing for them; `stop()` is polled while they run: a newer request or a
    /// cancel ends the update as soon as the running models reach a step boundary. Also
    /// returns which modalities the clip lacks.
    pub fn update(
        &mut self,
        clip: &Clip,
        clip_id: usize,
        time_s: f64,
        attack: Option<&AttackConfig>,
        maps: Maps,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<(Vec<ModelView>, Vec<&'static str>), Interrupted> {
        let moment = (clip_id, time_s.to_bits());
        let workers = self.models_at_once.min(self.models.len().max(1));
        let device = &self.device;
        // A queue of models that `workers` tasks take from; this thread watches `stop`.
        // Heaviest first (tasks pop from the end), so the last job on each core is a cheap one:
        // both encoders, then the ResNet alone, then the audio net alone.
        let mut jobs: Vec<_> = self.models.iter().zip(self.cache.iter_mut()).enumerate().collect();
        jobs.sort_by_key(|(_, (m, _))| u8::from(m.info.fusion.uses_audio()) + 2 * u8::from(m.info.fusion.uses_visual()));
        let queue = Mutex::new(jobs);
        let abort = AtomicBool::new(false);
        let finished = AtomicBool::new(false);
        let done: Mutex<Vec<(usize, ModelView, Vec<&'static str>)>> = Mutex::new(Vec::new());
        let total = self.models.len();
        std::thread::scope(|s| {
            let pool = std::thread::Builder::new().name("live-models".into()).spawn_scoped(s, || {
                // Set even when a model panics, so the watcher below stops waiting.
                let _finished = SetOnDrop(&finished);
                rayon::scope(|tasks| {
                    for _ in 0..workers {
                        tasks.spawn(|_| {
                            while !abort.load(Ordering::Relaxed) {
                                let Some((i, (m, entry))) = queue.lock().ok().and_then(|mut q| q.pop()) else { return };
                                let (view, miss) = one_model(m, entry, device, clip, moment, time_s, attack, maps.includes(i), &abort);
                                if let Ok(mut d) = done.lock() {
                                    d.push((i, view, miss));
                                }
                            }
                        });
                    }
                });
            });
            if pool.is_err() {
                finished.store(true, Ordering::Relaxed);
            }
            while !finished.load(Ordering::Relaxed) {
                if stop() {
                    abort.store(true, Ordering::Relaxed);
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            // A panicked model is reported as an interrupted update (its result is missing).
            if let Ok(handle) = pool {
                let _ = handle.join();
            }
        });
        let done = done.into_inner().map_err(|_| Interrupted)?;
        if abort.load(Ordering::Relaxed) || done.len() < total {
            return Err(Interrupted);
        }
        let mut views: Vec<Option<ModelView>> = vec![None; total];
        let mut missing = Vec::new();
        for (i, view, miss) in done {
            views[i] = Some(view);
            if !miss.is_empty() {
                missing = miss;
            }
        }
        views.into_iter().collect::<Option<Vec<_>>>().map(|v| (v, missing)).ok_or(Interrupted)
    }
}

/// One model's clean view (cached per moment) and attacked view.
#[allow(clippy::too_many_arguments)]
fn one_model(
    m: &LoadedModel,
    entry: &mut Option<Cached>,
    device: &Device,
    clip: &Clip,
    moment: Moment,
    time_s: f64,
    attack: Option<&AttackConfig>,
    show: bool,
    abort: &AtomicBool,
) -> (ModelView, Vec<&'static str>) {
    let mut missing = Vec::new();
    if entry.as_ref().is_none_or(|c| c.moment != moment) {
        let (example, miss) = Example::from_clip(clip, time_s, m.info.input);
        missing = miss;
        let clean = predict(m, &example, device);
        *entry = Some(Cached { moment, example, clean, pass: None });
    }
    let cached = entry.as_mut().expect("filled above");
    let attacked = attack.map(|cfg| {
        let label = cached.clean.best();
        if cached.pass.is_none() {
            cached.pass = CleanPass::new(&m.net, std::slice::from_ref(&cached.example), &[vec![label]], cfg);
        }
        let pass = cached.pass.as_ref().expect("one example");
        let plain_ce = cfg.loss == crate::attacks::Loss::CrossEntropy && cfg.target.is_none();
        let (r, prediction) = if show && plain_ce {
            // The map model runs on the adversarial input anyway: its logits and loss come from
            // that pass (one forward pass fewer).
            let mut r = pass.attack_until(cfg, false, abort).remove(0);
            let p = predict(m, &r.adversarial, device);
            if r.logits_adv.is_empty() {
                r.logits_adv = p.logits.clone();
                r.loss_adv = -p.probs[label].max(f32::MIN_POSITIVE).ln();
            }
            (r, p)
        } else {
            let r = pass.attack_until(cfg, true, abort).remove(0);
            let p = if show { predict(m, &r.adversarial, device) } else { Prediction::from_logits(r.logits_adv.clone()) };
            (r, p)
        };
        Attacked {
            prediction,
            norms: r.norms,
            snr_db: r.snr_db,
            psnr_db: r.psnr_db,
            loss_clean: r.loss_clean,
            loss_adv: r.loss_adv,
            audio: if show { AudioViews::of(&cached.example.wave, &r.adversarial.wave) } else { None },
            inputs: show.then(|| (cached.example.clone(), r.adversarial)),
        }
    });
    (ModelView { clean: cached.clean.clone(), attacked, input: show.then(|| cached.example.clone()) }, missing)
}

/// Times `update` the way the workbench drives it: the first call at a moment (clean passes),
/// then a slider move (FGSM at a new eps, and PGD) with the clean passes cached. Milliseconds.
pub fn measure(live: &mut Live, clip: &Clip, time_s: f64, fgsm: &AttackConfig, pgd: &AttackConfig) -> [(String, f64); 3] {
    let mut never = || false;
    let mut time = |live: &mut Live, cfg: &AttackConfig| {
        let start = Instant::now();
        let _ = live.update(clip, 1, time_s, Some(cfg), Maps::One(0), &mut never);
        start.elapsed().as_secs_f64() * 1000.0
    };
    let first = time(live, fgsm);
    let moved = AttackConfig { eps_a: fgsm.eps_a * 0.5, eps_v: fgsm.eps_v * 0.5, ..fgsm.clone() };
    let slider = time(live, &moved);
    let pgd_ms = time(live, pgd);
    [
        ("first view of a frame, FGSM (clean passes + attack)".into(), first),
        ("FGSM eps changed (clean passes cached)".into(), slider),
        (format!("PGD-{} eps changed", pgd.steps), pgd_ms),
    ]
}
