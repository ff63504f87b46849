//! `mcgurk predict`: top-k classes per model for one clip. `--json` is a stable contract:
//! `{"clip": ..., "time_s": ..., "models": [{"name", "fusion", "classes", "logits", "probs",
//! "top": [{"class", "index", "prob"}]}]}`.

use std::collections::BTreeMap;

use clap::Args as ClapArgs;
use serde_json::json;

use super::inputs::{ClipArgs, ModelArgs};
use crate::models::InputSize;
use crate::models::input::Example;
use crate::models::predict::predict;

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    input: ClipArgs,
    #[command(flatten)]
    models: ModelArgs,
    /// Time of the frame (and centre of the audio window), seconds; default the clip's centre.
    #[arg(long)]
    at: Option<f64>,
    #[arg(long, default_value_t = 3)]
    top: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some((spec, weights)) = args.models.pair_spec()? {
        return run_pair_model(args, &spec, &weights);
    }
    if let Some((spec, weights)) = args.models.spectrogram_spec()? {
        return run_spectrogram_model(args, &spec, &weights);
    }
    if let Some((spec, weights)) = args.models.video_spec()? {
        return run_video_model(args, &spec, &weights);
    }
    let device = args.models.device()?;
    let clip = args.input.open()?;
    let models = args.models.load(&device)?;
    let t = args.at.unwrap_or_else(|| Example::centre_time(&clip));
    let mut examples: BTreeMap<(usize, usize), Example> = BTreeMap::new();
    let mut docs = Vec::new();
    let mut warned = false;
    for m in &models {
        let InputSize { samples, pixels, .. } = m.info.input;
        let ex = examples.entry((samples, pixels)).or_insert_with(|| {
            let (ex, missing) = Example::from_clip(&clip, t, m.info.input);
            if !missing.is_empty() && !warned {
                eprintln!("warning: the clip has no {}; the models see silence / a grey frame there: {}", missing.join(" or "), clip.title());
                warned = true;
            }
            ex
        });
        let p = predict(m, ex, &device);
        // Weights that overflow give NaN or infinite logits: an error naming the model, not
        // `null`s with exit 0.
        if let Some(i) = p.logits.iter().position(|v| !v.is_finite()) {
            anyhow::bail!("model '{}' gives a non-finite logit ({}) for class '{}' on this clip: its weights are broken", m.info.name, p.logits[i], m.info.classes[i]);
        }
        let top: Vec<_> = p.top(args.top).map(|(i, prob)| json!({ "class": m.info.classes[i], "index": i, "prob": prob })).collect();
        if !args.json {
            let line: Vec<String> = p.top(args.top).map(|(i, prob)| format!("{} {:.1}%", m.info.classes[i], 100.0 * prob)).collect();
            println!("{:<14} {:<13} {}", m.info.name, m.info.fusion.label(), line.join("  "));
        }
        docs.push(json!({
            "name": m.info.name,
            "fusion": m.info.fusion.name(),
            "classes": m.info.classes,
            "logits": p.logits,
            "probs": p.probs,
            "top": top,
        }));
    }
    if args.json {
        let doc = json!({ "clip": clip.title(), "time_s": t, "models": docs });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(())
}

/// A spectrogram model from a spec: top-k, and for multi-label (sigmoid) models every class
/// above 0.5. JSON: `{"clip", "time_s", "models": [{"name", "output", "classes", "logits",
/// "probs", "top": [...], "above_half": [...]}]}`.
fn run_spectrogram_model(args: &Args, spec: &std::path::Path, weights: &std::path::Path) -> anyhow::Result<()> {
    use crate::models::spec::Output;
    use crate::models::spectrogram::SpectrogramModel;
    let device = args.models.device()?;
    let model = SpectrogramModel::load(spec, weights, &device)?;
    let clip = args.input.open_at_rate(model.sample_rate())?;
    let t = args.at.unwrap_or_else(|| Example::centre_time(&clip));
    let p = model.predict(&clip, t, &device).map_err(|e| anyhow::anyhow!("{e}: {}", weights.display()))?;
    let scores = Scores { name: &model.spec.name, classes: &model.classes, logits: p.logits, probs: p.probs, sigmoid: model.spec.output == Output::Sigmoid };
    report_scores(args, &clip.title(), t, &p.notes, &scores)
}

