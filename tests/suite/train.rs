//! Training: a small model overfits a handful of clips; runs replay from the seed; a stopped run
//! resumes from its checkpoint.

use std::sync::atomic::AtomicBool;

use crate::common::*;
use mcgurk::models::{FusionKind, Size, file};
use mcgurk::train::{Backend, OptimizerKind, TrainConfig, TrainError, train};

/// Three classes, one GCompris pair each, as a CSV manifest (train and validate on the same).
fn tiny_manifest(dir: &std::path::Path) -> std::path::PathBuf {
    let f = root().join("assets/data/farm-av");
    let mut text = String::new();
    for (class, a, i) in [("cow", "gcompris-cow.ogg", "gcompris-cow.webp"), ("dog", "gcompris-dog.ogg", "gcompris-dog.webp"), ("duck", "gcompris-duck.ogg", "gcompris-duck.webp")] {
        for split in ["train", "val"] {
            text += &format!("{}/{class}/{a};{}/{class}/{i},{class},{split}\n", f.display(), f.display());
        }
    }
    let csv = dir.join("tiny.csv");
    std::fs::write(&csv, text).unwrap();
    csv
}

fn config(data: std::path::PathBuf, out: std::path::PathBuf, epochs: usize) -> TrainConfig {
    TrainConfig {
        data,
        holdout: None,
        fusion: FusionKind::Concat,
        size: Size::Small,
        epochs,
        batch: 3,
        samples_per_epoch: 6,
        lr: 2e-3,
        optimizer: OptimizerKind::Adam,
        seed: 11,
        augment: false,
        backend: Backend::Cpu,
        out,
        name: "tiny".into(),
        resume: false,
        half: false,
        modality_dropout: 0.0,
        mixup: 0.0,
        dc_mixup: None,
        adversarial: None,
        similarity: None,
        average_last: 0,
        init: None,
    }
}

#[test]
fn a_small_model_overfits_a_handful_of_clips() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(tiny_manifest(dir.path()), dir.path().join("run"), 25);
    let log = train(&cfg, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let first = &log.epochs[0];
    let last = log.epochs.last().unwrap();
    assert!(last.train_loss < 0.2 * first.train_loss, "loss {} -> {}", first.train_loss, last.train_loss);
    assert_eq!(last.val_acc, Some(1.0), "{:?}", log.epochs);
    // The saved model predicts its training clips.
    let model = file::load(&log.model, None, &burn::prelude::Device::flex()).unwrap();
    assert_eq!(model.info.classes, ["cow", "dog", "duck"]);
    assert_eq!(model.info.fusion, FusionKind::Concat);
    assert!(dir.path().join("run/train_log.json").is_file());
}

#[test]
fn runs_replay_from_the_seed_and_resume_from_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_manifest(dir.path());
    let a = train(&config(data.clone(), dir.path().join("a"), 2), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let b = train(&config(data.clone(), dir.path().join("b"), 2), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    // Same seed, same run (up to the CPU backend's threaded reductions in the last bits).
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert!((x.train_loss - y.train_loss).abs() <= 1e-3 * x.train_loss.max(1e-3), "{:?} vs {:?}", a.epochs, b.epochs);
    }

    // A finished run is not overwritten by a new one in its folder.
    let log_before = std::fs::read(dir.path().join("a/train_log.json")).unwrap();
    let refused = train(&config(data.clone(), dir.path().join("a"), 4), &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(refused.to_string().contains("already holds a training run"), "{refused}");
    // Cancelled before the first new step: nothing is lost, the error says how to go on.
    let mut more = config(data.clone(), dir.path().join("a"), 4);
    more.resume = true;
    let cancelled = train(&more, &mut |_| {}, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(cancelled, TrainError::Cancelled { epochs: 2 }), "{cancelled}");
    assert_eq!(std::fs::read(dir.path().join("a/train_log.json")).unwrap(), log_before, "the run is untouched");
    let mut notes = Vec::new();
    let resumed = train(&more, &mut |p| {
        if let mcgurk::train::Progress::Note(n) = p {
            notes.push(n)
        }
    }, &AtomicBool::new(false))
    .unwrap();
    assert!(notes.iter().any(|n| n == "resumed after epoch 2"), "{notes:?}");
    assert_eq!(resumed.epochs.len(), 4);
    assert_eq!(resumed.epochs[0].train_loss, a.epochs[0].train_loss, "the first epochs come from the log");

    // Resuming on another dataset's classes would write a model that cannot be loaded: refused.
    let other = dir.path().join("other.csv");
    let text = std::fs::read_to_string(&data).unwrap().replace(",duck,", ",goose,");
    std::fs::write(&other, text).unwrap();
    let mut wrong = config(other, dir.path().join("a"), 5);
    wrong.resume = true;
    let e = train(&wrong, &mut |_| {}, &AtomicBool::new(false)).unwrap_err().to_string();
    assert!(e.contains("cannot resume") && e.contains("goose"), "{e}");

    // A folder that cannot be written is refused before any clip is decoded.
    let mut ro = config(data, std::path::PathBuf::from("/proc/mcgurk-run"), 1);
    ro.resume = false;
    let e = train(&ro, &mut |p| assert!(!matches!(p, mcgurk::train::Progress::Preparing { .. }), "decoded first"), &AtomicBool::new(false)).unwrap_err();
    assert!(e.to_string().contains("/proc/mcgurk-run"), "{e}");
}

/// Weight averaging over the last epochs: logged, scored on the held-out clips, and the saved
/// model is the average (not the last checkpoint).
#[test]
fn the_last_epochs_can_be_averaged() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(tiny_manifest(dir.path()), dir.path().join("avg"), 3);
    cfg.average_last = 2;
    let log = train(&cfg, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let avg = log.averaged.as_ref().expect("averaged");
    assert_eq!(avg.epochs, [2, 3]);
    assert!(avg.val_acc.is_some());
    let device = burn::prelude::Device::flex();
    let saved = file::load(&log.model, None, &device).unwrap();
    let state = log.state.as_ref().expect("committed");
    assert_eq!(state.epoch, 3);
    let last = file::load(&dir.path().join("avg").join(&state.checkpoint), None, &device).unwrap();
    let w = |m: &file::LoadedModel| m.net.classifier.weight.val().try_to_vec_as::<f32>().unwrap();
    assert_ne!(w(&saved), w(&last), "the saved model is the average, not epoch 3");
}
