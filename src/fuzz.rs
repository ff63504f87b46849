//! Every reader of outside bytes, one function each, fed the way a user's file reaches it.
//!
//! The coverage-guided fuzz targets in `fuzz/` call exactly these, and so does the regression
//! test that replays every committed finding and seed (`tests/suite/fuzz_replay.rs`), so a fixed
//! finding stays fixed under plain `cargo test`. Each function must return for any input: an
//! error is the expected outcome, a panic, an abort, a hang or a huge allocation is a finding.
//! Errors must name the file: each function checks that they do.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::media::job::Job;
use crate::media::load::LoadOptions;

/// Decoded frames allowed per fuzzed clip: enough for every seed, small enough to stay fast.
const FRAME_BUDGET_BYTES: usize = 64 << 20;

thread_local! {
    /// One scratch folder per thread, made once: the path-taking readers get the input as a file.
    static SCRATCH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Writes `data` to `name` in this thread's scratch folder and returns the path.
fn as_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = SCRATCH.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| {
                let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
                let dir = std::env::temp_dir().join(format!("mcgurk-fuzz-{}-{thread}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("the temp folder is writable");
                dir
            })
            .clone()
    });
    let path = dir.join(name);
    std::fs::write(&path, data).expect("the temp folder is writable");
    path
}

/// An error message must say which file it is about.
fn names_file(message: &str, path: &Path) {
    let shown = path.display().to_string();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(message.contains(&shown) || message.contains(&name), "error does not name {shown}: {message}");
}

fn builtin() -> LoadOptions {
    LoadOptions { frame_budget_bytes: FRAME_BUDGET_BYTES, ..LoadOptions::builtin_only() }
}

thread_local! {
    static CONTAINED_PANICS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Decoder panics contained so far on this thread (the replay test wants none).
pub fn contained_panics() -> usize {
    CONTAINED_PANICS.get()
}

/// A decoder panic that `load::contain` turned into an error is not a crash, but it is worth
/// knowing about (it is a dependency's bug): the first of each kind is printed, and the input
/// kept in `$MCGURK_FUZZ_CONTAINED` when that names a folder (`fuzz/run.sh` sets it).
fn note_contained(e: &crate::media::error::MediaError, data: &[u8]) {
    if matches!(e, crate::media::error::MediaError::DecoderCrashed { .. }) {
        CONTAINED_PANICS.set(CONTAINED_PANICS.get() + 1);
    }
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if let crate::media::error::MediaError::DecoderCrashed { detail, .. } = e {
        let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.contains(detail) {
            eprintln!("contained decoder panic: {detail}");
            if let Some(dir) = std::env::var_os("MCGURK_FUZZ_CONTAINED") {
                let _ = std::fs::write(Path::new(&dir).join(format!("{:016x}", crate::files::fnv64(data))), data);
            }
            seen.push(detail.clone());
        }
    }
}

/// Sniffing, the MP4 box walk that picks ffmpeg for unsupported codecs, and the demuxer
/// (packets walked, not decoded).
pub fn probe(data: &[u8]) {
    let _ = crate::media::sniff::sniff(data);
    let _ = crate::media::sniff::describe_unknown(data);
    let path = as_file("probe.bin", data);
    let _ = crate::media::mp4_boxes::sample_entries(&path);
    if let Err(e) = crate::media::load::probe(&path, &builtin()) {
        note_contained(&e, data);
        names_file(&e.to_string(), &path);
    }
}

/// Opening a file as the window and every command do: containers, WAV/FLAC/OGG/MP3/AAC
/// decoding, H.264 frames, stills, and resampling to the model rate.
pub fn open(data: &[u8]) {
    let path = as_file("open.bin", data);
    // The whole clip, and a video model's window (from a second to a second and a half in:
    // decoding starts at an IDR picture before it and stops after it).
    let window = (1.0, 1.5);
    for opts in [builtin(), crate::media::LoadOptions { window: Some(window), ..builtin() }] {
        match crate::media::load::open(&path, &opts, &Job::detached()) {
            Ok(clip) => {
                if let Some(a) = &clip.audio {
                    assert!(a.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0), "samples outside [-1, 1]");
                }
            }
            Err(e) => {
                note_contained(&e, data);
                names_file(&e.to_string(), &path);
            }
        }
    }
}

