//! Experiment sessions (`*.mcgurk.json`): what was open (with a content hash of each file),
//! which models, the attack and its slider values, the view, the user's notes and the results
//! computed so far. A serde type apart from the workbench's runtime state. Saving is atomic;
//! loading names the file in every error, migrates older format versions and refuses newer ones.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::attacks::{AttackConfig, Method, Modality, Norm};

/// The format this build writes. History: 1 = the first design (a bare clip path, flat attack
/// fields, no hashes); 2 = clip references with content hashes, the full attack config, view,
/// models and results.
pub const FORMAT_VERSION: u32 = 2;
pub const EXTENSION: &str = "mcgurk.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    pub path: PathBuf,
    /// FNV-1a 64 of the bytes, hex; empty when unknown (migrated sessions).
    pub hash: String,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClipRef {
    File { file: FileRef },
    Pair { audio: FileRef, image: FileRef },
}

/// A model file added to the session, with the fusion chosen for it (None: from the file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub path: PathBuf,
    pub fusion: Option<String>,
}

/// How the GUI showed things (names, so the engine needs no GUI types).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Display {
    pub overlay: String,
    pub overlay_model: usize,
    pub frame_view: String,
    pub amplify: f32,
}

impl Default for Display {
    fn default() -> Self {
        Self { overlay: "off".into(), overlay_model: 0, frame_view: "frame".into(), amplify: 20.0 }
    }
}

/// One model's numbers at the session's moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedResult {
    pub model: String,
    pub fusion: String,
    pub classes: Vec<String>,
    pub clean_probs: Vec<f32>,
    pub attacked_probs: Option<Vec<f32>>,
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
    pub loss_clean: Option<f32>,
    pub loss_adv: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub format_version: u32,
    pub clip: Option<ClipRef>,
    pub time_s: f64,
    /// Model names, in display order.
    pub models: Vec<String>,
    /// Model files the user added (loaded again when the session opens).
    #[serde(default)]
    pub model_files: Vec<ModelFile>,
    pub attack_enabled: bool,
    pub attack: AttackConfig,
    #[serde(default)]
    pub display: Display,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub results: Vec<SavedResult>,
    /// The class-wise robustness window: its settings and last report (older files have none;
    /// readers that do not know it ignore it, so the format version stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classwise: Option<SavedClasswise>,
}

/// What the class-wise window measured, and on what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedClasswise {
    pub data: String,
    pub holdout: String,
    pub model: SavedModel,
    pub views: usize,
    #[serde(default = "default_tau")]
    pub tau: f64,
    /// The density's norm; None is L-inf (JSON has no infinity).
    #[serde(default = "default_p")]
    pub p: Option<f32>,
    pub attack: bool,
    pub report: Option<crate::metrics::classwise::Report>,
}

fn default_tau() -> f64 {
    0.6
}

fn default_p() -> Option<f32> {
    Some(2.0)
}

/// A demo model by name, or a model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SavedModel {
    Zoo { name: String },
    File { path: PathBuf, fusion: Option<String> },
}

impl Default for Session {
    fn default() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            clip: None,
            time_s: 0.0,
            models: Vec::new(),
            model_files: Vec::new(),
            attack_enabled: false,
            attack: AttackConfig::default(),
            display: Display::default(),
            notes: String::new(),
            results: Vec::new(),
            classwise: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read session {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("session {path} is damaged: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} is not a McGurk session (no format_version)")]
    NotASession { path: PathBuf },
    #[error("session {path} is format {found}, newer than this McGurk reads ({supported}): update McGurk to open it")]
    Newer { path: PathBuf, found: u64, supported: u32 },
    #[error("cannot save session {path}: {detail}")]
    Save { path: PathBuf, detail: String },
}

/// The largest session file read (sessions with class-wise reports are a few megabytes).
pub const MAX_SESSION_BYTES: u64 = 64 << 20;

