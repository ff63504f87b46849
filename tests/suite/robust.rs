//! Training for robustness: fast adversarial training against vanilla on a synthetic task with
//! a non-robust shortcut; the robust options wired through `train` (mixup log, similarity).

use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use mcgurk::attacks::{AttackConfig, Method, Modality, Norm, attack_batch};
use mcgurk::data::rng::Rng;
use mcgurk::models::input::{Example, batch};
use mcgurk::models::predict::argmax;
use mcgurk::models::{AvNet, FusionKind, InputSize, Widths};
use mcgurk::train::robust::{FastAdversarial, mix_targets, soft_loss};

use burn::prelude::*;

use crate::common::*;

const SIZE: InputSize = InputSize::new(8191, 32);

/// Two classes. The robust cue: a loud tone whose pitch is the class, but wrong on a fifth of
/// the training examples. The shortcut: a faint offset (+-0.01) that always tells the class.
/// A vanilla model leans on the shortcut, which an attack of eps 0.03 flips; a model trained
/// against that attack cannot use it and must learn the tone.
fn example(class: usize, tone_lies: bool, rng: &mut Rng) -> Example {
    let pitch = if (class == 1) != tone_lies { 0.35 } else { 0.12 };
    let phase = rng.range(0.0, 6.28);
    let amp = rng.range(0.3, 0.5);
    let offset = if class == 1 { 0.01 } else { -0.01 };
    let wave = (0..SIZE.samples).map(|t| amp * (pitch * t as f32 + phase).sin() + offset + 0.01 * rng.normal()).collect();
    Example { wave, pixels: vec![0.5; 3 * SIZE.pixels * SIZE.pixels], size: SIZE }
}

fn train(adversarial: Option<&FastAdversarial>) -> AvNet {
    let device = Device::flex().autodiff();
    let mut net = mcgurk::train::seeded_init(AvNet::new(FusionKind::AudioOnly, Widths([4, 4, 8, 8]), 2, &device), 5, &device);
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let mut rng = Rng::new(9);
    for _ in 0..150 {
        let labels: Vec<usize> = (0..16).map(|k| k % 2).collect();
        let examples: Vec<Example> = labels.iter().map(|&c| { let lies = rng.uniform() < 0.2; example(c, lies, &mut rng) }).collect();
        let targets = mix_targets(&labels, &vec![(0, 0.0); 16], 2);
        let examples = match adversarial {
            Some(at) => at.perturb(&net, &examples, &targets, &mut rng, &device),
            None => examples,
        };
        let refs: Vec<&Example> = examples.iter().collect();
        let (w, px) = batch(&refs, &device);
        let loss = soft_loss(net.forward(w, px).logits, &targets, &device);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-2, net.clone(), grads);
    }
    net.valid()
}

/// (clean accuracy, accuracy under PGD-10 at eps 0.03) on honest test examples.
fn accuracy(net: &AvNet) -> (f32, f32) {
    let mut rng = Rng::new(77);
    let labels: Vec<usize> = (0..64).map(|k| k % 2).collect();
    let examples: Vec<Example> = labels.iter().map(|&c| example(c, false, &mut rng)).collect();
    let cfg = AttackConfig { method: Method::Pgd, norm: Norm::Linf, modality: Modality::Audio, eps_a: 0.03, steps: 10, ..Default::default() };
    let results = attack_batch(net, &examples, &labels, &cfg);
    let clean = results.iter().zip(&labels).filter(|(r, l)| argmax(&r.logits_clean) == **l).count();
    let robust = results.iter().zip(&labels).filter(|(r, l)| argmax(&r.logits_adv) == **l).count();
    (clean as f32 / 64.0, robust as f32 / 64.0)
}

#[test]
fn fast_adversarial_training_raises_robust_accuracy() {
    let (vanilla_clean, vanilla_robust) = accuracy(&train(None));
    let at = FastAdversarial { eps_a: 0.03, eps_v: 0.0 };
    let (at_clean, at_robust) = accuracy(&train(Some(&at)));
    eprintln!("vanilla: clean {vanilla_clean} robust {vanilla_robust}; adversarial: clean {at_clean} robust {at_robust}");
    // Measured: vanilla robust 0 (clean 0.92), adversarially trained robust 1 (clean 1).
    assert!(at_robust >= vanilla_robust + 0.3, "vanilla robust {vanilla_robust}, adversarially trained {at_robust}");
    assert!(at_clean >= 0.7, "the adversarially trained model still classifies: {at_clean}");
}

