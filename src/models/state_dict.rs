//! AvNet <-> a PyTorch `state_dict` of the reference layout (see the README, "Importing PyTorch
//! weights"): `audio.<i>.*` for Tian's `nn.Sequential` (convs at 0,3,7,10,14,17,21,24, each
//! BatchNorm right after), `visual.*` with torchvision's resnet18 names minus `fc`,
//! `fusion.alpha.*` for FiLM and `classifier.*`. Linear weights are [out, in] in PyTorch and
//! [in, out] in burn, so they are transposed on the way in and out.

use std::collections::{BTreeMap, BTreeSet};

use burn::module::{Param, ParamId, RunningState};
use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use burn::tensor::TensorData;

use super::safetensors::{SafeTensors, StoredTensor};
use super::visual::BasicBlock;
use super::{AvNet, FusionKind, Widths};

/// Indices of the convolutions in Tian's audio `nn.Sequential` (Figure 1).
pub const AUDIO_CONV_INDICES: [usize; 8] = [0, 3, 7, 10, 14, 17, 21, 24];

/// Why a state dict does not fit the reference layout. The caller adds the file name.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{0}")]
    Keys(String),
    #[error("fusion '{kind}' does not fit these weights: {why}")]
    Kind { kind: &'static str, why: String },
}

/// Key → param id, so that a resumed training run finds its optimizer state.
pub type ParamIds = BTreeMap<String, u64>;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().expect("a float tensor reads back as f32")
}

/// Everything the model holds, under reference names, plus the param ids.
pub fn export(net: &AvNet) -> (SafeTensors, ParamIds) {
    let mut w = Writer::default();
    if let Some(audio) = &net.audio {
        for (i, (conv, bn)) in audio.convs.iter().zip(&audio.norms).enumerate() {
            let c = AUDIO_CONV_INDICES[i];
            w.conv1d(&format!("audio.{c}"), conv);
            w.bn(&format!("audio.{}", c + 1), bn);
        }
    }
    if let Some(visual) = &net.visual {
        w.conv2d("visual.conv1", &visual.conv1);
        w.bn("visual.bn1", &visual.bn1);
        for (i, block) in visual.blocks.iter().enumerate() {
            let p = format!("visual.layer{}.{}", i / 2 + 1, i % 2);
            w.conv2d(&format!("{p}.conv1"), &block.conv1);
            w.bn(&format!("{p}.bn1"), &block.bn1);
            w.conv2d(&format!("{p}.conv2"), &block.conv2);
            w.bn(&format!("{p}.bn2"), &block.bn2);
            if let Some(d) = &block.downsample {
                w.conv2d(&format!("{p}.downsample.0"), &d.conv);
                w.bn(&format!("{p}.downsample.1"), &d.bn);
            }
        }
    }
    if let Some(alpha) = &net.fusion.alpha {
        w.linear("fusion.alpha", alpha);
    }
    w.linear("classifier", &net.classifier);
    (w.st, w.ids)
}

/// Writes a module's parameters into a state dict under PyTorch's names and shapes.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) st: SafeTensors,
    ids: ParamIds,
}

