//! What a video model sees of one moment of a clip, clean and attacked: its T frames as it
//! reads them (resized and cropped), and its class probabilities. The window's frame strip
//! draws these.

use burn::prelude::*;

use super::InputSize;
use super::input::Example;
use super::spec::Output;
use super::video::VideoModel;
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
    pub notes: Vec<String>,
    /// Class activation map of the clean clip's top class, [T][S][S] in [0, 1]: the last
    /// stage's map weighted by that class's head weights, each model frame taking the map of
    /// its time step, spatially nearest-upsampled (where the model looks, frame by frame).
    pub cam: Vec<f32>,
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

/// The class activation map of `class` for the clip `pixels` ([3, T, S, S]), [T][S][S] in [0, 1].
pub fn cam(model: &VideoModel, pixels: &[f32], class: usize, device: &Device) -> Result<Vec<f32>, String> {
    let (t, s) = (model.frames, model.size);
    let x = Tensor::<5>::from_data(TensorData::new(pixels.to_vec(), [1, 3, t, s, s]), device);
    let map = model.net.forward_map(x);
    let [_, c, tm, h, w] = map.dims();
    let weights = model.head.weight.val().slice([0..c, class..class + 1]).reshape([1, c, 1, 1, 1]);
    let cam = (map * weights).sum_dim(1).reshape([tm * h * w]);
    let values = cam.try_to_vec_as::<f32>().map_err(|e| format!("{e:?}"))?;
    let top = values.iter().copied().fold(0.0f32, f32::max);
    let scale = if top > 0.0 { 1.0 / top } else { 0.0 };
    let mut out = Vec::with_capacity(t * s * s);
    for k in 0..t {
        let tk = (k * tm / t.max(1)).min(tm - 1);
        for y in 0..s {
            let yy = (y * h / s).min(h - 1);
            for x in 0..s {
                let xx = (x * w / s).min(w - 1);
                out.push((values[(tk * h + yy) * w + xx] * scale).max(0.0));
            }
        }
    }
    Ok(out)
}

/// `model` on `clip` at `time_s`, and under `attack` when it has a picture budget (every frame
/// perturbed; multi-label models with BCE away from every class above 0.5).
pub fn see(model: &VideoModel, clip: &Clip, time_s: f64, attack: Option<&AttackConfig>, device: &Device) -> Result<Seen, String> {
    if clip.frames.is_empty() {
        return Err(format!("{} has no pictures for a video model", clip.title()));
    }
    let (idx, note) = model.frame_indices(clip, time_s);
    let (pixels, _) = model.input(clip, time_s);
    let multi_label = model.spec.output == Output::Sigmoid;
    let logits = model.logits(&pixels, device);
    if logits.iter().any(|v| !v.is_finite()) {
        return Err("the video model gives non-finite outputs (damaged weights?)".into());
    }
    let probs_clean = crate::models::predict::probabilities(&logits, multi_label);
    let mut seen = Seen {
        frames: model.frames,
        size: model.size,
        clean: pixels.clone(),
        adversarial: None,
        probs_clean,
        probs_adversarial: None,
        multi_label,
        times: idx.iter().map(|&i| clip.frames[i].time_s).collect(),
        psnr_db: None,
        notes: note.into_iter().collect(),
        cam: Vec::new(),
    };
    seen.cam = cam(model, &pixels, crate::models::predict::argmax(&seen.probs_clean), device)?;
    let Some(cfg) = attack.filter(|c| c.modality != Modality::Audio && c.eps_v > 0.0) else { return Ok(seen) };
    let labels = crate::models::predict::attack_labels(&seen.probs_clean, multi_label);
    let cfg = AttackConfig { modality: Modality::Video, loss: if multi_label { Loss::Bce } else { cfg.loss }, ..cfg.clone() };
    let ex = Example { wave: vec![0.0], pixels, size: InputSize { samples: 1, pixels: model.size, frames: model.frames } };
    let r = attack_victim(&Victim::video(model), std::slice::from_ref(&ex), &[labels], &cfg).pop().ok_or("the attack returned nothing")?;
    seen.psnr_db = crate::attacks::lp::psnr_db(&ex.pixels, &r.adversarial.pixels);
    seen.probs_adversarial = Some(crate::models::predict::probabilities(&r.logits_adv, multi_label));
    seen.adversarial = Some(r.adversarial.pixels);
    Ok(seen)
}
