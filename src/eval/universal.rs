//! Universal perturbations (Li et al.) for an evaluation: per model, setting and attacked
//! modality one perturbation, fitted once on a split and added unchanged to every clip. Saved as
//! safetensors (`--save-universal`) so that every shard of a sharded run adds the same ones
//! (`--universal-from`) instead of fitting them again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::identity::{ModelId, Setting, UniversalId};
use crate::attacks::{AttackConfig, Modality, universal};
use crate::data::prepare::Prepared;
use crate::models::LoadedModel;
use crate::models::safetensors::{SafeTensors, StoreAs};

pub const MODALITIES: [(Modality, &str); 3] = [(Modality::Audio, "audio"), (Modality::Video, "video"), (Modality::Both, "both")];

/// The perturbations, keyed by model index, setting name and modality: (audio, pixels).
#[derive(Clone, Debug)]
pub struct UniversalSet {
    pub id: UniversalId,
    pub models: Vec<ModelId>,
    pub attack: AttackConfig,
    deltas: BTreeMap<String, (Vec<f32>, Vec<f32>)>,
}

fn key(model: usize, setting: &str, modality: &str) -> String {
    format!("{model}/{setting}/{modality}")
}

#[derive(Debug, thiserror::Error)]
pub enum UniversalError {
    #[error("cannot read universal perturbations: {detail}: {}", path.display())]
    Read { path: PathBuf, detail: String },
    #[error("the universal perturbations do not fit this run ({detail}): {}", path.display())]
    Mismatch { path: PathBuf, detail: String },
}

/// Fits every model's perturbations for every setting on `fit`; `fitting(model, setting)` is
/// called before each fit, which takes a while.
pub fn fit(
    models: &[LoadedModel],
    ids: &[ModelId],
    fit: &[&Prepared],
    fit_split: &str,
    settings: &[Setting],
    base: &AttackConfig,
    epochs: usize,
    fitting: &mut dyn FnMut(usize, &Setting),
) -> UniversalSet {
    let mut deltas = BTreeMap::new();
    for (mi, m) in models.iter().enumerate() {
        let size = m.info.input;
        let examples: Vec<_> = fit.iter().map(|p| p.example(size, None)).collect();
        let labels: Vec<usize> = fit.iter().map(|p| p.label).collect();
        for s in settings {
            let cfg = s.config(base);
            if cfg.eps_a != 0.0 || cfg.eps_v != 0.0 {
                fitting(mi, s);
            }
            for (modality, name) in MODALITIES {
                let d = if cfg.eps_a == 0.0 && cfg.eps_v == 0.0 {
                    // A zero budget fits a zero perturbation: no passes needed (the x0 of a sweep).
                    (vec![0.0; size.samples], vec![0.0; size.pixel_values()])
                } else {
                    universal(&m.net, &examples, &labels, &AttackConfig { modality, ..cfg.clone() }, epochs)
                };
                deltas.insert(key(mi, &s.name, name), d);
            }
        }
    }
    let id = UniversalId { fit_split: fit_split.into(), fit_clips: fit.len(), epochs, hash: hash(&deltas) };
    UniversalSet { id, models: ids.to_vec(), attack: base.clone(), deltas }
}

fn hash(deltas: &BTreeMap<String, (Vec<f32>, Vec<f32>)>) -> String {
    let mut h = crate::files::Fnv::default();
    for (k, (a, v)) in deltas {
        h.update(k.as_bytes());
        for x in a.iter().chain(v) {
            h.update(&x.to_le_bytes());
        }
    }
    format!("{:016x}", h.value())
}

impl UniversalSet {
    /// The perturbation for model `model`, `setting` and `modality`.
    pub fn get(&self, model: usize, setting: &str, modality: Modality) -> Option<(&[f32], &[f32])> {
        let name = MODALITIES.iter().find(|(m, _)| *m == modality)?.1;
        self.deltas.get(&key(model, setting, name)).map(|(a, v)| (a.as_slice(), v.as_slice()))
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut st = SafeTensors::default();
        for (k, (a, v)) in &self.deltas {
            st.insert(format!("{k}/audio"), vec![a.len()], a.clone());
            st.insert(format!("{k}/pixels"), vec![v.len()], v.clone());
        }
        st.metadata.insert("mcgurk".into(), "universal perturbations".into());
        st.metadata.insert("universal".into(), serde_json::to_string(&self.id)?);
        st.metadata.insert("models".into(), serde_json::to_string(&self.models)?);
        st.metadata.insert("attack".into(), serde_json::to_string(&self.attack)?);
        crate::files::write_atomic(path, &st.to_bytes(StoreAs::F32))
    }

    pub fn load(path: &Path) -> Result<Self, UniversalError> {
        let read = |detail: String| UniversalError::Read { path: path.into(), detail };
        let bytes = crate::files::read_regular(path, 4 << 30).map_err(|e| read(e.to_string()))?;
        let st = SafeTensors::parse(&bytes).map_err(|e| read(e.to_string()))?;
        if st.metadata.get("mcgurk").map(String::as_str) != Some("universal perturbations") {
            return Err(read("not a file written by `eval --save-universal`".into()));
        }
        let meta = |k: &str| st.metadata.get(k).ok_or_else(|| read(format!("metadata '{k}' missing")));
        let json = |k: &str, e: serde_json::Error| read(format!("metadata '{k}': {e}"));
        let mut id: UniversalId = serde_json::from_str(meta("universal")?).map_err(|e| json("universal", e))?;
        let models: Vec<ModelId> = serde_json::from_str(meta("models")?).map_err(|e| json("models", e))?;
        let attack: AttackConfig = serde_json::from_str(meta("attack")?).map_err(|e| json("attack", e))?;
        let mut deltas = BTreeMap::new();
        for (name, t) in &st.tensors {
            let Some(k) = name.strip_suffix("/audio") else { continue };
            let pixels = st.tensors.get(&format!("{k}/pixels")).ok_or_else(|| read(format!("'{k}/pixels' missing")))?;
            deltas.insert(k.to_string(), (t.values.clone(), pixels.values.clone()));
        }
        if hash(&deltas) != id.hash {
            return Err(read("the perturbations do not match the hash in their metadata".into()));
        }
        id.hash = hash(&deltas);
        Ok(Self { id, models, attack, deltas })
    }

    /// Whether these perturbations were fitted for `models` under `attack`, for every setting
    /// and with the models' input sizes.
    pub fn check(&self, path: &Path, models: &[LoadedModel], ids: &[ModelId], attack: &AttackConfig, settings: &[Setting]) -> Result<(), UniversalError> {
        let mismatch = |detail: String| UniversalError::Mismatch { path: path.into(), detail };
        if self.models != ids {
            let names = |m: &[ModelId]| m.iter().map(|m| format!("{} ({})", m.name, m.hash)).collect::<Vec<_>>().join(", ");
            return Err(mismatch(format!("fitted for {}, this run has {}", names(&self.models), names(ids))));
        }
        if &self.attack != attack {
            return Err(mismatch(format!("fitted under {:?}, this run attacks with {:?}", self.attack, attack)));
        }
        for (mi, m) in models.iter().enumerate() {
            for s in settings {
                for (modality, name) in MODALITIES {
                    let Some((a, v)) = self.get(mi, &s.name, modality) else {
                        return Err(mismatch(format!("none for model {} at eps {} ({name})", m.info.name, s.name)));
                    };
                    if a.len() != m.info.input.samples || v.len() != m.info.input.pixel_values() {
                        return Err(mismatch(format!("model {}'s input is another size", m.info.name)));
                    }
                }
            }
        }
        Ok(())
    }
}