impl Writer {
    fn param<const D: usize>(&mut self, key: String, p: &Param<Tensor<D>>) {
        let t = p.val();
        self.ids.insert(key.clone(), p.id.val());
        self.st.insert(key, t.dims().to_vec(), values(t));
    }
    fn conv1d(&mut self, key: &str, c: &Conv1d) {
        self.param(format!("{key}.weight"), &c.weight);
        if let Some(b) = &c.bias {
            self.param(format!("{key}.bias"), b);
        }
    }
    pub(crate) fn conv2d(&mut self, key: &str, c: &Conv2d) {
        self.param(format!("{key}.weight"), &c.weight);
        if let Some(b) = &c.bias {
            self.param(format!("{key}.bias"), b);
        }
    }
    pub(crate) fn conv3d(&mut self, key: &str, c: &burn::nn::conv::Conv3d) {
        self.param(format!("{key}.weight"), &c.weight);
        if let Some(b) = &c.bias {
            self.param(format!("{key}.bias"), b);
        }
    }
    pub(crate) fn bn(&mut self, key: &str, bn: &BatchNorm) {
        self.param(format!("{key}.weight"), &bn.gamma);
        self.param(format!("{key}.bias"), &bn.beta);
        let (m, v) = (bn.running_mean.value(), bn.running_var.value());
        self.st.insert(format!("{key}.running_mean"), m.dims().to_vec(), values(m));
        self.st.insert(format!("{key}.running_var"), v.dims().to_vec(), values(v));
    }
    pub(crate) fn layer_norm(&mut self, key: &str, n: &burn::nn::LayerNorm) {
        self.param(format!("{key}.weight"), &n.gamma);
        if let Some(b) = &n.beta {
            self.param(format!("{key}.bias"), b);
        }
    }
    pub(crate) fn linear(&mut self, key: &str, l: &Linear) {
        let w = l.weight.val().transpose(); // burn [in, out] -> PyTorch [out, in]
        self.ids.insert(format!("{key}.weight"), l.weight.id.val());
        self.st.insert(format!("{key}.weight"), w.dims().to_vec(), values(w));
        if let Some(b) = &l.bias {
            self.param(format!("{key}.bias"), b);
        }
    }
}

/// What the tensors say about the network: encoder widths and the number of classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub audio: Option<Widths>,
    pub visual: Option<Widths>,
    pub has_alpha: bool,
    pub classes: usize,
}

fn dim0(st: &SafeTensors, key: &str) -> Option<usize> {
    st.tensors.get(key).and_then(|t| t.shape.first().copied())
}

/// Reads widths and classes from the tensors' shapes.
pub fn infer_shape(st: &SafeTensors) -> Result<Shape, LayoutError> {
    let audio = dim0(st, "audio.0.weight").map(|_| {
        Widths([0, 2, 4, 6].map(|b| dim0(st, &format!("audio.{}.weight", AUDIO_CONV_INDICES[b])).unwrap_or(0)))
    });
    let visual = dim0(st, "visual.conv1.weight").map(|_| {
        Widths([1, 2, 3, 4].map(|l| dim0(st, &format!("visual.layer{l}.0.conv1.weight")).unwrap_or(0)))
    });
    let classes = dim0(st, "classifier.weight").ok_or_else(|| {
        LayoutError::Keys(format!(
            "no 'classifier.weight' (the reference layout names the final linear layer 'classifier'); the file holds: {}",
            list(st.tensors.keys())
        ))
    })?;
    if audio.is_none() && visual.is_none() {
        return Err(LayoutError::Keys(format!(
            "neither 'audio.0.weight' nor 'visual.conv1.weight': no encoder in the reference layout; the file holds: {}",
            list(st.tensors.keys())
        )));
    }
    // The network is built from these numbers before any weight is read: bound them first.
    if !(1..=MAX_CLASSES).contains(&classes) {
        return Err(LayoutError::Keys(format!("'classifier.weight' declares {classes} classes (1 to {MAX_CLASSES} are read)")));
    }
    for (net, w) in [("audio", audio), ("visual", visual)] {
        if let Some(w) = w
            && let Some(d) = w.0.iter().find(|d| !(1..=MAX_WIDTH).contains(*d))
        {
            return Err(LayoutError::Keys(format!("the {net} net's widths {:?} include {d} (each must be 1 to {MAX_WIDTH})", w.0)));
        }
    }
    Ok(Shape { audio, visual, has_alpha: st.tensors.contains_key("fusion.alpha.weight"), classes })
}

/// Widest encoder stage a file may declare (ResNet-18 at full width has 512).
pub const MAX_WIDTH: usize = 4096;
/// Most classes a classifier may declare.
pub const MAX_CLASSES: usize = 100_000;

