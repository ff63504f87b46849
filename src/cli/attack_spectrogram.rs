//! `mcgurk attack --spec S --weights W`: a spectrogram model attacked on the waveform, through
//! its front end (the adversarial sound is playable: `--out-audio` writes it at the model's
//! rate). Multi-label (sigmoid) models are attacked with BCE away from every class they hear
//! above 0.5.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::json;

use super::attack::{Args, AttackSpace, ModalityArg, class_index};
use crate::attacks::{Loss, Modality, Victim, attack_victim};
use crate::models::input::Example;
use crate::models::spec::Output;
use crate::models::spectrogram::SpectrogramModel;

pub fn run(args: &Args, spec: &Path, weights: &Path) -> anyhow::Result<()> {
    if !matches!(args.modality, ModalityArg::A | ModalityArg::Av) || args.out_image.is_some() {
        bail!("a spectrogram model hears audio only: attack it with --modality a (no --out-image)");
    }
    let in_features = args.attack_space == AttackSpace::Features;
    if in_features && args.out_audio.is_some() {
        bail!("--attack-space features perturbs the log-mel features: there is no sound to write (--out-audio)");
    }
    if let Some(p) = &args.out_audio {
        crate::files::check_writable(p)?;
    }
    let device = args.models.device()?;
    let model = SpectrogramModel::load(spec, weights, &device)?;
    let clip = args.input.open_at_rate(model.sample_rate())?;
    let t = args.at.unwrap_or_else(|| Example::centre_time(&clip));
    let (wave, notes) = model.window(&clip, t).map_err(anyhow::Error::msg).with_context(|| clip.title())?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let sigmoid = model.spec.output == Output::Sigmoid;
    let clean = model.predict(&clip, t, &device).map_err(anyhow::Error::msg)?;
    let heard = |probs: &[f32]| -> Vec<usize> { (0..probs.len()).filter(|&i| probs[i] > 0.5).collect() };
    // What the attack pushes away from: the given class, or what the model hears.
    let labels = match &args.label {
        Some(name) => vec![class_index(&model.classes, name, "--label")?],
        None => crate::models::predict::attack_labels(&clean.probs, sigmoid),
    };
    let target = args.target.as_deref().map(|n| class_index(&model.classes, n, "--target")).transpose()?;
    let cfg = crate::attacks::AttackConfig {
        modality: Modality::Audio,
        target,
        loss: if sigmoid { Loss::Bce } else { args.attack.config().loss },
        ..args.attack.config()
    };
    let (victim, input) = if in_features {
        let (features, frames) = model.features(wave, &device).map_err(anyhow::Error::msg)?;
        (Victim::features(&model, frames), features)
    } else {
        (Victim::spectrogram(&model), wave)
    };
    let r = attack_victim(&victim, &[Example::audio_only(input)], &[labels.clone()], &cfg).remove(0);
    let space = if in_features { "features" } else { "audio" };
    let probs = |logits: &[f32]| crate::models::predict::probabilities(logits, sigmoid);
    let (pc, pa) = (probs(&r.logits_clean), probs(&r.logits_adv));
    let names = |set: &[usize]| set.iter().map(|&i| model.classes[i].clone()).collect::<Vec<_>>();
    let describe = |p: &[f32]| -> Vec<String> {
        let set = if sigmoid { heard(p) } else { Vec::new() };
        if set.is_empty() {
            let b = (0..p.len()).max_by(|a, c| p[*a].total_cmp(&p[*c])).unwrap_or(0);
            vec![format!("{} {:.1}%", model.classes[b], 100.0 * p[b])]
        } else {
            set.iter().map(|&i| format!("{} {:.1}%", model.classes[i], 100.0 * p[i])).collect()
        }
    };
    if args.json {
        let doc = json!({
            "clip": clip.title(), "time_s": t, "model": model.spec.name, "labels": names(&labels),
            "clean": { "logits": r.logits_clean, "probs": pc }, "adversarial": { "logits": r.logits_adv, "probs": pa },
            "loss": { "clean": r.loss_clean, "adversarial": r.loss_adv }, "space": space,
            "norms": { "linf": r.norms.audio_linf, "l2": r.norms.audio_l2 }, "snr_db": if in_features { None } else { r.snr_db },
            "vector_path": r.vector_path,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "{:<14} {} -> {}   loss {:.3} -> {:.3}   {space} L-inf {:.4} L2 {:.3}  SNR {}",
            model.spec.name,
            describe(&pc).join(", "),
            describe(&pa).join(", "),
            r.loss_clean,
            r.loss_adv,
            r.norms.audio_linf,
            r.norms.audio_l2,
            r.snr_db.filter(|_| !in_features).map_or("-".into(), |v| format!("{v:.1} dB")),
        );
    }
    if let Some(p) = &args.out_audio {
        crate::export::write_wav_at(p, &r.adversarial.wave, model.sample_rate())?;
    }
    Ok(())
}
