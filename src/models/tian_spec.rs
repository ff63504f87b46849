//! Tian & Xu's audio-visual models from a spec and the checkpoints their code saves: one state
//! dict per part (`sound_best.pth`: the audio Sequential as `features.N.*`; `frame_best.pth`:
//! ResNet-18's children as `features.0..8`; `classifier_best.pth`: `fc1.*`), renamed into
//! McGurk's reference layout, the classifier's halves put in McGurk's Concat order when the
//! checkpoint reads (picture, sound), and the picture feature pooled as the spec says.

use std::path::{Path, PathBuf};

use burn::prelude::Device;

use super::file::{LoadedModel, MODEL_FORMAT_VERSION, ModelInfo};
use super::safetensors::{SafeTensors, StoredTensor};
use super::spec::{ModelSpec, SpecError};
use super::spectrogram::read_weights;
use super::{FusionKind, InputSize, Size};

/// The parts a state dict can be split into, as `--weights PART=FILE` names them.
pub const PARTS: [&str; 4] = ["audio", "visual", "fusion", "head"];

fn bad(path: &Path, detail: impl Into<String>) -> SpecError {
    SpecError { path: path.to_path_buf(), detail: detail.into() }
}

/// ResNet-18's children in Tian's `features` Sequential, by index.
fn resnet_child(index: &str) -> Option<&'static str> {
    Some(match index {
        "0" => "conv1",
        "1" => "bn1",
        "4" => "layer1",
        "5" => "layer2",
        "6" => "layer3",
        "7" => "layer4",
        _ => return None,
    })
}

/// A model file (`.safetensors`, `.pth`) or an audio-visual spec naming its weights (`.json`):
/// what the window's Add model, the class-wise window and `--model` accept.
pub fn load_path(path: &Path, fusion: Option<FusionKind>, device: &Device) -> Result<LoadedModel, String> {
    if path.extension().is_some_and(|e| e == "json") {
        load_file(path, device).map_err(|e| e.to_string())
    } else {
        super::file::load(path, fusion, device).map_err(|e| e.to_string())
    }
}

/// The audio-visual model a spec file describes, with the weights it names (the window's Add
/// model, a session's model list, `--model spec.json`).
pub fn load_file(spec_path: &Path, device: &Device) -> Result<LoadedModel, SpecError> {
    let spec = ModelSpec::load(spec_path)?;
    if spec.audio.as_ref().is_none_or(|a| a.encoder != super::spec::Encoder::Tian) {
        return Err(bad(spec_path, "the window and model lists take audio-visual specs (audio encoder tian) for now"));
    }
    let weights = spec.weight_files(spec_path);
    if weights.is_empty() {
        return Err(bad(spec_path, "weights: missing (the files, relative to the spec: \"weights\": {\"audio\": \"sound_best.pth\", ...})"));
    }
    load(spec_path, &spec, &weights, device)
}