/// The fusion a file's tensors imply, when only one fits (FiLM is the one with `alpha`).
pub fn implied_kind(shape: &Shape) -> Option<FusionKind> {
    match (shape.audio.is_some(), shape.visual.is_some(), shape.has_alpha) {
        (true, false, _) => Some(FusionKind::AudioOnly),
        (false, true, _) => Some(FusionKind::VisualOnly),
        (true, true, true) => Some(FusionKind::Film),
        _ => None, // Sum, Concat, Gated-Sum and Gated-Concat have the same tensors
    }
}

fn list<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let keys: Vec<&str> = keys.map(String::as_str).collect();
    if keys.is_empty() { "(nothing)".into() } else { keys.join(", ") }
}

/// Builds the network of `kind` from a reference-layout state dict. Every expected key must be
/// there with its shape; keys the layout does not know are an error too (`num_batches_tracked`
/// excepted), so a mis-named file never loads half its weights silently. `ids` restores the
/// param ids of a checkpoint.
pub fn import(st: &SafeTensors, kind: FusionKind, ids: Option<&ParamIds>, device: &Device) -> Result<AvNet, LayoutError> {
    let shape = infer_shape(st)?;
    let kind_err = |why: &str| LayoutError::Kind { kind: kind.name(), why: why.to_string() };
    if kind.uses_audio() && shape.audio.is_none() {
        return Err(kind_err("it needs an audio net and the file has no 'audio.*' weights"));
    }
    if kind.uses_visual() && shape.visual.is_none() {
        return Err(kind_err("it needs a visual net and the file has no 'visual.*' weights"));
    }
    if (kind == FusionKind::Film) != shape.has_alpha {
        return Err(kind_err(if shape.has_alpha {
            "the file has FiLM's 'fusion.alpha' weights; use --fusion film"
        } else {
            "FiLM needs 'fusion.alpha.weight' and 'fusion.alpha.bias'"
        }));
    }
    let widths = match (kind.uses_audio().then_some(shape.audio).flatten(), kind.uses_visual().then_some(shape.visual).flatten()) {
        (Some(a), Some(v)) if a != v => {
            return Err(kind_err(&format!("audio widths {:?} and visual widths {:?} differ; f_a and f_v must match", a.0, v.0)));
        }
        (Some(w), _) | (None, Some(w)) => w,
        (None, None) => unreachable!("checked above"),
    };
    let mut net = AvNet::new(kind, widths, shape.classes, device);
    let mut r = Reader { st, ids, device: device.clone(), used: BTreeSet::new(), problems: Vec::new() };
    if let Some(audio) = &mut net.audio {
        for (i, (conv, bn)) in audio.convs.iter_mut().zip(audio.norms.iter_mut()).enumerate() {
            let c = AUDIO_CONV_INDICES[i];
            r.conv1d(&format!("audio.{c}"), conv);
            r.bn(&format!("audio.{}", c + 1), bn);
        }
    }
    if let Some(visual) = &mut net.visual {
        r.conv2d("visual.conv1", &mut visual.conv1);
        r.bn("visual.bn1", &mut visual.bn1);
        for (i, block) in visual.blocks.iter_mut().enumerate() {
            r.block(&format!("visual.layer{}.{}", i / 2 + 1, i % 2), block);
        }
    }
    if let Some(alpha) = &mut net.fusion.alpha {
        r.linear("fusion.alpha", alpha);
    }
    r.linear("classifier", &mut net.classifier);
    let unexpected: Vec<&String> = st
        .tensors
        .keys()
        .filter(|k| !r.used.contains(*k) && !k.ends_with(".num_batches_tracked"))
        .filter(|k| kind.uses_audio() || !k.starts_with("audio."))
        .filter(|k| kind.uses_visual() || !k.starts_with("visual."))
        .collect();
    if !unexpected.is_empty() {
        r.problems.push(format!("unexpected keys: {}", list(unexpected.into_iter())));
    }
    if !r.problems.is_empty() {
        return Err(LayoutError::Keys(r.problems.join("; ")));
    }
    Ok(net)
}

