//! Sessions: round trip, atomic save, migration of format 1, every kind of damaged file gives
//! a clear error naming it and changes nothing, and a moved clip is found again.

use std::path::Path;

use crate::common::*;
use mcgurk::attacks::{AttackConfig, Method, Modality, Norm};
use mcgurk::session::{ClipCheck, ClipRef, FileRef, FORMAT_VERSION, SavedResult, Session, SessionError};

fn sample(clip: &Path) -> Session {
    Session {
        clip: Some(ClipRef::File { file: FileRef::of(clip).unwrap() }),
        time_s: 3.25,
        models: vec!["sum".into(), "audio".into()],
        attack_enabled: true,
        attack: AttackConfig { method: Method::Mim, norm: Norm::L2, modality: Modality::Video, eps_v: 0.5, ..Default::default() },
        notes: "Gated-Sum holds at 2/255; ü works".into(),
        results: vec![SavedResult {
            model: "sum".into(),
            fusion: "sum".into(),
            classes: vec!["cat".into(), "cow".into()],
            clean_probs: vec![0.1, 0.9],
            attacked_probs: Some(vec![0.7, 0.3]),
            snr_db: None,
            psnr_db: Some(31.5),
            loss_clean: Some(0.1),
            loss_adv: Some(1.2),
        }],
        ..Session::default()
    }
}

#[test]
fn a_session_survives_a_round_trip_and_saving_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.mcgurk.json");
    let s = sample(&demo("cow.mp4"));
    s.save(&path).unwrap();
    assert_eq!(Session::load(&path).unwrap(), s);
    // Saving again over it leaves exactly one file (the temp file was renamed into place).
    let mut t = s.clone();
    t.notes = "second".into();
    t.save(&path).unwrap();
    assert_eq!(Session::load(&path).unwrap().notes, "second");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("\"format_version\": {FORMAT_VERSION}")));
}

#[test]
fn damaged_sessions_give_clear_errors_and_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string_pretty(&sample(&demo("cow.mp4"))).unwrap();
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        edit(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("steps.mcgurk.json", edited(&|v| v["attack"]["steps"] = 1_000_000_000u64.into()), "steps = 1000000000 (1 to 1000)"),
        ("eps.mcgurk.json", edited(&|v| v["attack"]["eps_a"] = 1e30.into()), "eps_a = 1"),
        ("time.mcgurk.json", edited(&|v| v["time_s"] = (-5.0).into()), "time_s = -5"),
        ("truncated.mcgurk.json", good[..good.len() / 2].to_string(), "ends early"),
        ("empty.mcgurk.json", String::new(), "ends early"),
        ("types.mcgurk.json", good.replace("\"time_s\": 3.25", "\"time_s\": \"late\""), "invalid type"),
        ("future.mcgurk.json", good.replace(&format!("\"format_version\": {FORMAT_VERSION}"), "\"format_version\": 99"), "format 99, newer"),
        ("other.mcgurk.json", "{\"hello\": 1}".to_string(), "not a McGurk session"),
        ("binary.mcgurk.json", "\u{0}\u{1}garbage".to_string(), "damaged"),
    ];
    for (name, text, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let err = Session::load(&path).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}: a failed load changes nothing");
    }
    let missing = dir.path().join("nope.mcgurk.json");
    assert!(matches!(Session::load(&missing), Err(SessionError::Io { .. })));
}

#[test]
fn format_1_sessions_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.mcgurk.json");
    let clip = demo("cow.mp4");
    let v1 = serde_json::json!({
        "format_version": 1, "clip": clip, "time_s": 2.5, "method": "PGD", "norm": "l2",
        "modality": "a", "eps_a": 0.02, "eps_v": 0.1, "steps": 7, "notes": "from the old build",
    });
    std::fs::write(&path, v1.to_string()).unwrap();
    let s = Session::load(&path).unwrap();
    assert_eq!(s.format_version, FORMAT_VERSION);
    assert_eq!(s.time_s, 2.5);
    assert_eq!(s.notes, "from the old build");
    assert_eq!((s.attack.method, s.attack.norm, s.attack.modality, s.attack.steps), (Method::Pgd, Norm::L2, Modality::Audio, 7));
    assert!((s.attack.eps_a - 0.02).abs() < 1e-7);
    match &s.clip {
        Some(ClipRef::File { file }) => assert!(file.path == clip && file.hash.is_empty()),
        other => panic!("{other:?}"),
    }
    // An unknown hash is not checked; the file is there.
    assert_eq!(s.clip.as_ref().unwrap().check(), ClipCheck::Ok);
    let bad = dir.path().join("bad_v1.mcgurk.json");
    std::fs::write(&bad, r#"{"format_version": 1, "clip": "x.mp4", "method": "zap"}"#).unwrap();
    let err = Session::load(&bad).unwrap_err().to_string();
    assert!(err.contains("bad_v1.mcgurk.json") && err.contains("unknown attack method 'zap'"), "{err}");
}

#[test]
fn a_moved_clip_is_reported_and_can_be_located() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("clip.mp4");
    std::fs::copy(demo("cow.mp4"), &original).unwrap();
    let mut clip = ClipRef::File { file: FileRef::of(&original).unwrap() };
    assert_eq!(clip.check(), ClipCheck::Ok);
    let moved = dir.path().join("moved.mp4");
    std::fs::rename(&original, &moved).unwrap();
    assert_eq!(clip.check(), ClipCheck::Missing(vec![original.clone()]));
    assert!(clip.relocate(&original, &moved).unwrap(), "same content");
    assert_eq!(clip.check(), ClipCheck::Ok);
    // Edited since: reported as changed.
    std::fs::write(&moved, b"different bytes").unwrap();
    assert_eq!(clip.check(), ClipCheck::Changed(vec![moved.clone()]));
    let other = dir.path().join("other.mp4");
    std::fs::write(&other, b"another clip").unwrap();
    assert!(!clip.relocate(&moved, &other).unwrap(), "the located file differs from the saved hash");
}
