//! Attacks against their definition, on a demo-zoo model and the demo clip: for every method,
//! norm and modality the perturbation stays inside its eps ball around the clean input, the
//! inputs stay in their valid ranges, and the loss goes up (down, for a targeted attack).

use burn::prelude::Device;
use crate::common::*;
use mcgurk::attacks::{AttackConfig, Method, Modality, Norm, attack};
use mcgurk::media::{Job, LoadOptions, open};
use mcgurk::models::input::Example;
use mcgurk::models::zoo;

fn demo_example(size: mcgurk::models::InputSize) -> Example {
    let clip = open(&demo("cow.mp4"), &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    Example::from_clip(&clip, Example::centre_time(&clip), size).0
}

#[test]
fn every_attack_holds_its_bound_and_range_and_raises_the_loss() {
    let device = Device::flex();
    let model = zoo::find("sum").unwrap().load(&device).unwrap();
    let ex = demo_example(model.info.input);
    let cow = model.info.classes.iter().position(|c| c == "cow").unwrap();
    for method in [Method::Fgsm, Method::Pgd, Method::Mim] {
        for norm in [Norm::Linf, Norm::L2] {
            for modality in [Modality::Audio, Modality::Video, Modality::Both] {
                // L2 balls of the same "size" per coordinate: eps * sqrt(n).
                let (eps_a, eps_v) = match norm {
                    Norm::Linf => (0.005, 2.0 / 255.0),
                    Norm::L2 => (0.005 * (ex.wave.len() as f32).sqrt(), 2.0 / 255.0 * (ex.pixels.len() as f32).sqrt()),
                };
                let cfg = AttackConfig { method, norm, modality, eps_a, eps_v, steps: 3, random_start: method == Method::Pgd, seed: 5, ..Default::default() };
                let r = attack(&model.net, &ex, cow, &cfg);
                let what = format!("{method:?} {norm:?} {modality:?}");
                let (a, v) = match norm {
                    Norm::Linf => (r.norms.audio_linf, r.norms.video_linf),
                    Norm::L2 => (r.norms.audio_l2, r.norms.video_l2),
                };
                assert!(a <= eps_a * 1.0001 + 1e-6 && v <= eps_v * 1.0001 + 1e-6, "{what}: {:?}", r.norms);
                if modality == Modality::Video {
                    assert_eq!(r.adversarial.wave, ex.wave, "{what}: audio untouched");
                    assert!(v > 0.0, "{what}: the picture moved");
                }
                if modality == Modality::Audio {
                    assert_eq!(r.adversarial.pixels, ex.pixels, "{what}: picture untouched");
                    assert!(a > 0.0, "{what}: the audio moved");
                }
                assert!(r.adversarial.wave.iter().all(|s| (-1.0..=1.0).contains(s)), "{what}");
                assert!(r.adversarial.pixels.iter().all(|p| (0.0..=1.0).contains(p)), "{what}");
                assert!(r.loss_adv > r.loss_clean, "{what}: loss {} -> {}", r.loss_clean, r.loss_adv);
            }
        }
    }
}

#[test]
fn targeted_attacks_lower_the_targets_loss_and_pgd_beats_fgsm() {
    let device = Device::flex();
    let model = zoo::find("audio").unwrap().load(&device).unwrap();
    let ex = demo_example(model.info.input);
    let cow = model.info.classes.iter().position(|c| c == "cow").unwrap();
    let duck = model.info.classes.iter().position(|c| c == "duck").unwrap();
    let base = AttackConfig { modality: Modality::Audio, eps_a: 0.01, steps: 10, ..Default::default() };
    let targeted = attack(&model.net, &ex, cow, &AttackConfig { target: Some(duck), ..base.clone() });
    assert!(targeted.loss_adv < targeted.loss_clean, "{} -> {}", targeted.loss_clean, targeted.loss_adv);
    let fgsm = attack(&model.net, &ex, cow, &AttackConfig { method: Method::Fgsm, ..base.clone() });
    let pgd = attack(&model.net, &ex, cow, &base);
    assert!(pgd.loss_adv >= fgsm.loss_adv, "PGD {} < FGSM {}", pgd.loss_adv, fgsm.loss_adv);
    assert!(pgd.snr_db.is_some() && pgd.psnr_db.is_none(), "audio-only attack: an SNR, no PSNR");
}

#[test]
fn a_universal_perturbation_stays_in_its_ball_and_fools_some_clips() {
    use mcgurk::attacks::{apply_universal, lp, universal};
    use mcgurk::data::{self, DataOptions, Split};
    use mcgurk::models::predict::predict;
    let device = Device::flex();
    let model = zoo::find("audio").unwrap().load(&device).unwrap();
    let ds = data::open(&root().join("assets/data/farm-av"), &DataOptions { holdout: Some("tuxpaint".into()) }).unwrap();
    let (prepared, _, _) = mcgurk::train::prepare_all(&ds, &[Split::Train], model.info.input, &|_, _| {});
    let examples: Vec<Example> = prepared.iter().map(|p| p.example(model.info.input, None)).collect();
    let labels: Vec<usize> = prepared.iter().map(|p| p.label).collect();
    let correct = |exs: &[Example]| exs.iter().zip(&labels).filter(|(e, l)| predict(&model, e, &device).best() == **l).count();
    let clean = correct(&examples);
    let cfg = AttackConfig { modality: Modality::Audio, eps_a: 0.02, ..Default::default() };
    let (da, dv) = universal(&model.net, &examples, &labels, &cfg, 2);
    assert!(lp::linf(da.iter().copied()) <= 0.02 + 1e-6);
    assert!(dv.iter().all(|v| *v == 0.0), "audio-only attack leaves the pictures");
    let attacked: Vec<Example> = examples.iter().map(|e| apply_universal(e, &da, &dv)).collect();
    assert!(attacked.iter().all(|e| e.wave.iter().all(|v| (-1.0..=1.0).contains(v))));
    let fooled = correct(&attacked);
    assert!(fooled < clean, "one perturbation for all clips: {clean} -> {fooled} correct of {}", labels.len());
}