/// Reads a module's parameters from a state dict, key by key, checking each shape; collects
/// every problem so that one error lists them all.
pub(crate) struct Reader<'a> {
    st: &'a SafeTensors,
    ids: Option<&'a ParamIds>,
    device: Device,
    used: BTreeSet<String>,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(st: &'a SafeTensors, device: &Device) -> Self {
        Self { st, ids: None, device: device.clone(), used: BTreeSet::new(), problems: Vec::new() }
    }

    /// The first dimension of `key`'s tensor, if there is one.
    pub(crate) fn dim0(&self, key: &str) -> Option<usize> {
        dim0(self.st, key)
    }

    /// Done: every key read or `ignored`, no problem met.
    pub(crate) fn finish(mut self, ignored: impl Fn(&str) -> bool) -> Result<(), LayoutError> {
        let unexpected: Vec<&String> = self.st.tensors.keys().filter(|k| !self.used.contains(*k) && !k.ends_with(".num_batches_tracked") && !ignored(k)).collect();
        if !unexpected.is_empty() {
            self.problems.push(format!("unexpected keys: {}", list(unexpected.into_iter())));
        }
        if self.problems.is_empty() { Ok(()) } else { Err(LayoutError::Keys(self.problems.join("; "))) }
    }

    /// The tensor under `key` if its shape is `want`; records a problem otherwise.
    fn take<const D: usize>(&mut self, key: &str, want: [usize; D], transpose: bool) -> Option<Tensor<D>> {
        let Some(StoredTensor { shape, values }) = self.st.tensors.get(key) else {
            self.problems.push(format!("missing key '{key}' (shape {want:?})"));
            return None;
        };
        self.used.insert(key.to_string());
        let mut stored = want;
        if transpose {
            stored.swap(0, 1);
        }
        if shape.as_slice() != stored.as_slice() {
            self.problems.push(format!("'{key}' has shape {shape:?}, expected {stored:?}"));
            return None;
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            self.problems.push(format!("'{key}' holds a non-finite value ({}) at index {i}", values[i]));
            return None;
        }
        // Transpose on the host so the parameter is a leaf tensor (autodiff can track it).
        let data = if transpose {
            let (rows, cols) = (stored[0], stored[1]);
            let mut t = vec![0.0; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = values[r * cols + c];
                }
            }
            TensorData::new(t, want)
        } else {
            TensorData::new(values.clone(), want)
        };
        Some(Tensor::<D>::from_data(data, &self.device))
    }

    fn set<const D: usize>(&mut self, key: String, p: &mut Param<Tensor<D>>, transpose: bool) {
        if let Some(t) = self.take(&key, p.val().dims(), transpose) {
            // Trainable when loaded onto an autodiff device (a resumed run, a fine-tune).
            let t = if self.device.is_autodiff() { t.require_grad() } else { t };
            let id = self.ids.and_then(|ids| ids.get(&key)).map(|&id| ParamId::from(id));
            let (old, _, mapper) = p.clone().consume();
            *p = Param::from_mapped_value(id.unwrap_or(old), t, mapper);
        }
    }

    pub(crate) fn conv1d(&mut self, key: &str, c: &mut Conv1d) {
        self.set(format!("{key}.weight"), &mut c.weight, false);
        if let Some(b) = &mut c.bias {
            self.set(format!("{key}.bias"), b, false);
        }
    }

    pub(crate) fn conv2d(&mut self, key: &str, c: &mut Conv2d) {
        self.set(format!("{key}.weight"), &mut c.weight, false);
        if let Some(b) = &mut c.bias {
            self.set(format!("{key}.bias"), b, false);
        }
    }

    pub(crate) fn conv3d(&mut self, key: &str, c: &mut burn::nn::conv::Conv3d) {
        self.set(format!("{key}.weight"), &mut c.weight, false);
        if let Some(b) = &mut c.bias {
            self.set(format!("{key}.bias"), b, false);
        }
    }

    pub(crate) fn bn(&mut self, key: &str, bn: &mut BatchNorm) {
        self.set(format!("{key}.weight"), &mut bn.gamma, false);
        self.set(format!("{key}.bias"), &mut bn.beta, false);
        let dims = bn.running_mean.value().dims();
        if let Some(m) = self.take(&format!("{key}.running_mean"), dims, false) {
            bn.running_mean = RunningState::new(m);
        }
        let var_key = format!("{key}.running_var");
        // A negative variance makes every output NaN: refuse the file instead.
        if let Some(t) = self.st.tensors.get(&var_key)
            && let Some(i) = t.values.iter().position(|v| *v < 0.0)
        {
            self.problems.push(format!("'{var_key}' holds a negative variance ({}) at index {i}", t.values[i]));
            self.used.insert(var_key);
            return;
        }
        if let Some(v) = self.take(&var_key, dims, false) {
            bn.running_var = RunningState::new(v);
        }
    }

    fn block(&mut self, p: &str, block: &mut BasicBlock) {
        self.conv2d(&format!("{p}.conv1"), &mut block.conv1);
        self.bn(&format!("{p}.bn1"), &mut block.bn1);
        self.conv2d(&format!("{p}.conv2"), &mut block.conv2);
        self.bn(&format!("{p}.bn2"), &mut block.bn2);
        if let Some(d) = &mut block.downsample {
            self.conv2d(&format!("{p}.downsample.0"), &mut d.conv);
            self.bn(&format!("{p}.downsample.1"), &mut d.bn);
        }
    }

    pub(crate) fn layer_norm(&mut self, key: &str, n: &mut burn::nn::LayerNorm) {
        self.set(format!("{key}.weight"), &mut n.gamma, false);
        match &mut n.beta {
            Some(b) => self.set(format!("{key}.bias"), b, false),
            None => self.problems.push(format!("'{key}' has no bias in McGurk's layer norm")),
        }
    }

    pub(crate) fn linear(&mut self, key: &str, l: &mut Linear) {
        self.set(format!("{key}.weight"), &mut l.weight, true);
        if let Some(b) = &mut l.bias {
            self.set(format!("{key}.bias"), b, false);
        }
    }
}