impl Session {
    /// Writes the session atomically (temp file + rename): a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        let mut doc = self.clone();
        doc.format_version = FORMAT_VERSION;
        let text = serde_json::to_string_pretty(&doc).map_err(|e| SessionError::Save { path: path.into(), detail: e.to_string() })?;
        crate::files::write_atomic(path, text.as_bytes()).map_err(|e| SessionError::Save { path: path.into(), detail: format!("{e:#}") })
    }

    pub fn load(path: &Path) -> Result<Self, SessionError> {
        let text = crate::files::read_regular_text(path, MAX_SESSION_BYTES).map_err(|source| SessionError::Io { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// `text` as a session of any supported format version; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SessionError> {
        let corrupt = |detail: String| SessionError::Corrupt { path: path.into(), detail };
        let mut doc: Value = serde_json::from_str(text).map_err(|e| corrupt(describe_json_error(&e, text)))?;
        let version = match doc.get("format_version") {
            None => return Err(SessionError::NotASession { path: path.into() }),
            Some(v) => v.as_u64().ok_or_else(|| corrupt(format!("format_version is {v}, not a whole number")))?,
        };
        if version > u64::from(FORMAT_VERSION) {
            return Err(SessionError::Newer { path: path.into(), found: version, supported: FORMAT_VERSION });
        }
        if version < 1 {
            return Err(corrupt(format!("format_version {version} never existed")));
        }
        if version == 1 {
            doc = migrate_v1(doc).map_err(corrupt)?;
        }
        let mut session: Session = serde_json::from_value(doc).map_err(|e| corrupt(e.to_string()))?;
        session.format_version = FORMAT_VERSION;
        check_attack(&session.attack).map_err(|d| corrupt(format!("attack: {d}")))?;
        if !session.time_s.is_finite() || session.time_s < 0.0 {
            return Err(corrupt(format!("time_s = {} is not a moment of a clip", session.time_s)));
        }
        Ok(session)
    }
}

/// A loaded attack runs as soon as the session opens: its numbers must be ones the attack
/// panel could have set (a hand-edited 10^9 steps would freeze the models for hours).
fn check_attack(a: &AttackConfig) -> Result<(), String> {
    let budget = |name: &str, v: f32, max: f32| {
        if v.is_finite() && (0.0..=max).contains(&v) { Ok(()) } else { Err(format!("{name} = {v} (0 to {max})")) }
    };
    budget("eps_a", a.eps_a, 1.0)?;
    budget("eps_v", a.eps_v, 1.0)?;
    budget("mu", a.mu, 10.0)?;
    for (name, step) in [("step_a", a.step_a), ("step_v", a.step_v)] {
        if let Some(v) = step {
            budget(name, v, 1.0)?;
        }
    }
    if !(1..=MAX_STEPS).contains(&a.steps) {
        return Err(format!("steps = {} (1 to {MAX_STEPS})", a.steps));
    }
    if a.restarts > MAX_RESTARTS {
        return Err(format!("restarts = {} (0 to {MAX_RESTARTS})", a.restarts));
    }
    Ok(())
}

/// Most attack steps and restarts a session may ask for.
const MAX_STEPS: usize = 1000;
const MAX_RESTARTS: usize = 20;

/// serde_json's message plus the line and column, and "ends early" for a cut-off file.
fn describe_json_error(e: &serde_json::Error, text: &str) -> String {
    if e.is_eof() {
        format!("it ends early (line {}, {} bytes): truncated?", e.line(), text.len())
    } else {
        e.to_string()
    }
}

/// Format 1 -> 2: `clip` was a bare path; the attack was flat fields.
fn migrate_v1(v1: Value) -> Result<Value, String> {
    let obj = v1.as_object().ok_or("the session is not a JSON object")?;
    let get_f = |k: &str, default: f64| obj.get(k).and_then(Value::as_f64).unwrap_or(default);
    let parse = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_lowercase);
    let mut attack = AttackConfig::default();
    attack.eps_a = get_f("eps_a", f64::from(attack.eps_a)) as f32;
    attack.eps_v = get_f("eps_v", f64::from(attack.eps_v)) as f32;
    attack.steps = get_f("steps", attack.steps as f64) as usize;
    if let Some(m) = parse("method") {
        attack.method = match m.as_str() {
            "fgsm" => Method::Fgsm,
            "pgd" => Method::Pgd,
            "mim" => Method::Mim,
            other => return Err(format!("unknown attack method '{other}'")),
        };
    }
    if let Some(n) = parse("norm") {
        attack.norm = if n == "l2" { Norm::L2 } else { Norm::Linf };
    }
    if let Some(m) = parse("modality") {
        attack.modality = match m.as_str() {
            "a" | "audio" => Modality::Audio,
            "v" | "video" => Modality::Video,
            _ => Modality::Both,
        };
    }
    let clip = match obj.get("clip") {
        Some(Value::String(p)) => Some(ClipRef::File { file: FileRef { path: p.into(), hash: String::new(), bytes: 0 } }),
        Some(Value::Null) | None => None,
        Some(other) => return Err(format!("clip is {other}, not a path")),
    };
    let session = Session {
        clip,
        time_s: get_f("time_s", 0.0),
        attack_enabled: obj.get("attack_enabled").and_then(Value::as_bool).unwrap_or(true),
        attack,
        notes: obj.get("notes").and_then(Value::as_str).unwrap_or_default().to_string(),
        ..Session::default()
    };
    serde_json::to_value(session).map_err(|e| e.to_string())
}

