//! What makes two evaluation runs the same run: the clips of the split (their ids, sorted), the
//! models (names and a hash of their weights), the attack and its settings. Every shard file
//! starts with it; a resumed shard and `eval merge` refuse files whose identity differs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::attacks::{AttackConfig, Method};
use crate::data::{Item, Media};
use crate::models::LoadedModel;

/// The version of the results files' layout.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelId {
    pub name: String,
    pub fusion: String,
    pub uses_audio: bool,
    pub uses_visual: bool,
    /// FNV-1a 64 of the weights in the reference layout and the description (and ExFMem's banks).
    pub hash: String,
}

impl ModelId {
    pub fn of(m: &LoadedModel) -> Self {
        let (st, _) = crate::models::state_dict::export(&m.net);
        let mut bytes = st.to_bytes(crate::models::safetensors::StoreAs::F32);
        bytes.extend(serde_json::to_vec(&m.info).unwrap_or_default());
        if let Some(x) = &m.net.exfmem {
            bytes.extend(format!("exfmem {} {}", x.lambda, x.iterations).as_bytes());
            for bank in [&x.audio, &x.visual].into_iter().flatten() {
                bytes.extend(bank.rows.iter().flat_map(|v| v.to_le_bytes()));
            }
        }
        Self {
            name: m.info.name.clone(),
            fusion: m.info.fusion.name().into(),
            uses_audio: m.info.fusion.uses_audio(),
            uses_visual: m.info.fusion.uses_visual(),
            hash: format!("{:016x}", crate::files::fnv64(&bytes)),
        }
    }
}

/// One attack setting of the run: the budget at a multiple of eps, or the FGSM check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    pub scale: f32,
    /// FGSM at eps x1, to check that the iterative attack is at least as strong.
    pub fgsm_check: bool,
}

impl Setting {
    pub fn scale(scale: f32) -> Self {
        Self { name: format!("x{scale}"), scale, fgsm_check: false }
    }

    pub fn fgsm_check() -> Self {
        Self { name: "fgsm".into(), scale: 1.0, fgsm_check: true }
    }

    /// The attack this setting runs.
    pub fn config(&self, base: &AttackConfig) -> AttackConfig {
        AttackConfig {
            eps_a: base.eps_a * self.scale,
            eps_v: base.eps_v * self.scale,
            method: if self.fgsm_check { Method::Fgsm } else { base.method },
            ..base.clone()
        }
    }
}

/// How universal perturbations were fitted (the same whether fitted in the run or read from
/// `--universal-from`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniversalId {
    pub fit_split: String,
    pub fit_clips: usize,
    pub epochs: usize,
    /// FNV-1a 64 of the perturbations.
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    pub format: u32,
    pub split: String,
    pub classes: Vec<String>,
    /// Clips in the evaluated split (after `--limit`), all shards together.
    pub clips: usize,
    /// FNV-1a 64 of the sorted clip ids.
    pub clip_ids: String,
    pub models: Vec<ModelId>,
    pub attack: AttackConfig,
    pub settings: Vec<Setting>,
    pub universal: Option<UniversalId>,
    pub exfmem_views: Option<usize>,
    pub baseline: Option<String>,
    /// For a model read from a spec: how its outputs are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecRun>,
}

/// How a spec model's outputs make the table: the dataset's classes among its own, sigmoid or
/// softmax, what was attacked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecRun {
    /// The model's index of each dataset class.
    pub map: Vec<usize>,
    pub sigmoid: bool,
    /// "waveform", "frames" or "waveform and frames".
    pub input: String,
    /// Whether SNR and PSNR are reported (the model hears; it sees).
    pub hears: bool,
    pub sees: bool,
}

impl RunIdentity {
    /// The first field in which `other` differs, with both values, for an error message.
    pub fn difference(&self, other: &Self) -> Option<String> {
        let (a, b) = (serde_json::to_value(self).ok()?, serde_json::to_value(other).ok()?);
        let (a, b) = (a.as_object()?, b.as_object()?);
        a.iter().find(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| {
            let show = |v: Option<&serde_json::Value>| {
                let s = v.map_or("nothing".to_string(), |v| v.to_string());
                if s.len() > 120 { format!("{}...", &s[..s.floor_char_boundary(117)]) } else { s }
            };
            format!("{k}: {} here, {} there", show(Some(v)), show(b.get(k)))
        })
    }
}

/// A clip of the split with its id: its path within the dataset folder (and the event time when
/// the dataset names one), unique.
#[derive(Clone, Debug)]
pub struct Clip<'a> {
    pub id: String,
    pub item: &'a Item,
}

/// The items sorted by id, duplicates numbered (`#2`, `#3`): the order every shard agrees on.
pub fn sorted_clips<'a>(root: &Path, items: &[&'a Item]) -> Vec<Clip<'a>> {
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_string_lossy().replace('\\', "/");
    let mut clips: Vec<Clip> = items
        .iter()
        .map(|item| {
            let mut id = match &item.media {
                Media::File(p) => rel(p),
                Media::Pair { audio, image } => format!("{} + {}", rel(audio), rel(image)),
            };
            if let Some(t) = item.centre_s {
                id += &format!("@{t:.3}");
            }
            Clip { id, item }
        })
        .collect();
    clips.sort_by(|a, b| a.id.cmp(&b.id));
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for c in &mut clips {
        let n = seen.entry(c.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.id = format!("{}#{n}", c.id);
        }
    }
    clips
}

/// The hash of the clip ids, in order.
pub fn hash_ids(clips: &[Clip]) -> String {
    let mut bytes = Vec::new();
    for c in clips {
        bytes.extend(c.id.as_bytes());
        bytes.push(b'\n');
        bytes.extend(c.item.label.to_le_bytes());
    }
    format!("{:016x}", crate::files::fnv64(&bytes))
}
