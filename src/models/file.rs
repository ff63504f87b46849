//! Model files: a safetensors state dict in the PyTorch reference layout, plus what McGurk needs
//! to run it (fusion, class names, input size) in the file's `__metadata__` under "mcgurk".
//! Plain PyTorch exports have no such metadata: the fusion then comes from the caller (or the
//! tensors, when only one fusion fits) and class names from an optional JSON beside the file.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::safetensors::{FormatError, SafeTensors, StoreAs};
use super::state_dict::{self, LayoutError, ParamIds};
use super::{AvNet, FusionKind, InputSize, Size};

/// Bumped when the metadata changes meaning; older versions are read by `ModelInfo::migrate`.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// What a model file says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub fusion: FusionKind,
    pub classes: Vec<String>,
    pub input: InputSize,
    #[serde(default = "current_version")]
    pub format_version: u32,
}

fn current_version() -> u32 {
    MODEL_FORMAT_VERSION
}

/// A network ready to run, with its description.
#[derive(Debug)]
pub struct LoadedModel {
    pub net: AvNet,
    pub info: ModelInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model file: {error}: {}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("not a safetensors model file ({error}): {}", path.display())]
    Format { path: PathBuf, error: FormatError },
    #[error("PyTorch checkpoint: {error}: {}", path.display())]
    Pth { path: PathBuf, error: super::pth::PthError },
    #[error("weights do not match the reference layout: {error}: {}", path.display())]
    Layout { path: PathBuf, error: LayoutError },
    #[error("{} looks like {what}: McGurk reads it through a model spec. Save this as a .json file, check it, and give it with --spec (README, \"Spectrogram models\"):\n{spec}", path.display())]
    Foreign { path: PathBuf, what: &'static str, spec: String },
    #[error(
        "cannot tell the fusion from the weights (sum, concat, gated_sum and gated_concat have the \
         same tensors); pass --fusion: {}",
        path.display()
    )]
    AmbiguousFusion { path: PathBuf },
    #[error("the file says fusion '{stored}' but '{asked}' was asked for: {}", path.display())]
    FusionMismatch { path: PathBuf, stored: &'static str, asked: &'static str },
    #[error("bad class names ({detail}): {}", path.display())]
    ClassNames { path: PathBuf, detail: String },
    #[error("bad McGurk metadata ({detail}): {}", path.display())]
    Metadata { path: PathBuf, detail: String },
}

/// Where optional class names for `weights` live: `name.json` beside `name.safetensors`.
pub fn class_names_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// The largest model file read (full-size models are about 50 MB).
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Loads a model file; `fusion` is required only when neither metadata nor tensors decide it.
pub fn load(path: &Path, fusion: Option<FusionKind>, device: &Device) -> Result<LoadedModel, ModelError> {
    let bytes = crate::files::read_regular(path, MAX_MODEL_BYTES).map_err(|error| ModelError::Io { path: path.into(), error })?;
    let name = path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let sidecar = class_names_path(path);
    let classes = if sidecar.is_file() { Some(read_class_names(&sidecar)?) } else { None };
    from_bytes(&bytes, path, &name, fusion, classes, device).map(|(m, _)| m)
}