/// The `avcC` record and the length-prefixed to Annex-B conversion of H.264 samples. The
/// first byte says how much of the rest is the `avcC` record; the remainder is one sample.
pub fn h264(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else { return };
    let (avcc, sample) = rest.split_at(usize::from(split).min(rest.len()));
    if let Ok(config) = crate::media::h264::AvcConfig::parse(avcc) {
        let mut out = Vec::new();
        let _ = config.is_idr(sample);
        if config.to_annex_b(sample, &mut out).is_ok() {
            assert!(out.len() <= sample.len() * 3 + config.parameter_sets.len(), "Annex-B output grew past its input");
        }
    }
}

/// Still images (PNG, JPEG, WebP) as a clip's picture.
pub fn still(data: &[u8]) {
    let path = as_file("still.img", data);
    if let Err(e) = crate::media::still::load(&path) {
        names_file(&e.to_string(), &path);
    }
}

/// The safetensors container.
pub fn safetensors(data: &[u8]) {
    if let Ok(st) = crate::models::safetensors::SafeTensors::parse(data) {
        // What it parsed writes back and reads again as the same tensors.
        let again = crate::models::safetensors::SafeTensors::parse(&st.to_bytes(crate::models::safetensors::StoreAs::F32));
        assert!(again.is_ok(), "a parsed file does not survive a round trip: {again:?}");
    }
}

/// PyTorch checkpoints (`torch.save`'s zip: the pickle subset and the tensor storages).
pub fn pth(data: &[u8]) {
    let _ = crate::models::pth::looks_like(data);
    let _ = crate::models::pth::read(data);
}

/// A model file as `--model`/Add model reads it: container, metadata, layout, then the network.
pub fn model(data: &[u8]) {
    let path = Path::new("fuzzed.safetensors");
    let device = burn::prelude::Device::flex();
    if let Err(e) = crate::models::file::from_bytes(data, path, "fuzzed", None, None, &device) {
        names_file(&e.to_string(), path);
    }
}

/// A model spec file (`--spec`).
pub fn spec(data: &[u8]) {
    let path = as_file("fuzzed.spec.json", data);
    match crate::models::spec::ModelSpec::load(&path) {
        Ok(spec) => {
            let _ = spec.weight_files(&path);
            let _ = spec.frontend();
            let _ = spec.fusion_kind();
            let _ = spec.tal_options();
        }
        Err(e) => names_file(&e.to_string(), &path),
    }
}

/// A saved session (File > Open session, and the recovery file at start).
pub fn session(data: &[u8]) {
    let path = as_file("fuzzed.mcgurk.json", data);
    match crate::session::Session::load(&path) {
        Ok(s) => {
            // The window checks the clip's files and saves the session again.
            if let Some(clip) = &s.clip {
                let _ = clip.check();
            }
            let _ = serde_json::to_string(&s);
        }
        Err(e) => names_file(&e.to_string(), &path),
    }
}

/// A CSV dataset manifest.
pub fn manifest(data: &[u8]) {
    let path = as_file("fuzzed.csv", data);
    if let Err(e) = crate::data::manifest::open(&path) {
        names_file(&e.to_string(), &path);
    }
}

/// The targets by name, for the replay test and `fuzz/run.sh`.
pub const TARGETS: [(&str, fn(&[u8])); 10] = [
    ("probe", probe),
    ("open", open),
    ("h264", h264),
    ("still", still),
    ("safetensors", safetensors),
    ("pth", pth),
    ("model", model),
    ("spec", spec),
    ("session", session),
    ("manifest", manifest),
];
