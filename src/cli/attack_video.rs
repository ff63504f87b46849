//! `mcgurk attack --spec S --weights W` for a video model (R(2+1)D-18): the perturbation covers
//! every one of the T frames the model reads (L-inf per pixel, L2 over the whole clip), projected
//! and clipped as for pictures; PSNR is over the clip. `--out-video` writes the adversarial
//! frames as a video through ffmpeg, or as a folder of PNG frames.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::json;

use super::attack::{Args, ModalityArg, class_index};
use crate::attacks::{Loss, Modality, Victim, attack_victim};
use crate::models::InputSize;
use crate::models::input::{Example, rgb_bytes};
use crate::models::spec::Output;
use crate::models::video::VideoModel;

pub fn run(args: &Args, spec: &Path, weights: &Path) -> anyhow::Result<()> {
    if !matches!(args.modality, ModalityArg::V | ModalityArg::Av) || args.out_audio.is_some() || args.out_image.is_some() {
        bail!("a video model sees pictures only: attack it with --modality v (and --out-video for its frames)");
    }
    if let Some(p) = &args.out_video {
        crate::files::check_writable(p)?;
    }
    let device = args.models.device()?;
    let model = VideoModel::load(spec, weights, &device)?;
    let (clip, t) = args.input.open_for_video(&model, args.at)?;
    if clip.frames.is_empty() {
        bail!("{} has no pictures for a video model", clip.title());
    }
    let (pixels, note) = model.input(&clip, t);
    if let Some(n) = &note {
        eprintln!("note: {n}");
    }
    let sigmoid = model.spec.output == Output::Sigmoid;
    let clean = model.logits(&pixels, &device);
    let best = crate::models::predict::argmax(&clean);
    let labels = match &args.label {
        Some(name) => vec![class_index(&model.classes, name, "--label")?],
        None => vec![best],
    };
    let target = args.target.as_deref().map(|n| class_index(&model.classes, n, "--target")).transpose()?;
    let cfg = crate::attacks::AttackConfig {
        modality: Modality::Video,
        target,
        loss: if sigmoid { Loss::Bce } else { args.attack.config().loss },
        ..args.attack.config()
    };
    let size = InputSize { samples: 1, pixels: model.size, frames: model.frames };
    let ex = Example { wave: vec![0.0], pixels, size };
    let r = attack_victim(&Victim::video(&model), std::slice::from_ref(&ex), &[labels], &cfg).remove(0);
    let shown = Shown { name: &model.spec.name, classes: &model.classes, frames: model.frames, sigmoid, clip: clip.title(), time_s: t, sound: false };
    report(args, &shown, &cfg, &ex, &r)?;
    if let Some(out) = &args.out_video {
        let fps = model.fps.or_else(|| clip.sources.iter().find_map(|s| s.video.as_ref().map(|v| v.fps))).unwrap_or(8.0);
        let written = write_frames(out, &r.adversarial.pixels, model.frames, model.size, fps)?;
        eprintln!("{written}");
    }
    Ok(())
}

/// What the report of an attack on a clip of frames names.
pub(super) struct Shown<'a> {
    pub name: &'a str,
    pub classes: &'a [String],
    pub frames: usize,
    pub sigmoid: bool,
    pub clip: String,
    pub time_s: f64,
    /// Whether the model hears too (its SNR is reported).
    pub sound: bool,
}