/// The FGSM-RS batch stays inside the ball and the valid range, and raises the loss.
#[test]
fn the_fast_attack_respects_its_budget() {
    let device = Device::flex().autodiff();
    // Seeded: burn's own initialisation is not, and some draws leave the loss flat.
    let net = mcgurk::train::seeded_init(AvNet::new(FusionKind::Sum, Widths([4, 4, 8, 8]), 3, &device), 3, &device);
    let mut rng = Rng::new(1);
    let mut examples: Vec<Example> = (0..4).map(|c| example(c % 2, false, &mut rng)).collect();
    for e in &mut examples {
        e.pixels = (0..e.pixels.len()).map(|i| if i % 3 == 0 { 0.0 } else { (i % 7) as f32 / 6.0 }).collect();
    }
    let labels = [0, 1, 2, 0];
    let targets = mix_targets(&labels, &[(0, 0.0); 4], 3);
    let at = FastAdversarial { eps_a: 0.02, eps_v: 4.0 / 255.0 };
    let adv = at.perturb(&net, &examples, &targets, &mut rng, &device);
    for (a, e) in adv.iter().zip(&examples) {
        let da = a.wave.iter().zip(&e.wave).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        let dv = a.pixels.iter().zip(&e.pixels).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(da <= 0.02 + 1e-6 && da > 0.015, "audio moved {da}");
        assert!(dv <= 4.0 / 255.0 + 1e-6 && dv > 0.0, "pixels moved {dv}");
        assert!(a.pixels.iter().all(|p| (0.0..=1.0).contains(p)) && a.wave.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    // The loss the attack climbs: the model as it trains (BatchNorm on batch statistics).
    let loss = |ex: &[Example]| -> f32 {
        let refs: Vec<&Example> = ex.iter().collect();
        let (w, px) = batch(&refs, &device);
        soft_loss(net.forward(w, px).logits, &targets, &device).into_scalar()
    };
    assert!(loss(&adv) > loss(&examples), "the attack raises the loss");
}

/// `train` with density-convexity mixup, fast adversarial training and MinSim: the log says,
/// per epoch, what the mixup measured and selected.
#[test]
fn robust_options_run_through_train() {
    use mcgurk::models::Size;
    use mcgurk::train::{Backend, DcMixup, OptimizerKind, Similarity, TrainConfig};
    let dir = tempfile::tempdir().unwrap();
    let f = root().join("assets/data/farm-av");
    let mut text = String::new();
    for class in ["cow", "dog", "duck"] {
        text += &format!("{}/{class}/gcompris-{class}.ogg;{}/{class}/gcompris-{class}.webp,{class},train\n", f.display(), f.display());
    }
    std::fs::write(dir.path().join("m.csv"), text).unwrap();
    let cfg = TrainConfig {
        data: dir.path().join("m.csv"),
        holdout: None,
        fusion: FusionKind::Sum,
        size: Size::Small,
        epochs: 2,
        batch: 3,
        samples_per_epoch: 6,
        lr: 1e-3,
        optimizer: OptimizerKind::Adam,
        seed: 3,
        augment: true,
        backend: Backend::Cpu,
        out: dir.path().join("run"),
        name: "robust".into(),
        resume: false,
        half: false,
        modality_dropout: 0.0,
        mixup: 0.0,
        // Every class selected: any kappa is below 2, any rho above -1.
        dc_mixup: Some(DcMixup { kappa_below: 2.0, rho_above: Some(-1.0), tau: 0.6, views: 4, pairs: 200, prob: 1.0 }),
        adversarial: Some(FastAdversarial { eps_a: 0.01, eps_v: 2.0 / 255.0 }),
        similarity: Some((Similarity::MinSim, 0.5)),
        average_last: 0,
        init: None,
    };
    let log = mcgurk::train::train(&cfg, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    for e in &log.epochs {
        let m = e.mixup.as_ref().expect("mixup logged each epoch");
        assert_eq!(m.selected, ["cow", "dog", "duck"]);
        assert!(m.kappa.iter().all(|k| k.is_some()) && m.rho.iter().all(|r| r.is_some()), "{m:?}");
        assert_eq!(m.mixed, 6, "prob 1: every example mixed");
        assert!(e.train_loss.is_finite());
    }
    let text = std::fs::read_to_string(dir.path().join("run/train_log.json")).unwrap();
    assert!(text.contains("\"selected\"") && text.contains("min_sim"), "{text}");
}

/// ExFMem sits inside the model's forward pass, so the attack's gradient copy of the model
/// carries it: the attack sees (and differentiates through) the defended logits.
#[test]
fn attacks_go_through_exfmem() {
    use mcgurk::models::exfmem::{Bank, ExFMem};
    let device = Device::flex();
    // Seeded: burn's initialisation is not, and 2 runs in 25 failed. Some draws of this
    // 4-channel net give a flat loss at this budget (seed 4: the same loss to 8 digits) or a
    // last PGD step a hair below the start (seed 8); seed 1 is a live one.
    let mut net = mcgurk::train::seeded_init(AvNet::new(FusionKind::Sum, Widths([4, 4, 8, 8]), 3, &device), 1, &device);
    let mut rng = Rng::new(4);
    let dim = 8;
    let bank = |rng: &mut Rng| Bank::new((0..5 * dim).map(|_| rng.normal()).collect(), dim);
    let ex = example(1, false, &mut rng);
    let logits = |net: &AvNet| -> Vec<f32> {
        let (w, px) = batch(&[&ex], &device);
        net.forward(w, px).logits.try_to_vec_as::<f32>().unwrap()
    };
    let plain = logits(&net);
    net.exfmem = Some(std::sync::Arc::new(ExFMem { audio: Some(bank(&mut rng)), visual: Some(bank(&mut rng)), lambda: 0.1, iterations: 20 }));
    let defended = logits(&net);
    assert!(plain.iter().zip(&defended).any(|(a, b)| (a - b).abs() > 1e-4), "the defense changes the logits");
    let cfg = AttackConfig { method: Method::Pgd, norm: Norm::Linf, modality: Modality::Both, eps_a: 0.01, eps_v: 4.0 / 255.0, steps: 3, ..Default::default() };
    let r = mcgurk::attacks::attack(&net, &ex, 1, &cfg);
    for (a, b) in r.logits_clean.iter().zip(&defended) {
        assert!((a - b).abs() < 1e-4, "the attack's model is the defended one: {:?} vs {defended:?}", r.logits_clean);
    }
    assert!(r.loss_adv > r.loss_clean, "and its loss goes up through ISTA: {} -> {}", r.loss_clean, r.loss_adv);
}