/// FNV-1a 64 of a file, streamed; with its length.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = crate::files::Fnv::default();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        h.update(&buf[..n]);
    }
    Ok((format!("{:016x}", h.value()), total))
}

impl FileRef {
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let (hash, bytes) = hash_file(path)?;
        Ok(Self { path: path.to_path_buf(), hash, bytes })
    }
}

/// Whether a session's clip can be opened as saved.
#[derive(Debug, PartialEq, Eq)]
pub enum ClipCheck {
    Ok,
    /// These files are not where the session says: ask the user to locate them.
    Missing(Vec<PathBuf>),
    /// The file is there but its content differs from when the session was saved.
    Changed(Vec<PathBuf>),
}

impl ClipRef {
    pub fn files(&self) -> Vec<&FileRef> {
        match self {
            Self::File { file } => vec![file],
            Self::Pair { audio, image } => vec![audio, image],
        }
    }

    pub fn files_mut(&mut self) -> Vec<&mut FileRef> {
        match self {
            Self::File { file } => vec![file],
            Self::Pair { audio, image } => vec![audio, image],
        }
    }

    pub fn check(&self) -> ClipCheck {
        let missing: Vec<PathBuf> = self.files().iter().filter(|f| !f.path.exists()).map(|f| f.path.clone()).collect();
        if !missing.is_empty() {
            return ClipCheck::Missing(missing);
        }
        let changed: Vec<PathBuf> = self
            .files()
            .iter()
            .filter(|f| !f.hash.is_empty() && hash_file(&f.path).map(|(h, _)| h != f.hash).unwrap_or(true))
            .map(|f| f.path.clone())
            .collect();
        if changed.is_empty() { ClipCheck::Ok } else { ClipCheck::Changed(changed) }
    }

    /// Points the missing file `old` at `new` (the user located it). Returns whether the new
    /// file has the saved content (true when the hash was unknown).
    pub fn relocate(&mut self, old: &Path, new: &Path) -> std::io::Result<bool> {
        let (hash, bytes) = hash_file(new)?;
        let mut same = true;
        for f in self.files_mut().into_iter().filter(|f| f.path == old) {
            same &= f.hash.is_empty() || f.hash == hash;
            *f = FileRef { path: new.to_path_buf(), hash: hash.clone(), bytes };
        }
        Ok(same)
    }
}

/// The recovery file autosave writes and the next start offers.
pub fn recovery_path() -> PathBuf {
    crate::files::cache_dir().join(format!("recovery.{EXTENSION}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        let dir = std::env::temp_dir().join(format!("mcgurk-fnv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a");
        std::fs::write(&p, b"a").unwrap();
        assert_eq!(hash_file(&p).unwrap(), ("af63dc4c8601ec8c".to_string(), 1));
        std::fs::write(&p, b"").unwrap();
        assert_eq!(hash_file(&p).unwrap().0, "cbf29ce484222325");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
