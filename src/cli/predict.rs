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
    let device = args.models.device()?;
    let clip = args.input.open()?;
    let models = args.models.load(&device)?;
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
