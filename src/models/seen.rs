//! What a video model, or an audio-visual model of two encoders, sees of one moment of a clip,
//! clean and attacked: its T frames as it reads them (resized and cropped), where it looks, and
//! its class probabilities. The window's frame strip draws these.

use burn::prelude::*;

use super::InputSize;
use super::input::Example;
use super::pair::PairModel;
use super::spec::{ModelSpec, Output};
use super::video::{FrameSampler, VideoModel};
use crate::attacks::{AttackConfig, Loss, Modality, Victim, attack_victim};
use crate::media::Clip;

#[derive(Clone, Debug)]
pub struct Seen {
    pub frames: usize,
    pub size: usize,
    /// [3, T, S, S] in [0, 1].
    pub clean: Vec<f32>,
    pub adversarial: Option<Vec<f32>>,
    pub probs_clean: Vec<f32>,
    pub probs_adversarial: Option<Vec<f32>>,
    pub multi_label: bool,
    /// The source time of each model frame.
    pub times: Vec<f64>,
    pub psnr_db: Option<f32>,
    /// SNR of the attacked sound (audio-visual models whose sound was attacked).
    pub snr_db: Option<f32>,
    pub notes: Vec<String>,
    /// Where the model looks, [T][S][S] in [0, 1], each model frame taking the map of its time
    /// step, spatially nearest-upsampled: a video model's class activation map of the clean
    /// clip's top class (the last stage's map weighted by that class's head weights), or an
    /// audio-visual model's Tian localization map (the cosine of f_a with each position of the
    /// last visual map, negative values shown as 0).
    pub cam: Vec<f32>,
    /// The same map averaged over the model's time steps, [S][S] in [0, 1] (the clip's one
    /// picture of where the model looks).
    pub cam_mean: Vec<f32>,
    /// What `cam` is ("CAM" or "cosine"); empty when the model has no such map.
    pub map_kind: &'static str,
}

/// A model with a frame strip: a video model, or an audio-visual model of two encoders.
pub enum Watched {
    Video(VideoModel),
    Pair(PairModel),
}

impl Watched {
    /// The model the spec at `path` describes, with the weights it names.
    pub fn load(path: &std::path::Path, device: &Device) -> Result<Self, String> {
        let spec = ModelSpec::load(path).map_err(|e| e.to_string())?;
        let weights = spec.weight_files(path);
        if spec.is_pair() {
            if weights.is_empty() {
                return Err(format!("{}: the window needs the weights named in the spec: add \"weights\" (relative to the spec)", path.display()));
            }
            return PairModel::load(path, &weights, device).map(Self::Pair).map_err(|e| e.to_string());
        }
        let Some(w) = spec.single_weights(path) else {
            return Err(format!("{}: the window needs the weights named in the spec: add \"weights\": \"FILE\" (relative to the spec)", path.display()));
        };
        VideoModel::load(path, &w, device).map(Self::Video).map_err(|e| e.to_string())
    }

    pub fn spec(&self) -> &ModelSpec {
        match self {
            Self::Video(m) => &m.spec,
            Self::Pair(m) => &m.spec,
        }
    }

    pub fn classes(&self) -> &[String] {
        match self {
            Self::Video(m) => &m.classes,
            Self::Pair(m) => &m.classes,
        }
    }

    pub fn sampler(&self) -> FrameSampler {
        match self {
            Self::Video(m) => m.sampler(),
            Self::Pair(m) => m.sampler,
        }
    }

    /// `source` around `time_s` with only the frames of the model's span kept (and, for an
    /// audio-visual model, its audio at the model's rate).
    pub fn open_around(&self, source: &std::path::Path, time_s: f64, job: &crate::media::Job<'_>) -> Result<Clip, String> {
        let opts = match self {
            Self::Video(_) => crate::media::LoadOptions::default(),
            Self::Pair(m) => crate::media::LoadOptions { sample_rate: m.sample_rate, ..crate::media::LoadOptions::default() },
        };
        self.sampler().open_around_with(source, Some(time_s), opts, job).map(|(c, _)| c).map_err(|e| e.to_string())
    }
}

/// A map [tm, h, w] spread over `t` model frames of `s` x `s` (each frame taking its time
/// step's map, nearest neighbours), scaled so that its largest value is 1, negatives at 0; and
/// its mean over the time steps, [s][s], scaled alike on its own.
fn per_frame(values: &[f32], [tm, h, w]: [usize; 3], t: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
    let upsample = |at: &dyn Fn(usize, usize) -> f32, top: f32| -> Vec<f32> {
        let scale = if top > 0.0 { 1.0 / top } else { 0.0 };
        (0..s * s).map(|p| (at((p / s * h / s).min(h - 1), (p % s * w / s).min(w - 1)) * scale).max(0.0)).collect()
    };
    let top = values.iter().copied().fold(0.0f32, f32::max);
    let mut frames = Vec::with_capacity(t * s * s);
    for k in 0..t {
        let tk = (k * tm / t.max(1)).min(tm - 1);
        frames.extend(upsample(&|y, x| values[(tk * h + y) * w + x], top));
    }
    let mean: Vec<f32> = (0..h * w).map(|p| (0..tm).map(|k| values[k * h * w + p]).sum::<f32>() / tm.max(1) as f32).collect();
    let top_mean = mean.iter().copied().fold(0.0f32, f32::max);
    (frames, upsample(&|y, x| mean[y * w + x], top_mean))
}