/// The attack's outcome on a clip of frames (and its sound), as JSON or one line.
pub(super) fn report(args: &Args, s: &Shown, cfg: &crate::attacks::AttackConfig, ex: &Example, r: &crate::attacks::AttackResult) -> anyhow::Result<()> {
    let probs = |z: &[f32]| crate::models::predict::probabilities(z, s.sigmoid);
    let (pc, pa) = (probs(&r.logits_clean), probs(&r.logits_adv));
    let (bc, ba) = (crate::models::predict::argmax(&pc), crate::models::predict::argmax(&pa));
    let psnr = crate::attacks::lp::psnr_db(&ex.pixels, &r.adversarial.pixels);
    let snr = r.snr_db.filter(|_| s.sound);
    let frame_l2 = crate::attacks::frame_l2(&ex.pixels, &r.adversarial.pixels, s.frames);
    let largest = frame_l2.iter().copied().fold(0.0f32, f32::max);
    if args.json {
        let doc = json!({
            "clip": s.clip, "time_s": s.time_s, "config": cfg, "frames": s.frames,
            "models": [{ "name": s.name, "clean": { "logits": r.logits_clean, "probs": pc, "top": s.classes[bc] },
                         "adversarial": { "logits": r.logits_adv, "probs": pa, "top": s.classes[ba] },
                         "loss": { "clean": r.loss_clean, "adversarial": r.loss_adv }, "norms": r.norms, "frame_l2": frame_l2, "psnr_db": psnr, "snr_db": snr,
                         "vector_path": r.vector_path }],
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let sound = if s.sound { format!("  audio L-inf {:.4} SNR {}", r.norms.audio_linf, snr.map_or("-".into(), |v| format!("{v:.1} dB"))) } else { String::new() };
    println!(
        "{}: {} ({} frames): {} {:.1}% -> {} {:.1}%  loss {:.3} -> {:.3}{sound}  L-inf {} L2 {:.3} (largest frame {largest:.3})  PSNR over the clip {}",
        s.name,
        cfg.name(),
        s.frames,
        s.classes[bc],
        100.0 * pc[bc],
        s.classes[ba],
        100.0 * pa[ba],
        r.loss_clean,
        r.loss_adv,
        crate::attacks::pixel_budget(r.norms.video_linf),
        r.norms.video_l2,
        psnr.map_or("-".into(), |p| format!("{p:.1} dB")),
    );
    Ok(())
}

/// The frames of a [3, T, S, S] clip: a video through ffmpeg when `out` names one and ffmpeg is
/// on PATH, else PNGs in a folder. Returns what was written, for the user.
pub(super) fn write_frames(out: &Path, clip: &[f32], frames: usize, side: usize, fps: f64) -> anyhow::Result<String> {
    let video = out.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "mp4" | "webm" | "mkv" | "mov"));
    let ffmpeg = crate::media::Ffmpeg::from_path().filter(|_| video);
    let folder = match (&ffmpeg, video) {
        (Some(_), _) => tempfile_dir(out)?,
        (None, true) => out.with_extension(""),
        (None, false) => out.to_path_buf(),
    };
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let n = side * side;
    for k in 0..frames {
        let mut chw = Vec::with_capacity(3 * n);
        for c in 0..3 {
            let at = (c * frames + k) * n;
            chw.extend_from_slice(&clip[at..at + n]);
        }
        let img = image::RgbImage::from_raw(side as u32, side as u32, rgb_bytes(&chw, side)).context("frame size")?;
        crate::files::save_png_atomic(&folder.join(format!("frame_{k:04}.png")), &img)?;
    }
    let Some(ff) = ffmpeg else {
        let why = if video { " (no ffmpeg on PATH for a video)" } else { "" };
        return Ok(format!("wrote {frames} adversarial frames as PNGs to {}{why}", folder.display()));
    };
    let status = std::process::Command::new(&ff.ffmpeg)
        .args(["-y", "-loglevel", "error", "-framerate", &fps.to_string(), "-i"])
        .arg(folder.join("frame_%04d.png"))
        .args(["-c:v", "libx264", "-crf", "0", "-pix_fmt", "yuv444p"])
        .arg(out)
        .status()
        .context("cannot run ffmpeg")?;
    let _ = std::fs::remove_dir_all(&folder);
    if !status.success() {
        bail!("ffmpeg could not write {} ({status})", out.display());
    }
    Ok(format!("wrote {frames} adversarial frames to {} (lossless H.264 through ffmpeg)", out.display()))
}

/// A fresh folder beside `out` for the frames ffmpeg reads.
fn tempfile_dir(out: &Path) -> anyhow::Result<std::path::PathBuf> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = format!(".{}.frames-{}", out.file_name().map_or_else(|| "video".into(), |n| n.to_string_lossy().to_string()), std::process::id());
    Ok(parent.join(name))
}