/// A video model (R(2+1)D-18) on the T frames around the moment.
fn run_video_model(args: &Args, spec: &std::path::Path, weights: &std::path::Path) -> anyhow::Result<()> {
    use crate::models::spec::Output;
    use crate::models::video::VideoModel;
    let device = args.models.device()?;
    let model = VideoModel::load(spec, weights, &device)?;
    let (clip, t) = args.input.open_for_video(&model, args.at)?;
    if clip.frames.is_empty() {
        anyhow::bail!("{} has no pictures for a video model", clip.title());
    }
    let (input, note) = model.input(&clip, t);
    let logits = model.logits(&input, &device);
    if logits.iter().any(|v| !v.is_finite()) {
        anyhow::bail!("the model gives non-finite outputs (damaged weights?): {}", weights.display());
    }
    let sigmoid = model.spec.output == Output::Sigmoid;
    let probs = crate::models::predict::probabilities(&logits, sigmoid);
    let notes: Vec<String> = note.into_iter().collect();
    let scores = Scores { name: &model.spec.name, classes: &model.classes, logits, probs, sigmoid };
    report_scores(args, &clip.title(), t, &notes, &scores)
}

/// An audio-visual model of two encoders on the sound and the frames around the moment.
fn run_pair_model(args: &Args, spec: &std::path::Path, weights: &[(Option<String>, std::path::PathBuf)]) -> anyhow::Result<()> {
    use crate::models::pair::PairModel;
    let device = args.models.device()?;
    let model = PairModel::load(spec, weights, &device)?;
    let (clip, t) = args.input.open_for_pair(&model, args.at)?;
    let (wave, pixels, notes) = model.input(&clip, t).map_err(anyhow::Error::msg)?;
    let logits = model.logits(&wave, &pixels, &device);
    if logits.iter().any(|v| !v.is_finite()) {
        anyhow::bail!("the model gives non-finite outputs (damaged weights?): {}", spec.display());
    }
    let sigmoid = model.sigmoid();
    let probs = crate::models::predict::probabilities(&logits, sigmoid);
    let scores = Scores { name: &model.spec.name, classes: &model.classes, logits, probs, sigmoid };
    report_scores(args, &clip.title(), t, &notes, &scores)
}

/// One foreign model's answer, as `predict` prints it.
struct Scores<'a> {
    name: &'a str,
    classes: &'a [String],
    logits: Vec<f32>,
    probs: Vec<f32>,
    sigmoid: bool,
}

fn report_scores(args: &Args, title: &str, t: f64, notes: &[String], s: &Scores) -> anyhow::Result<()> {
    for n in notes {
        eprintln!("note: {n}");
    }
    let mut order: Vec<usize> = (0..s.probs.len()).collect();
    order.sort_by(|a, b| s.probs[*b].total_cmp(&s.probs[*a]));
    let entry = |i: usize| json!({ "class": s.classes[i], "index": i, "prob": s.probs[i] });
    let top: Vec<_> = order.iter().take(args.top).map(|&i| entry(i)).collect();
    let above: Vec<usize> = if s.sigmoid { order.iter().copied().filter(|&i| s.probs[i] > 0.5).collect() } else { Vec::new() };
    if args.json {
        let doc = json!({ "clip": title, "time_s": t, "models": [{
            "name": s.name, "output": if s.sigmoid { "sigmoid" } else { "softmax" }, "classes": s.classes,
            "logits": s.logits, "probs": s.probs, "top": top, "above_half": above.iter().map(|&i| entry(i)).collect::<Vec<_>>(),
        }] });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let line: Vec<String> = order.iter().take(args.top).map(|&i| format!("{} {:.1}%", s.classes[i], 100.0 * s.probs[i])).collect();
        println!("{:<14} {}", s.name, line.join("  "));
        if s.sigmoid {
            let names: Vec<&str> = above.iter().map(|&i| s.classes[i].as_str()).collect();
            println!("{:<14} above 0.5: {}", "", if names.is_empty() { "none".to_string() } else { names.join(", ") });
        }
    }
    Ok(())
}
