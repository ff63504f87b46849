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
    let ds = data::open(&root().join("assets/data/farm-av"), &DataOptions { holdout: Some("tuxpaint".into()), ..Default::default() }).unwrap();
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

#[test]
fn a_batch_is_attacked_as_each_clip_alone() {
    use mcgurk::attacks::attack_batch;
    let device = Device::flex();
    let model = zoo::find("sum").unwrap().load(&device).unwrap();
    let a = demo_example(model.info.input);
    let mut b = a.clone();
    b.wave.reverse();
    b.pixels.iter_mut().for_each(|p| *p = 1.0 - *p);
    // No random start: one generator walks the whole batch, so starts differ from the clip's own.
    let cfg = AttackConfig { eps_a: 0.005, eps_v: 2.0 / 255.0, steps: 3, ..Default::default() };
    let both = attack_batch(&model.net, &[a.clone(), b.clone()], &[2, 5], &cfg);
    for (batched, (ex, label)) in both.iter().zip([(&a, 2), (&b, 5)]) {
        let alone = attack(&model.net, ex, label, &cfg);
        assert!((batched.loss_adv - alone.loss_adv).abs() < 1e-3 * alone.loss_adv.abs().max(1.0), "{} vs {}", batched.loss_adv, alone.loss_adv);
        assert!((batched.loss_clean - alone.loss_clean).abs() < 1e-4 * alone.loss_clean.abs().max(1.0));
        let moved = batched.adversarial.pixels.iter().zip(&alone.adversarial.pixels).filter(|(x, y)| (*x - *y).abs() > 1e-5).count();
        assert!(moved <= ex.pixels.len() / 100, "{moved} pixels differ between batched and alone");
        assert!(batched.norms.audio_linf <= 0.005 + 1e-6 && batched.norms.video_linf <= 2.0 / 255.0 + 1e-6);
    }
}

#[test]
fn restarts_keep_the_strongest_run() {
    let device = Device::flex();
    let model = zoo::find("audio").unwrap().load(&device).unwrap();
    let ex = demo_example(model.info.input);
    let cow = model.info.classes.iter().position(|c| c == "cow").unwrap();
    // Too small a budget to flip the prediction: the kept run is the one with the highest loss,
    // and run 0 is the same in both, so more restarts never lose.
    let cfg = AttackConfig { modality: Modality::Audio, eps_a: 2e-4, steps: 3, random_start: true, seed: 11, ..Default::default() };
    let one = attack(&model.net, &ex, cow, &cfg);
    let four = attack(&model.net, &ex, cow, &AttackConfig { restarts: 4, ..cfg.clone() });
    assert_eq!(mcgurk::models::predict::argmax(&four.logits_adv), cow, "the budget was meant not to flip");
    assert!(four.loss_adv >= one.loss_adv - 1e-6, "4 restarts {} < 1 run {}", four.loss_adv, one.loss_adv);
    assert!(four.norms.audio_linf <= 2e-4 + 1e-7);
}

#[test]
fn bce_attacks_climb_the_per_class_sigmoid_loss_of_a_label_set() {
    use mcgurk::attacks::{Loss, attack_sets};
    let device = Device::flex();
    let model = zoo::find("sum").unwrap().load(&device).unwrap();
    let ex = demo_example(model.info.input);
    let labels = vec![0usize, 2];
    let cfg = AttackConfig { loss: Loss::Bce, eps_a: 0.005, eps_v: 2.0 / 255.0, steps: 3, ..Default::default() };
    let r = attack_sets(&model.net, std::slice::from_ref(&ex), std::slice::from_ref(&labels), &cfg).remove(0);
    // The objective is mean_c [softplus(z_c) - t_c z_c] with t the multi-hot label set.
    let bce = |z: &[f32]| {
        z.iter().enumerate().map(|(c, &z)| (1.0 + z.exp()).ln() - if labels.contains(&c) { z } else { 0.0 }).sum::<f32>() / z.len() as f32
    };
    assert!((r.loss_clean - bce(&r.logits_clean)).abs() < 1e-4, "{} vs {}", r.loss_clean, bce(&r.logits_clean));
    assert!((r.loss_adv - bce(&r.logits_adv)).abs() < 1e-4);
    assert!(r.loss_adv > r.loss_clean, "{} -> {}", r.loss_clean, r.loss_adv);
    assert!(r.norms.audio_linf <= 0.005 + 1e-6 && r.norms.video_linf <= 2.0 / 255.0 + 1e-6);
}

/// Values spread over `range` with a tenth of them within `margin` of either end, so that a
/// step of more than `margin` must be clipped.
fn near_the_edges(n: usize, (lo, hi): (f32, f32), margin: f32, seed: u64) -> Vec<f32> {
    let mut r = mcgurk::data::rng::Rng::new(seed);
    (0..n)
        .map(|i| match i % 10 {
            0 => hi - r.range(0.0, margin),
            5 => lo + r.range(0.0, margin),
            _ => r.range(lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo)),
        })
        .collect()
}

