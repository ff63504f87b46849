//! What a spectrogram model hears of one moment of a clip, clean and attacked: its own input
//! (the normalised log-mel features, on its frequency axis), its probabilities, and for
//! attention pooling (TAL-trans) the weight it gives each moment. The window draws these.

use burn::prelude::*;

use super::spec::Output;
use super::spectrogram::{SpectrogramModel, SpectrogramNet};
use crate::attacks::{AttackConfig, Loss, Modality, Victim, attack_victim};
use crate::media::Clip;
use crate::models::input::Example;

/// Features are [frames][mels], row-major.
#[derive(Clone, Debug)]
pub struct Heard {
    pub frames: usize,
    pub mels: usize,
    pub clean: Vec<f32>,
    /// None when the attack is off (or has no audio budget).
    pub adversarial: Option<Vec<f32>>,
    pub probs_clean: Vec<f32>,
    pub probs_adversarial: Option<Vec<f32>>,
    /// Per-frame attention of the clean input for its most probable class (attention pooling
    /// only), on the model's own frame axis (coarser than the features').
    pub attention: Option<Vec<f32>>,
    pub multi_label: bool,
    /// The window's length in seconds (both curves span it).
    pub seconds: f64,
    pub notes: Vec<String>,
    /// Signal-to-noise ratio of the adversarial waveform.
    pub snr_db: Option<f32>,
    /// The model's window of the clip, and its adversarial version, at `sample_rate` (to listen).
    pub wave: Vec<f32>,
    pub wave_adversarial: Option<Vec<f32>>,
    pub sample_rate: u32,
}

impl Heard {
    /// The class index with the highest clean probability.
    pub fn top(&self) -> usize {
        (0..self.probs_clean.len()).max_by(|a, b| self.probs_clean[*a].total_cmp(&self.probs_clean[*b])).unwrap_or(0)
    }
}

/// `model` on `clip` at `time_s`, and under `attack` on the waveform when it has an audio
/// budget (multi-label models with BCE away from every class heard above 0.5).
pub fn hear(model: &SpectrogramModel, clip: &Clip, time_s: f64, attack: Option<&AttackConfig>, device: &Device) -> Result<Heard, String> {
    let (wave, notes) = model.window(clip, time_s)?;
    let multi_label = model.spec.output == Output::Sigmoid;
    let clean_prediction = model.predict(clip, time_s, device)?;
    let (clean, frames) = model.features(wave.clone(), device)?;
    let mels = model.front.cfg.n_mels;
    let mut heard = Heard {
        frames,
        mels,
        clean,
        adversarial: None,
        probs_clean: clean_prediction.probs,
        probs_adversarial: None,
        attention: None,
        multi_label,
        seconds: wave.len() as f64 / f64::from(model.sample_rate()),
        notes,
        snr_db: None,
        wave: wave.clone(),
        wave_adversarial: None,
        sample_rate: model.sample_rate(),
    };
    if let SpectrogramNet::TalTrans(net) = &model.net {
        let n = wave.len();
        let features = model.front.forward(Tensor::from_data(TensorData::new(wave.clone(), [1, n]), device));
        let weights = net.attention_weights(net.frames(features));
        let [_, t, _] = weights.dims();
        let top = heard.top();
        let column = weights.slice([0..1, 0..t, top..top + 1]).reshape([t]);
        heard.attention = Some(column.try_to_vec_as::<f32>().map_err(|e| format!("{e:?}"))?);
    }
    let Some(cfg) = attack.filter(|c| c.modality != Modality::Video && c.eps_a > 0.0) else { return Ok(heard) };
    let labels = crate::models::predict::attack_labels(&heard.probs_clean, multi_label);
    let cfg = AttackConfig { modality: Modality::Audio, loss: if multi_label { Loss::Bce } else { cfg.loss }, ..cfg.clone() };
    let r = attack_victim(&Victim::spectrogram(model), &[Example::audio_only(wave)], &[labels], &cfg)
        .pop()
        .ok_or("the attack returned nothing")?;
    heard.adversarial = Some(model.features(r.adversarial.wave.clone(), device)?.0);
    heard.wave_adversarial = Some(r.adversarial.wave);
    heard.probs_adversarial = Some(crate::models::predict::probabilities(&r.logits_adv, multi_label));
    heard.snr_db = r.snr_db;
    Ok(heard)
}
