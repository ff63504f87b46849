//! What the GUI persists between runs (eframe storage). Runtime state lives in `workbench`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::attacks::{AttackConfig, Method};
use crate::dsp::{Colormap, MelConfig};

pub const STORAGE_KEY: &str = "mcgurk.settings.v1";
const MAX_RECENT: usize = 10;

/// Something the user opened, as it can be opened again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    File(PathBuf),
    Pair { audio: PathBuf, image: PathBuf },
}

impl Source {
    /// Do the files behind this source still exist?
    pub fn exists(&self) -> bool {
        match self {
            Self::File(p) => p.exists(),
            Self::Pair { audio, image } => audio.exists() && image.exists(),
        }
    }

    pub fn label(&self) -> String {
        let name = |p: &PathBuf| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
        match self {
            Self::File(p) => name(p),
            Self::Pair { audio, image } => format!("{} + {}", name(audio), name(image)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<Source>,
    pub mel: MelConfig,
    pub colormap: Colormap,
    pub range_db: f32,
    pub show_crop: bool,
    /// Heatmap drawn over the model's crop.
    pub overlay: Overlay,
    /// Which model's heatmap (index into the zoo).
    pub overlay_model: usize,
    pub attack: AttackSettings,
    /// Show how long the last model update took (View menu).
    pub show_timings: bool,
    /// Where McGurk's own file dialog opens (the folder of its last answer).
    pub dialog_dir: Option<std::path::PathBuf>,
}

/// The attack panel's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttackSettings {
    pub enabled: bool,
    pub config: AttackConfig,
    /// What the frame area shows while attacking.
    pub view: FrameView,
    /// Gain of the perturbation view.
    pub amplify: f32,
}

impl Default for AttackSettings {
    fn default() -> Self {
        // FGSM by default: dragging the sliders then costs one forward pass per model.
        let config = AttackConfig { method: Method::Fgsm, eps_a: 0.005, eps_v: 2.0 / 255.0, ..AttackConfig::default() };
        Self { enabled: false, config, view: FrameView::Frame, amplify: 20.0 }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrameView {
    /// The clip's frame (with the heatmap over the model's crop).
    #[default]
    Frame,
    /// What the heatmap model sees under attack.
    Adversarial,
    /// The adversarial minus the clean model view, amplified, around mid-grey.
    Perturbation,
}

impl FrameView {
    pub const ALL: [FrameView; 3] = [FrameView::Frame, FrameView::Adversarial, FrameView::Perturbation];
    pub fn name(self) -> &'static str {
        match self {
            Self::Frame => "clip frame",
            Self::Adversarial => "adversarial model view",
            Self::Perturbation => "perturbation (amplified)",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overlay {
    #[default]
    Off,
    /// Tian's sound-source localization: cosine of f_a with the visual map.
    AvSimilarity,
    /// Class activation map of the predicted class.
    Cam,
}

impl Overlay {
    pub const ALL: [Overlay; 3] = [Overlay::Off, Overlay::AvSimilarity, Overlay::Cam];
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::AvSimilarity => "AV similarity",
            Self::Cam => "class activation (CAM)",
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recent: Vec::new(),
            mel: MelConfig::default(),
            colormap: Colormap::Viridis,
            range_db: 80.0,
            show_crop: true,
            overlay: Overlay::Off,
            overlay_model: 0,
            attack: AttackSettings::default(),
            show_timings: true,
            dialog_dir: None,
        }
    }
}

impl Settings {
    /// Most recent first, no duplicates, at most ten.
    pub fn remember(&mut self, source: Source) {
        self.recent.retain(|s| *s != source);
        self.recent.insert(0, source);
        self.recent.truncate(MAX_RECENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_unique_and_bounded() {
        let mut s = Settings::default();
        for i in 0..15 {
            s.remember(Source::File(format!("/tmp/{i}.mp4").into()));
        }
        s.remember(Source::File("/tmp/12.mp4".into()));
        assert_eq!(s.recent.len(), 10);
        assert_eq!(s.recent[0], Source::File("/tmp/12.mp4".into()));
        assert_eq!(s.recent.iter().filter(|r| **r == Source::File("/tmp/12.mp4".into())).count(), 1);
    }

    #[test]
    fn old_or_partial_settings_still_load() {
        let s: Settings = serde_json::from_str(r#"{"range_db": 60.0, "unknown_field": 1}"#).unwrap();
        assert_eq!(s.range_db, 60.0);
        assert_eq!(s.mel, MelConfig::default());
    }
}