/// The GPU path: tiny models on the shared wgpu device (lavapipe here), whose attack steps run
/// in the WGSL kernels (the result says so: no step fell back to the CPU), give what the CPU
/// path gives, for FGSM, PGD and MIM, both norms, the audio and the picture, with inputs at the
/// edges of their ranges so that the projection's clipping does work.
#[test]
fn the_gpu_attack_path_matches_the_cpu_path() {
    use burn::module::Module;
    use mcgurk::attacks::{Loss, VectorPath};
    use mcgurk::models::{AvNet, FusionKind, InputSize, Widths};
    let Some(gpu) = shared_gpu("the_gpu_attack_path_matches_the_cpu_path") else { return };
    assert!(mcgurk::kernels::for_device(&gpu.device).is_some() && mcgurk::kernels::for_device(&gpu.device.clone().autodiff()).is_some());
    assert!(mcgurk::kernels::for_device(&Device::flex()).is_none());
    let cpu = Device::flex();
    let size = InputSize::new(8191, 32);
    let ex = Example {
        wave: near_the_edges(size.samples, (-1.0, 1.0), 0.002, 1),
        pixels: near_the_edges(3 * 32 * 32, (0.0, 1.0), 0.002, 2),
        size,
    };
    // Seeded weights: burn's own initialisation is not, and some draws give a flat loss.
    let audio_net = mcgurk::train::seeded_init(AvNet::new(FusionKind::AudioOnly, Widths([4, 4, 8, 8]), 3, &cpu), 11, &cpu);
    let visual_net = mcgurk::train::seeded_init(AvNet::new(FusionKind::VisualOnly, Widths([4, 4, 8, 8]), 3, &cpu), 12, &cpu);
    let mut cases = Vec::new();
    for (norm, eps) in [(Norm::Linf, 0.01), (Norm::L2, 0.3)] {
        for method in [Method::Fgsm, Method::Pgd, Method::Mim] {
            cases.push((&audio_net, Modality::Audio, method, norm, eps));
        }
    }
    for method in [Method::Fgsm, Method::Pgd] {
        cases.push((&visual_net, Modality::Video, method, Norm::Linf, 0.01));
    }
    for (net, modality, method, norm, eps) in cases {
        let cfg = AttackConfig { method, norm, modality, eps_a: eps, eps_v: eps, steps: 3, loss: Loss::CrossEntropy, ..Default::default() };
        let on_cpu = attack(net, &ex, 1, &cfg);
        let on_gpu = attack(&net.clone().fork(&gpu.device), &ex, 1, &cfg);
        let what = format!("{method:?} {norm:?} {modality:?}");
        assert_eq!(on_cpu.vector_path, VectorPath::Cpu, "{what}");
        assert_eq!(on_gpu.vector_path, VectorPath::Gpu, "{what}: the kernels did not run");
        assert!((on_cpu.loss_adv - on_gpu.loss_adv).abs() < 1e-3, "{what}: cpu {} gpu {}", on_cpu.loss_adv, on_gpu.loss_adv);
        assert!(on_gpu.loss_adv > on_gpu.loss_clean, "{what}: loss {} -> {}", on_gpu.loss_clean, on_gpu.loss_adv);
        let (x_cpu, x_gpu, clean, (lo, hi)) = match modality {
            Modality::Audio => (&on_cpu.adversarial.wave, &on_gpu.adversarial.wave, &ex.wave, (-1.0, 1.0)),
            _ => (&on_cpu.adversarial.pixels, &on_gpu.adversarial.pixels, &ex.pixels, (0.0, 1.0)),
        };
        let diff = x_cpu.iter().zip(x_gpu).filter(|(a, b)| (*a - *b).abs() > 1e-4).count();
        // Sign steps can flip where a gradient entry is ~0; allow a handful of values.
        assert!(diff <= x_cpu.len() / 100, "{what}: {diff} values differ");
        assert!(x_gpu.iter().all(|v| (lo..=hi).contains(v)), "{what}: out of range");
        if norm == Norm::Linf {
            // Values that started within 0.002 of an end and moved towards it were clipped.
            let clipped = x_gpu.iter().zip(clean).filter(|(x, c)| (**x == hi && hi - **c < 0.002) || (**x == lo && **c - lo < 0.002)).count();
            assert!(clipped > 0, "{what}: no value was clipped at the range's ends");
        }
        let n = on_gpu.norms;
        let bound = match (modality, norm) {
            (Modality::Audio, Norm::Linf) => n.audio_linf,
            (Modality::Audio, Norm::L2) => n.audio_l2,
            (_, Norm::Linf) => n.video_linf,
            (_, Norm::L2) => n.video_l2,
        };
        assert!(bound <= eps * 1.0001 + 1e-6, "{what}: {bound}");
    }
}
