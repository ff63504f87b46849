//! `mcgurk predict`: top-k classes per model for one clip. `--json` is a stable contract:
//! `{"clip": ..., "time_s": ..., "models": [{"name", "fusion", "classes", "logits", "probs",
//! "top": [{"class", "index", "prob"}]}]}`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args as ClapArgs;
use serde_json::json;

use super::train::FusionArg;
use crate::media::{self, Job, LoadOptions};
use crate::models::input::Example;
use crate::models::predict::predict;
use crate::models::{FusionKind, InputSize, LoadedModel, file, zoo};

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// A video (or audio, or image) file; or give --audio and --image instead.
    clip: Option<PathBuf>,
    #[arg(long, requires = "image", conflicts_with = "clip")]
    audio: Option<PathBuf>,
    #[arg(long, requires = "audio", conflicts_with = "clip")]
    image: Option<PathBuf>,
    /// Demo-zoo models by name (sum, concat, film, gated_sum, gated_concat, audio, visual) or
    /// model files (.safetensors); repeatable. Default: the whole zoo, unless --weights is given.
    #[arg(long = "model")]
    models: Vec<String>,
    /// A PyTorch state dict in the reference layout (safetensors).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// The fusion of --weights, when the file does not say.
    #[arg(long, value_enum)]
    fusion: Option<FusionArg>,
    /// Time of the frame (and centre of the audio window), seconds; default the clip's centre.
    #[arg(long)]
    at: Option<f64>,
    #[arg(long, default_value_t = 3)]
    top: usize,
    #[arg(long)]
    json: bool,
}

fn load_models(args: &Args, device: &burn::prelude::Device) -> anyhow::Result<Vec<LoadedModel>> {
    let mut out = Vec::new();
    let wanted: Vec<String> = if args.models.is_empty() && args.weights.is_none() {
        zoo::ZOO.iter().map(|e| e.name.to_string()).collect()
    } else {
        args.models.clone()
    };
    for m in &wanted {
        let path = PathBuf::from(m);
        if path.extension().is_some_and(|e| e == "safetensors") || path.is_file() {
            out.push(file::load(&path, None, device)?);
        } else {
            let entry = zoo::find(m).with_context(|| {
                format!("no demo model '{m}' (known: sum, concat, film, gated_sum, gated_concat, audio, visual; or give a .safetensors path)")
            })?;
            out.push(entry.load(device)?);
        }
    }
    if let Some(w) = &args.weights {
        out.push(file::load(w, args.fusion.map(FusionKind::from), device)?);
    }
    Ok(out)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let device = burn::prelude::Device::flex();
    let opts = LoadOptions::default();
    let job = Job::detached();
    let clip = match (&args.clip, &args.audio, &args.image) {
        (Some(c), _, _) => media::open(c, &opts, &job)?,
        (None, Some(a), Some(i)) => media::open_pair(a, i, &opts, &job)?,
        _ => bail!("give a CLIP, or --audio FILE --image FILE"),
    };
    let models = load_models(args, &device)?;
    let t = args.at.unwrap_or_else(|| Example::centre_time(&clip));
    let mut examples: BTreeMap<(usize, usize), Example> = BTreeMap::new();
    let mut docs = Vec::new();
    let mut warned = false;
    for m in &models {
        let InputSize { samples, pixels } = m.info.input;
        let ex = examples.entry((samples, pixels)).or_insert_with(|| {
            let (ex, missing) = Example::from_clip(&clip, t, m.info.input);
            if !missing.is_empty() && !warned {
                eprintln!("warning: the clip has no {}; the models see silence / a grey frame there: {}", missing.join(" or "), clip.title());
                warned = true;
            }
            ex
        });
        let p = predict(m, ex, &device);
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