impl Seen {
    /// Frame `k` of `clip` ([3, T, S, S]) as RGB bytes, S x S.
    pub fn frame_rgb(&self, clip: &[f32], k: usize) -> Vec<u8> {
        let n = self.size * self.size;
        (0..n)
            .flat_map(|p| (0..3).map(move |c| (c, p)))
            .map(|(c, p)| (clip[(c * self.frames + k) * n + p].clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect()
    }
}

/// The class activation map of `class` for the clip `pixels` ([3, T, S, S]), [T][S][S] in [0, 1],
/// and its mean over time [S][S].
pub fn cam(model: &VideoModel, pixels: &[f32], class: usize, device: &Device) -> Result<(Vec<f32>, Vec<f32>), String> {
    let (t, s) = (model.frames, model.size);
    let x = Tensor::<5>::from_data(TensorData::new(pixels.to_vec(), [1, 3, t, s, s]), device);
    let map = model.net.forward_map(x);
    let [_, c, tm, h, w] = map.dims();
    let weights = model.head.weight.val().slice([0..c, class..class + 1]).reshape([1, c, 1, 1, 1]);
    let cam = (map * weights).sum_dim(1).reshape([tm * h * w]);
    let values = cam.try_to_vec_as::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok(per_frame(&values, [tm, h, w], t, s))
}

/// `model` on `clip` at `time_s`, and under `attack` when it has a budget for what the model
/// reads (every frame perturbed; an audio-visual model's sound too when the panel attacks it;
/// multi-label models with BCE away from every class above 0.5).
pub fn see(model: &Watched, clip: &Clip, time_s: f64, attack: Option<&AttackConfig>, device: &Device) -> Result<Seen, String> {
    if clip.frames.is_empty() {
        return Err(format!("{} has no pictures for a video model", clip.title()));
    }
    let sampler = model.sampler();
    let (idx, _) = sampler.frame_indices(clip, time_s);
    let multi_label = model.spec().output == Output::Sigmoid;
    let (wave, pixels, notes) = match model {
        Watched::Video(m) => {
            let (pixels, note) = m.input(clip, time_s);
            (vec![0.0], pixels, note.into_iter().collect())
        }
        Watched::Pair(m) => m.input(clip, time_s)?,
    };
    let logits = match model {
        Watched::Video(m) => m.logits(&pixels, device),
        Watched::Pair(m) => m.logits(&wave, &pixels, device),
    };
    if logits.iter().any(|v| !v.is_finite()) {
        return Err("the model gives non-finite outputs (damaged weights?)".into());
    }
    let probs_clean = crate::models::predict::probabilities(&logits, multi_label);
    let top = crate::models::predict::argmax(&probs_clean);
    let ((cam, cam_mean), map_kind) = match model {
        Watched::Video(m) => (cam(m, &pixels, top, device)?, "CAM"),
        Watched::Pair(m) => match cosine(m, &wave, &pixels, device)? {
            Some(maps) => (maps, "cosine"),
            None => ((Vec::new(), Vec::new()), ""),
        },
    };
    let mut seen = Seen {
        frames: sampler.frames,
        size: sampler.size,
        clean: pixels.clone(),
        adversarial: None,
        probs_clean,
        probs_adversarial: None,
        multi_label,
        times: idx.iter().map(|&i| clip.frames[i].time_s).collect(),
        psnr_db: None,
        snr_db: None,
        notes,
        cam,
        cam_mean,
        map_kind,
    };
    let pair = matches!(model, Watched::Pair(_));
    let wanted = |c: &&AttackConfig| (c.modality != Modality::Audio && c.eps_v > 0.0) || (pair && c.modality != Modality::Video && c.eps_a > 0.0);
    let Some(cfg) = attack.filter(wanted) else { return Ok(seen) };
    let labels = crate::models::predict::attack_labels(&seen.probs_clean, multi_label);
    let modality = if pair { cfg.modality } else { Modality::Video };
    let cfg = AttackConfig { modality, loss: if multi_label { Loss::Bce } else { cfg.loss }, ..cfg.clone() };
    let size = InputSize { samples: wave.len(), pixels: sampler.size, frames: sampler.frames };
    let victim = match model {
        Watched::Video(m) => Victim::video(m),
        Watched::Pair(m) => Victim::pair(m),
    };
    let ex = Example { wave, pixels, size };
    let r = attack_victim(&victim, std::slice::from_ref(&ex), &[labels], &cfg).pop().ok_or("the attack returned nothing")?;
    seen.psnr_db = crate::attacks::lp::psnr_db(&ex.pixels, &r.adversarial.pixels);
    seen.snr_db = r.snr_db.filter(|_| pair && modality != Modality::Video);
    seen.probs_adversarial = Some(crate::models::predict::probabilities(&r.logits_adv, multi_label));
    seen.adversarial = Some(r.adversarial.pixels);
    Ok(seen)
}

/// Tian's localization map of an audio-visual model over its frames, when f_a and the visual
/// map meet in one width (after the projections).
fn cosine(m: &PairModel, wave: &[f32], pixels: &[f32], device: &Device) -> Result<Option<(Vec<f32>, Vec<f32>)>, String> {
    let s = m.sampler.size;
    let w = Tensor::<3>::from_data(TensorData::new(wave.to_vec(), [1, 1, wave.len()]), device);
    let p = Tensor::<4>::from_data(TensorData::new(pixels.to_vec(), [1, 3, m.sampler.frames * s, s]), device);
    let Some(map) = m.net.localization(m.front.as_ref(), w, p) else { return Ok(None) };
    let [_, tm, h, wd] = map.dims();
    let values = map.try_to_vec_as::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok(Some(per_frame(&values, [tm, h, wd], m.sampler.frames, s)))
}
