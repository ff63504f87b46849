//! `train --spec`: a model from a spec trained further. A Cnn14, a TAL-trans, an R(2+1)D-18 or
//! a pair of those is fine-tuned by its own loop and written back in its checkpoint's layout;
//! Tian & Xu's checkpoints start McGurk's own training.

use std::path::PathBuf;

use anyhow::Context;

use super::{Args, BackendArg, OptArg};
use crate::models::{FusionKind, Size};

/// `train --spec`: a model from a spec fine-tuned on the dataset's training split (its classes
/// found among the model's by name), measured on the held-out split each epoch.
pub(super) fn fine_tune(args: &Args, spec_path: &std::path::Path) -> anyhow::Result<()> {
    use crate::cli::spec_models::Subject;
    use crate::train::spec::{FineTune, Window};
    let own = [
        (args.resume, "--resume"),
        (args.half, "--half"),
        (args.dc_mixup, "--dc-mixup"),
        (args.adversarial, "--adversarial"),
        (args.similarity.is_some(), "--similarity"),
        (args.average_last > 0, "--average-last"),
        (args.mixup > 0.0, "--mixup"),
        (args.modality_dropout > 0.0, "--modality-dropout"),
        (args.samples_per_epoch > 0, "--samples-per-epoch"),
        (matches!(args.backend, BackendArg::Wgpu), "--backend wgpu"),
        (matches!(args.optimizer, OptArg::Sgd), "--optimizer sgd"),
    ];
    let asked: Vec<&str> = own.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
    if !asked.is_empty() {
        anyhow::bail!("train --spec fine-tunes with Adam on the clean clips: {} are for McGurk's own models", asked.join(", "));
    }
    let spec = crate::models::spec::ModelSpec::load(spec_path)?;
    let weights: Vec<(Option<String>, PathBuf)> = if args.weights.is_empty() { spec.weight_files(spec_path) } else { args.weights.iter().map(|w| crate::cli::inputs::part_and_file(w)).collect() };
    if weights.is_empty() {
        anyhow::bail!("--spec {}: give --weights (or name them in the spec's \"weights\")", spec_path.display());
    }
    let device = burn::prelude::Device::flex();
    let subject = Subject::load(spec_path, &weights, &device)?;
    // A pair that cannot be written back is refused before the clips are read.
    if let Subject::Pair(m) = &subject {
        m.export().map_err(|e| anyhow::anyhow!("train --spec {}: {e}", spec_path.display()))?;
    }
    let ds = args.dataset.open_as(true)?;
    for n in &ds.skipped {
        eprintln!("skipped: {n}");
    }
    let map = crate::cli::spec_models::class_map(&ds.classes, subject.classes()).map_err(anyhow::Error::msg).with_context(|| format!("{} against {}", args.dataset.data.display(), spec_path.display()))?;
    let read = |split: crate::data::Split| -> Vec<Window> {
        let items = ds.split(split);
        let mut out = Vec::new();
        for (k, item) in items.iter().enumerate() {
            match subject.example(&item.media, item.centre_s) {
                Ok(ex) => {
                    // What the model reads: its waveform, its frames, or both (sound first).
                    let input = match subject {
                        Subject::Sound(_) => ex.wave,
                        Subject::Video(_) => ex.pixels,
                        Subject::Pair(_) => ex.wave.into_iter().chain(ex.pixels).collect(),
                    };
                    out.push(Window { input, label: map[item.label] });
                }
                Err(e) => eprintln!("skipped: {e}"),
            }
            crate::cli::progress::count(&format!("decoding {split:?} clips").to_lowercase(), k + 1, items.len());
        }
        crate::cli::progress::end();
        out
    };
    let train = read(crate::data::Split::Train);
    let val = ds.validation_split().map(read).unwrap_or_default();
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let cfg = FineTune { epochs: args.epochs, lr: args.lr, batch: args.batch.max(1), seed: args.seed };
    let model_spec = subject.spec();
    eprintln!("fine-tuning {} on {} clips ({} held out), {} epochs", model_spec.name, train.len(), val.len(), cfg.epochs);
    let mut show = |e: &crate::train::spec::EpochLog, epoch: usize, of: usize| {
        let val = e.val_acc.map_or(String::new(), |v| format!(", held out {:.1}%", 100.0 * v));
        println!("epoch {epoch}/{of}: loss {:.4}, train {:.1}%{val} ({:.0} s)", e.train_loss, 100.0 * e.train_acc, e.seconds);
    };
    let cancel = crate::cli::interrupt::flag();
    let mut keys = None;
    let (mut st, log) = match &subject {
        Subject::Video(m) => crate::train::spec::fine_tune_video(m, &train, &val, &cfg, cancel, &mut show)?,
        Subject::Sound(m) => crate::train::spec::fine_tune(m, &train, &val, &cfg, cancel, &mut show)?,
        Subject::Pair(m) => {
            let (st, k, log) = crate::train::spec::fine_tune_pair(m, spec_path, &train, &val, &cfg, cancel, &mut show)?;
            keys = Some(k);
            (st, log)
        }
    };
    // Tensors stored in another shape of the same values (TAL-trans' FFN as 1x1 Conv1d
    // weights) are written back as the checkpoint had them.
    for (_, file) in &weights {
        let original = crate::models::spectrogram::read_weights(file)?;
        for (key, t) in &mut st.tensors {
            if let Some(o) = original.tensors.get(key)
                && o.shape != t.shape
                && o.shape.iter().product::<usize>() == t.shape.iter().product::<usize>()
            {
                t.shape.clone_from(&o.shape);
            }
        }
    }
    let name = args.name.clone().unwrap_or_else(|| format!("{}-fine-tuned", model_spec.name));
    let weights_out = args.out.join(format!("{name}.safetensors"));
    crate::files::write_atomic(&weights_out, &st.to_bytes(crate::models::safetensors::StoreAs::F32))?;
    let mut new_spec = model_spec.clone();
    new_spec.name = name.clone();
    // An audio-visual pair comes back as one file holding every part under these keys.
    if let Some(k) = keys {
        new_spec.keys = k;
    }
    new_spec.weights = Some(crate::models::spec::SpecWeights::One(PathBuf::from(format!("{name}.safetensors"))));
    let spec_out = args.out.join(format!("{name}.spec.json"));
    crate::files::write_atomic(&spec_out, serde_json::to_string_pretty(&new_spec)?.as_bytes())?;
    let weights: Vec<&PathBuf> = weights.iter().map(|(_, f)| f).collect();
    let doc = serde_json::json!({ "spec": spec_path, "weights": weights, "config": cfg, "train_clips": train.len(), "held_out_clips": val.len(), "epochs": log });
    crate::files::write_atomic(&args.out.join("train_log.json"), serde_json::to_string_pretty(&doc)?.as_bytes())?;
    println!("wrote {} and {}", weights_out.display(), spec_out.display());
    Ok(())
}

