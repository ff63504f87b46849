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
    };
    let Some(cfg) = attack.filter(|c| c.modality != Modality::Audio && c.eps_v > 0.0) else { return Ok(seen) };
    let top = crate::models::predict::argmax(&seen.probs_clean);
    let labels: Vec<usize> = if multi_label {
        let above: Vec<usize> = (0..seen.probs_clean.len()).filter(|&i| seen.probs_clean[i] > 0.5).collect();
        if above.is_empty() { vec![top] } else { above }
    } else {
        vec![top]
    };
    let cfg = AttackConfig { modality: Modality::Video, loss: if multi_label { Loss::Bce } else { cfg.loss }, ..cfg.clone() };
    let ex = Example { wave: vec![0.0], pixels, size: InputSize { samples: 1, pixels: model.size, frames: model.frames } };
    let r = attack_victim(&Victim::video(model), std::slice::from_ref(&ex), &[labels], &cfg).pop().ok_or("the attack returned nothing")?;
    seen.psnr_db = crate::attacks::lp::psnr_db(&ex.pixels, &r.adversarial.pixels);
    seen.probs_adversarial = Some(crate::models::predict::probabilities(&r.logits_adv, multi_label));
    seen.adversarial = Some(r.adversarial.pixels);
    Ok(seen)
}