/// Loads from memory (the shipped demo zoo); `path` only names the source in errors.
pub fn from_bytes(
    bytes: &[u8],
    path: &Path,
    name: &str,
    fusion: Option<FusionKind>,
    classes: Option<Vec<String>>,
    device: &Device,
) -> Result<(LoadedModel, ParamIds), ModelError> {
    // A PyTorch checkpoint (torch.save's zip, or the format before 1.6, refused with advice).
    let st = if super::pth::looks_like(bytes) {
        let mut st = super::pth::read(bytes).map_err(|error| ModelError::Pth { path: path.into(), error })?;
        st.drop_data_parallel_prefix();
        st
    } else {
        SafeTensors::parse(bytes).map_err(|error| ModelError::Format { path: path.into(), error })?
    };
    let layout = |error| ModelError::Layout { path: path.into(), error };
    let stored: Option<ModelInfo> = match st.metadata.get("mcgurk") {
        Some(json) => Some(
            serde_json::from_str(json).map_err(|e| ModelError::Metadata { path: path.into(), detail: e.to_string() })?,
        ),
        None => None,
    };
    if let Some(info) = &stored
        && info.format_version > MODEL_FORMAT_VERSION
    {
        return Err(ModelError::Metadata {
            path: path.into(),
            detail: format!("format version {} is newer than this McGurk ({MODEL_FORMAT_VERSION}); update McGurk", info.format_version),
        });
    }
    let shape = match state_dict::infer_shape(&st) {
        Ok(s) => s,
        // A checkpoint of a model McGurk reads through a spec: say what to write.
        Err(e) => {
            return Err(match super::spec_hint::suggest(&st) {
                Some((what, spec)) => ModelError::Foreign { path: path.into(), what, spec },
                None => layout(e),
            });
        }
    };
    let kind = match (fusion, stored.as_ref().map(|i| i.fusion)) {
        (Some(asked), Some(stored)) if asked != stored => {
            return Err(ModelError::FusionMismatch { path: path.into(), stored: stored.name(), asked: asked.name() });
        }
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => state_dict::implied_kind(&shape).ok_or_else(|| ModelError::AmbiguousFusion { path: path.into() })?,
    };
    let ids: Option<ParamIds> = st.metadata.get("param_ids").and_then(|j| serde_json::from_str(j).ok());
    let net = state_dict::import(&st, kind, ids.as_ref(), device).map_err(layout)?;
    let classes = match classes.or_else(|| stored.as_ref().map(|i| i.classes.clone())) {
        Some(c) if c.len() != shape.classes => {
            return Err(ModelError::ClassNames {
                path: class_names_path(path),
                detail: format!("{} names for a classifier with {} outputs", c.len(), shape.classes),
            });
        }
        Some(c) => c,
        None => (0..shape.classes).map(|i| format!("class {i}")).collect(),
    };
    let input = stored.as_ref().map_or(Size::Full.input(), |i| i.input);
    check_input(input).map_err(|detail| ModelError::Metadata { path: path.into(), detail })?;
    let info = ModelInfo { name: name.to_string(), fusion: kind, classes, input, format_version: MODEL_FORMAT_VERSION };
    Ok((LoadedModel { net, info }, ids.unwrap_or_default()))
}

/// The input size a file's metadata declares must be one the networks can run: enough samples
/// and pixels for every stride, few enough to allocate.
pub fn check_input(input: InputSize) -> Result<(), String> {
    const SAMPLES: std::ops::RangeInclusive<usize> = 8_000..=(1 << 20);
    const PIXELS: std::ops::RangeInclusive<usize> = 32..=1024;
    if !SAMPLES.contains(&input.samples) {
        return Err(format!("input.samples = {} (McGurk runs {} to {})", input.samples, SAMPLES.start(), SAMPLES.end()));
    }
    if !PIXELS.contains(&input.pixels) {
        return Err(format!("input.pixels = {} (McGurk runs {} to {})", input.pixels, PIXELS.start(), PIXELS.end()));
    }
    Ok(())
}

/// Class names: a JSON array of strings, or an object with a "classes" array.
pub fn read_class_names(path: &Path) -> Result<Vec<String>, ModelError> {
    let bad = |detail: String| ModelError::ClassNames { path: path.into(), detail };
    let text = crate::files::read_regular_text(path, crate::files::MAX_LIST_BYTES).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let list = value.get("classes").unwrap_or(&value);
    serde_json::from_value::<Vec<String>>(list.clone())
        .map_err(|_| bad("expected a JSON array of strings, or {\"classes\": [...]}".into()))
}

/// The file's bytes: reference-layout tensors plus metadata (and param ids, for resuming).
pub fn to_bytes(net: &AvNet, info: &ModelInfo, store: StoreAs, keep_ids: bool) -> Vec<u8> {
    let (mut st, ids) = state_dict::export(net);
    st.metadata.insert("mcgurk".into(), serde_json::to_string(info).expect("serialisable"));
    if keep_ids {
        st.metadata.insert("param_ids".into(), serde_json::to_string(&ids).expect("serialisable"));
    }
    st.to_bytes(store)
}

/// Writes atomically (temp file + rename).
pub fn save(path: &Path, net: &AvNet, info: &ModelInfo, store: StoreAs, keep_ids: bool) -> anyhow::Result<()> {
    crate::files::write_atomic(path, &to_bytes(net, info, store, keep_ids))
}
