//! What the window's parts ask the workbench for: the [`Command`]s that panels, windows, worker
//! threads and the file dialogs queue, and the dialog requests they name. Its own module, so that
//! the dialogs and the windows depend on it and not on the workbench that applies it.

use std::path::PathBuf;

use super::settings::Source;

/// Everything the UI can ask for.
#[derive(Debug)]
pub enum Command {
    Open(Source),
    OpenDemo,
    /// File > Add demo video model: the video model shipped in the binary, in its window.
    AddDemoVideoModel,
    Dialog(DialogKind),
    /// The system showed no file dialog for this question (no portal, no zenity): ask in the
    /// window instead, from now on.
    DialogUnavailable(DialogKind),
    /// Move the analysis window centre (seconds); snaps to the nearest frame.
    Seek(f64),
    StepFrame(i64),
    Reanalyse,
    RedrawSpectrogram,
    Cancel,
    ClearRecent,
    OpenSession(PathBuf),
    /// Save to this path, or (None) to the session's own path, asking if it has none.
    SaveSession(Option<PathBuf>),
    Relocate { old: PathBuf, new: PathBuf },
    /// A session file was read (off the UI thread): the session, or why not.
    SessionLoaded { path: PathBuf, recovery: bool, session: Result<Box<crate::session::Session>, String> },
    SessionChecked { session: Box<crate::session::Session>, check: crate::session::ClipCheck },
    ClipHashed { source: Source, clip: crate::session::ClipRef },
    Recover(bool),
    Export { kind: ExportKind, path: PathBuf },
    /// An export finished (on a worker thread): the file, or why not.
    Exported(Result<PathBuf, String>),
    /// Compute the robustness curve of the clip on screen under the panel's attack.
    Curve,
    CancelCurve,
    Play(Listen),
    /// A model file was picked: ask for its fusion, then add it.
    PickedModel(PathBuf),
    AddModel { path: PathBuf, fusion: Option<crate::models::FusionKind> },
    StopPlayback,
    PlaybackEnded(Option<String>),
    /// A folder picked for a window's path field.
    SetPath { field: PathField, path: PathBuf },
}

/// What the listen buttons play: the model window of the heatmap model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    Clean,
    Adversarial,
    /// The perturbation alone, amplified by the view's gain.
    Perturbation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogKind {
    /// A video, an audio file or an image.
    Any,
    /// An audio file, then an image.
    Pair,
    /// A session file to open.
    OpenSession,
    /// Where to save the session.
    SaveSession,
    /// A file a session refers to but which moved: where is it now?
    Locate(std::path::PathBuf),
    /// Where to write an export.
    Export(ExportKind),
    /// A model file to add.
    AddModel,
    /// A folder for one of the windows' path fields (a dataset, an output folder).
    Folder(PathField),
}

/// The path fields of the class-wise and training windows a dialog can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathField {
    ClasswiseData,
    TrainingData,
    TrainingOut,
}

impl PathField {
    pub(super) fn title(self) -> &'static str {
        match self {
            Self::ClasswiseData | Self::TrainingData => "Choose a dataset folder (a folder per class, or an AVE folder)",
            Self::TrainingOut => "Choose the output folder",
        }
    }
}

/// What File > Export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    AdversarialWav,
    AdversarialPng,
    ResultsCsv,
    ResultsJson,
    WindowPng,
    /// The class-wise window's last report.
    ClasswiseJson,
    ClasswiseCsv,
    /// Figures (SVG or PNG by the extension), as `metrics --plot-*` draws them.
    ClasswiseDropFigure,
    ClasswisePcaFigure,
    /// The clip's robustness curve window.
    CurveFigure,
}

impl ExportKind {
    pub const ALL: [ExportKind; 10] = [
        Self::AdversarialWav,
        Self::AdversarialPng,
        Self::ResultsCsv,
        Self::ResultsJson,
        Self::WindowPng,
        Self::ClasswiseJson,
        Self::ClasswiseCsv,
        Self::ClasswiseDropFigure,
        Self::ClasswisePcaFigure,
        Self::CurveFigure,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::AdversarialWav => "Adversarial audio (WAV)…",
            Self::AdversarialPng => "Adversarial model view (PNG)…",
            Self::ResultsCsv => "Results (CSV)…",
            Self::ResultsJson => "Results (JSON)…",
            Self::WindowPng => "Window as shown (PNG)…",
            Self::ClasswiseJson => "Class-wise report (JSON)…",
            Self::ClasswiseCsv => "Class-wise table (CSV)…",
            Self::ClasswiseDropFigure => "Class-wise figure: drop rate vs kappa (SVG or PNG)…",
            Self::ClasswisePcaFigure => "Class-wise figure: PCA (SVG or PNG)…",
            Self::CurveFigure => "Robustness curve of the clip (SVG or PNG)…",
        }
    }

    pub(super) fn file_name(self) -> &'static str {
        match self {
            Self::AdversarialWav => "adversarial.wav",
            Self::AdversarialPng => "adversarial.png",
            Self::ResultsCsv => "results.csv",
            Self::ResultsJson => "results.json",
            Self::WindowPng => "mcgurk.png",
            Self::ClasswiseJson => "classwise.json",
            Self::ClasswiseCsv => "classwise.csv",
            Self::ClasswiseDropFigure => "drop_vs_kappa.svg",
            Self::ClasswisePcaFigure => "pca.svg",
            Self::CurveFigure => "clip_curve.svg",
        }
    }
}
