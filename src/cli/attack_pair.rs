//! `mcgurk attack --spec S --weights W` for an audio-visual model of two encoders (for
//! instance Cnn14 with R(2+1)D-18): the waveform (through the front end of a spectrogram
//! encoder), every frame the visual encoder reads, or both. SNR over the window, PSNR over the
//! clip; `--out-audio` at the model's rate, `--out-video` for the frames.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::attack::{Args, AttackSpace, ModalityArg, class_index};
use crate::attacks::{Loss, Modality, Victim, attack_victim};
use crate::models::InputSize;
use crate::models::input::Example;
use crate::models::pair::PairModel;

pub fn run(args: &Args, spec: &Path, weights: &[(Option<String>, PathBuf)]) -> anyhow::Result<()> {
    if args.attack_space != AttackSpace::Wave {
        bail!("--attack-space features is for audio models (--spec with a spectrogram encoder and no visual one)");
    }
    if args.out_image.is_some() {
        bail!("--out-image is for one-frame models: write this model's frames with --out-video");
    }
    for p in args.out_audio.iter().chain(&args.out_video) {
        crate::files::check_writable(p)?;
    }
    let modality = match args.modality {
        ModalityArg::A => Modality::Audio,
        ModalityArg::V => Modality::Video,
        ModalityArg::Av => Modality::Both,
    };
    let device = args.models.device()?;
    let model = PairModel::load(spec, weights, &device)?;
    let (clip, t) = args.input.open_for_pair(&model, args.at)?;
    let (wave, pixels, notes) = model.input(&clip, t).map_err(anyhow::Error::msg)?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let sigmoid = model.sigmoid();
    let clean = model.logits(&wave, &pixels, &device);
    if let Some(i) = clean.iter().position(|v| !v.is_finite()) {
        bail!("the model gives a non-finite logit ({}) for class '{}' on this clip: its weights are broken", clean[i], model.classes[i]);
    }
    let labels = match &args.label {
        Some(name) => vec![class_index(&model.classes, name, "--label")?],
        None => crate::models::predict::attack_labels(&crate::models::predict::probabilities(&clean, sigmoid), sigmoid),
    };
    let target = args.target.as_deref().map(|n| class_index(&model.classes, n, "--target")).transpose()?;
    let cfg = crate::attacks::AttackConfig { modality, target, loss: if sigmoid { Loss::Bce } else { args.attack.config().loss }, ..args.attack.config() };
    let size = InputSize { samples: model.samples, pixels: model.sampler.size, frames: model.sampler.frames };
    let ex = Example { wave, pixels, size };
    let r = attack_victim(&Victim::pair(&model), std::slice::from_ref(&ex), &[labels], &cfg).remove(0);
    let shown = super::attack_video::Shown { name: &model.spec.name, classes: &model.classes, frames: model.sampler.frames, sigmoid, clip: clip.title(), time_s: t, sound: true };
    super::attack_video::report(args, &shown, &cfg, &ex, &r)?;
    if let Some(p) = &args.out_audio {
        crate::export::write_wav_at(p, &r.adversarial.wave, model.sample_rate)?;
    }
    if let Some(out) = &args.out_video {
        let fps = model.sampler.fps.or_else(|| clip.sources.iter().find_map(|s| s.video.as_ref().map(|v| v.fps))).unwrap_or(8.0);
        let written = super::attack_video::write_frames(out, &r.adversarial.pixels, model.sampler.frames, model.sampler.size, fps)?;
        eprintln!("{written}");
    }
    Ok(())
}