/// Where a fine-tuning of one of Tian & Xu's models starts.
pub(super) struct Start {
    pub(super) path: PathBuf,
    pub(super) fusion: FusionKind,
    pub(super) size: Size,
    pub(super) name: String,
}

/// For a spec of Tian & Xu's models (audio encoder `tian`): the model read from its
/// checkpoints, written to `--out` as a McGurk model file McGurk's training starts from. None
/// for other specs. The dataset's classes must be the model's, in order.
pub(super) fn tian_start(args: &Args, spec_path: &std::path::Path) -> anyhow::Result<Option<Start>> {
    use crate::models::spec::{Encoder, ModelSpec};
    let spec = ModelSpec::load(spec_path)?;
    if spec.is_pair() || spec.audio.as_ref().is_none_or(|a| a.encoder != Encoder::Tian) {
        return Ok(None);
    }
    let weights: Vec<(Option<String>, PathBuf)> = if args.weights.is_empty() {
        spec.weight_files(spec_path)
    } else {
        args.weights.iter().map(|w| crate::cli::inputs::part_and_file(w)).collect()
    };
    if weights.is_empty() {
        anyhow::bail!("--spec {}: give --weights (or name them in the spec's \"weights\")", spec_path.display());
    }
    let model = crate::models::tian_spec::load(spec_path, &spec, &weights, &burn::prelude::Device::flex())?;
    let size = [Size::Small, Size::Full].into_iter().find(|s| s.input() == model.info.input).with_context(|| {
        format!("{}: McGurk trains at {:?} or {:?}; the spec's input is {:?}", spec_path.display(), Size::Small.input(), Size::Full.input(), model.info.input)
    })?;
    let ds = args.dataset.open()?;
    let same = ds.classes.len() == model.info.classes.len() && ds.classes.iter().zip(&model.info.classes).all(|(a, b)| a.eq_ignore_ascii_case(b));
    if !same {
        anyhow::bail!("the dataset's classes {:?} are not the model's {:?} (same names, same order)", ds.classes, model.info.classes);
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let path = args.out.join("start.safetensors");
    crate::models::file::save(&path, &model.net, &model.info, crate::models::safetensors::StoreAs::F32, false)?;
    Ok(Some(Start { path, fusion: model.info.fusion, size, name: format!("{}-fine-tuned", spec.name) }))
}
