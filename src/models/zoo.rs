//! The shipped demo zoo: seven small models trained on the farm-animal data by
//! `assets/models/train_zoo.sh` (see `assets/models/README.md`), embedded in the binary so the
//! app works with no download.

use std::path::Path;

use burn::prelude::*;

use super::file::{self, ModelError};
use super::{FusionKind, LoadedModel};

pub struct ZooEntry {
    pub name: &'static str,
    pub fusion: FusionKind,
    pub bytes: &'static [u8],
}

macro_rules! entry {
    ($name:literal, $kind:expr) => {
        ZooEntry { name: $name, fusion: $kind, bytes: include_bytes!(concat!("../../assets/models/", $name, ".safetensors")) }
    };
}

pub const ZOO: [ZooEntry; 7] = [
    entry!("sum", FusionKind::Sum),
    entry!("concat", FusionKind::Concat),
    entry!("film", FusionKind::Film),
    entry!("gated_sum", FusionKind::GatedSum),
    entry!("gated_concat", FusionKind::GatedConcat),
    entry!("audio", FusionKind::AudioOnly),
    entry!("visual", FusionKind::VisualOnly),
];

pub fn find(name: &str) -> Option<&'static ZooEntry> {
    let kind = FusionKind::from_name(name)?;
    ZOO.iter().find(|e| e.fusion == kind)
}

impl ZooEntry {
    pub fn load(&self, device: &Device) -> Result<LoadedModel, ModelError> {
        let path = Path::new("assets/models").join(format!("{}.safetensors", self.name));
        file::from_bytes(self.bytes, &path, self.name, Some(self.fusion), None, device).map(|(m, _)| m)
    }
}

/// All seven, in the order of [`ZOO`].
pub fn load_all(device: &Device) -> Result<Vec<LoadedModel>, ModelError> {
    ZOO.iter().map(|e| e.load(device)).collect()
}