/// One encoder of the reference layout from `st`, whose keys are the encoder's own (Tian's
/// `N.*` Sequential for `AudioOnly`, torchvision's ResNet-18 names for `VisualOnly`), for an
/// audio-visual model whose fusion and classifier are read elsewhere. Returns the encoder's
/// network with a placeholder classifier.
pub fn import_encoder(st: &SafeTensors, kind: FusionKind, device: &Device) -> Result<AvNet, LayoutError> {
    let (part, last) = match kind {
        FusionKind::AudioOnly => ("audio", format!("{}.weight", AUDIO_CONV_INDICES[7])),
        FusionKind::VisualOnly => ("visual", "layer4.0.conv1.weight".to_string()),
        _ => return Err(LayoutError::Keys(format!("{} is not one encoder", kind.name()))),
    };
    let width = dim0(st, &last).ok_or_else(|| LayoutError::Keys(format!("no '{last}': not the {part} encoder of the reference layout; the part holds: {}", list(st.tensors.keys()))))?;
    let mut own = SafeTensors::default();
    for (k, t) in &st.tensors {
        own.tensors.insert(format!("{part}.{k}"), t.clone());
    }
    own.tensors.insert("classifier.weight".into(), StoredTensor { shape: vec![1, width], values: vec![0.0; width] });
    own.tensors.insert("classifier.bias".into(), StoredTensor { shape: vec![1], values: vec![0.0] });
    import(&own, kind, None, device)
}
