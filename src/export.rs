//! Writing results out: the adversarial audio as WAV, a model view as PNG, and a session's
//! results as CSV or JSON. Every file is written atomically (temp file + rename).

use std::path::Path;

use crate::media::MODEL_SAMPLE_RATE;
use crate::session::Session;

/// 32-bit float mono WAV at the model rate.
pub fn write_wav(path: &Path, samples: &[f32]) -> anyhow::Result<()> {
    write_wav_at(path, samples, MODEL_SAMPLE_RATE)
}

/// Mono float WAV at `rate` (a spectrogram model's own rate).
pub fn write_wav_at(path: &Path, samples: &[f32], rate: u32) -> anyhow::Result<()> {
    let data_len = (samples.len() * 4) as u32;
    let mut b = Vec::with_capacity(44 + samples.len() * 4);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 4).to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    samples.iter().for_each(|s| b.extend_from_slice(&s.to_le_bytes()));
    crate::files::write_atomic(path, &b)
}

/// CHW floats in [0, 1] (a model's view, `side` x `side`) to a PNG.
pub fn write_model_view_png(path: &Path, chw: &[f32], side: usize) -> anyhow::Result<()> {
    let img = image::RgbImage::from_raw(side as u32, side as u32, crate::models::input::rgb_bytes(chw, side))
        .ok_or_else(|| anyhow::anyhow!("a model view of {} values is not {side}x{side} RGB", chw.len()))?;
    crate::files::save_png_atomic(path, &img)
}

/// One row per model: clean and attacked top class with probabilities, the probability of the
/// clean top class after the attack, SNR, PSNR and losses.
pub fn results_csv(session: &Session) -> String {
    let mut s = String::from("model,fusion,clean_class,clean_prob,attacked_class,attacked_prob,clean_class_prob_attacked,flipped,snr_db,psnr_db,loss_clean,loss_adv\n");
    let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
    for r in &session.results {
        let top = |p: &[f32]| crate::models::predict::argmax(p);
        let c = top(&r.clean_probs);
        let name = |i: usize| r.classes.get(i).cloned().unwrap_or_default();
        let (a_class, a_prob, kept, flipped) = match &r.attacked_probs {
            Some(a) => {
                let t = top(a);
                (name(t), a[t].to_string(), a[c].to_string(), (t != c).to_string())
            }
            None => (String::new(), String::new(), String::new(), String::new()),
        };
        s += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.model, r.fusion, name(c), r.clean_probs[c], a_class, a_prob, kept, flipped,
            opt(r.snr_db), opt(r.psnr_db), opt(r.loss_clean), opt(r.loss_adv)
        );
    }
    s
}

/// The session's moment, attack and results as one JSON document.
pub fn results_json(session: &Session) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "clip": session.clip,
        "time_s": session.time_s,
        "attack": session.attack_enabled.then_some(&session.attack),
        "results": session.results,
    }))?)
}
