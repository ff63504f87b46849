//! The workbench engine (`live::Live`) schedules its models on the CPU backend's thread pool:
//! all at once or one after another, the views are the same, and a cancel stops either.

use burn::prelude::Device;
use crate::common::*;
use mcgurk::attacks::{AttackConfig, Method};
use mcgurk::live::{Live, Maps};
use mcgurk::media::{Job, LoadOptions, open};
use mcgurk::models::input::Example;

#[test]
fn both_schedules_give_the_same_views() {
    let device = Device::flex();
    let clip = open(&demo("cow.mp4"), &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    let t = Example::centre_time(&clip);
    let pgd = AttackConfig { method: Method::Pgd, steps: 3, eps_a: 0.005, eps_v: 2.0 / 255.0, ..AttackConfig::default() };
    let mut views = Vec::new();
    for at_once in [1, 4] {
        let mut live = Live::new(mcgurk::models::zoo::load_all(&device).unwrap(), device.clone());
        live.set_models_at_once(at_once);
        let (v, missing) = live.update(&clip, 1, t, Some(&pgd), Maps::One(0), &mut || false).expect("not interrupted");
        assert!(missing.is_empty());
        assert_eq!(v.len(), 7);
        views.push(v);
    }
    for (a, b) in views[0].iter().zip(&views[1]) {
        let close = |x: &[f32], y: &[f32]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-5 * p.abs().max(1.0));
        assert!(close(&a.clean.logits, &b.clean.logits), "clean logits differ");
        let (aa, ba) = (a.attacked.as_ref().unwrap(), b.attacked.as_ref().unwrap());
        assert!(close(&aa.prediction.logits, &ba.prediction.logits), "attacked logits differ: {:?} vs {:?}", aa.prediction.logits, ba.prediction.logits);
    }
}

#[test]
fn a_stop_interrupts_the_update() {
    let device = Device::flex();
    let clip = open(&demo("cow.mp4"), &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    let mut live = Live::new(mcgurk::models::zoo::load_all(&device).unwrap(), device);
    let long = AttackConfig { method: Method::Pgd, steps: 500, ..AttackConfig::default() };
    let start = std::time::Instant::now();
    let mut polls = 0;
    let r = live.update(&clip, 1, Example::centre_time(&clip), Some(&long), Maps::One(0), &mut || {
        polls += 1;
        polls > 50
    });
    assert!(r.is_err(), "a stopped update is reported as interrupted");
    // Uninterrupted, PGD-500 on seven models takes about half a minute here.
    assert!(start.elapsed().as_secs_f64() < 10.0, "took {:?}", start.elapsed());
}