/// The model of `spec` (its audio encoder `tian`) with `weights`: (part, file) pairs, a file
/// without a part holding every part.
pub fn load(spec_path: &Path, spec: &ModelSpec, weights: &[(Option<String>, PathBuf)], device: &Device) -> Result<LoadedModel, SpecError> {
    let kind = spec.fusion_kind().map_err(|e| bad(spec_path, e))?;
    let file_of = |part: &str| -> Result<&PathBuf, SpecError> {
        weights
            .iter()
            .find(|(p, _)| p.as_deref() == Some(part))
            .or_else(|| weights.iter().find(|(p, _)| p.is_none()))
            .map(|(_, f)| f)
            .ok_or_else(|| bad(spec_path, format!("no weights for the {part} part: give --weights {part}=FILE (or one file holding every part)")))
    };
    let mut st = SafeTensors::default();
    // One file may hold every part: each file is read once.
    let mut read: std::collections::HashMap<PathBuf, SafeTensors> = std::collections::HashMap::new();
    let mut take = |part: &str, prefix: &str, rename: &dyn Fn(&str) -> Option<String>| -> Result<(), SpecError> {
        let file = file_of(part)?;
        if !read.contains_key(file) {
            read.insert(file.clone(), read_weights(file)?);
        }
        let src = &read[file];
        let before = st.tensors.len();
        for (k, t) in &src.tensors {
            if let Some(rest) = k.strip_prefix(prefix)
                && let Some(name) = rename(rest)
            {
                st.tensors.insert(name, t.clone());
            }
        }
        if st.tensors.len() == before {
            return Err(bad(file, format!("no tensors under '{prefix}' for the {part} part (keys.{part} in the spec)")));
        }
        Ok(())
    };
    if kind.uses_audio() {
        take("audio", &spec.keys.audio, &|rest| Some(format!("audio.{rest}")))?;
    }
    if kind.uses_visual() {
        let prefix = spec.keys.visual.clone().unwrap_or_else(|| "visual.".into());
        take("visual", &prefix, &|rest| {
            let (first, tail) = rest.split_once('.')?;
            // Tian's Sequential of children, or torchvision's own names (its fc left out).
            match resnet_child(first) {
                Some(child) => Some(format!("visual.{child}.{tail}")),
                None if first.parse::<usize>().is_ok() || first == "fc" => None,
                None => Some(format!("visual.{rest}")),
            }
        })?;
    }
    if kind == FusionKind::Film {
        let prefix = spec.keys.fusion.clone().unwrap_or_else(|| "fusion.".into());
        take("fusion", &prefix, &|rest| Some(format!("fusion.{rest}")))?;
    }
    take("head", &spec.keys.head, &|rest| matches!(rest, "weight" | "bias").then(|| format!("classifier.{rest}")))?;
    let head_file = file_of("head")?.clone();
    if spec.concat_order.as_ref().is_some_and(|o| o.first().map(String::as_str) == Some("visual")) {
        swap_concat_halves(&mut st).map_err(|e| bad(&head_file, e))?;
    }
    let audio = spec.audio.as_ref().ok_or_else(|| bad(spec_path, "audio: missing"))?;
    // Layout errors list the keys (renamed into the reference layout) and name the spec.
    let mut net = super::state_dict::import(&st, kind, None, device).map_err(|e| bad(spec_path, format!("the weights do not fit: {e}")))?;
    if let (Some(v), Some(vs)) = (net.visual.as_mut(), spec.visual.as_ref()) {
        v.pool = vs.pool;
    }
    let input = InputSize::new(audio.samples, spec.visual.as_ref().map_or(Size::Full.input().pixels, |v| v.size));
    let classes = spec.classes.names();
    let outputs = net.classifier.weight.val().dims()[1];
    if outputs != classes.len() {
        return Err(bad(spec_path, format!("classes: {} but the classifier has {outputs} outputs", classes.len())));
    }
    let info = ModelInfo { name: spec.name.clone(), fusion: kind, classes, input, format_version: MODEL_FORMAT_VERSION };
    Ok(LoadedModel { net, info })
}

/// A (picture, sound) Concat classifier made McGurk's (sound, picture): each row's two blocks
/// exchanged. The audio width is the last audio convolution's output channels.
fn swap_concat_halves(st: &mut SafeTensors) -> Result<(), String> {
    let audio_width = st
        .tensors
        .iter()
        .filter_map(|(k, t)| {
            let index: usize = k.strip_prefix("audio.")?.strip_suffix(".weight")?.parse().ok()?;
            (t.shape.len() == 3).then_some((index, t.shape[0]))
        })
        .max()
        .map(|(_, w)| w)
        .ok_or("no audio convolution to size the classifier's halves")?;
    let w: &mut StoredTensor = st.tensors.get_mut("classifier.weight").ok_or("classifier weight missing")?;
    let [rows, cols] = w.shape[..] else { return Err(format!("classifier weight of shape {:?}", w.shape)) };
    if audio_width >= cols {
        return Err(format!("classifier reads {cols} features, the audio net gives {audio_width}"));
    }
    let visual_width = cols - audio_width;
    for r in 0..rows {
        let row = &mut w.values[r * cols..(r + 1) * cols];
        row.rotate_left(visual_width);
    }
    Ok(())
}
