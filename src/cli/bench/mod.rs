//! `mcgurk bench`: forward latency (for choosing input sizes, README "Model sizes"), the
//! workbench's update times, PGD beside PyTorch (`--pytorch`) and the WGSL kernels. Steady
//! state: the first run of each configuration is discarded.

mod attacks;
mod frontend;
mod machine;
mod pytorch;

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Args as ClapArgs;

use crate::models::{AvNet, FusionKind, Size};
use crate::train::Backend;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Timed repetitions per configuration.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Also time the wgpu backend (lavapipe where there is no GPU; first calls compile kernels).
    #[arg(long)]
    wgpu: bool,
    /// Run only these parts (forward, workbench, attacks, kernels, frontend, video); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run the attacks (and the video model) in PyTorch too, on the same weights and inputs, and
    /// print both times and their ratio (needs a Python with torch and safetensors; torchvision
    /// for the video model).
    #[arg(long)]
    pytorch: bool,
    /// The Python for --pytorch (default: $MCGURK_PYTHON, else python3 on PATH).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Model sizes of the attack benchmark.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["small", "full"])]
    sizes: Vec<super::train::SizeArg>,
    /// Batch sizes of the attack benchmark.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8])]
    batches: Vec<usize>,
}

/// The middle value of the timed runs (the upper middle of an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_forward(net: &AvNet, samples: usize, pixels: usize, reps: usize, device: &Device) -> f64 {
    let wave = Tensor::<3>::random([1, 1, samples], Distribution::Uniform(-1.0, 1.0), device);
    let px = Tensor::<4>::random([1, 3, pixels, pixels], Distribution::Uniform(0.0, 1.0), device);
    let run = || net.forward(wave.clone(), px.clone()).logits.try_to_vec_as::<f32>().expect("logits");
    run();
    let start = Instant::now();
    for _ in 0..reps {
        run();
    }
    start.elapsed().as_secs_f64() * 1000.0 / reps as f64
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    const PARTS: [&str; 6] = ["forward", "workbench", "attacks", "kernels", "frontend", "video"];
    if let Some(bad) = args.only.iter().find(|p| !PARTS.contains(&p.as_str())) {
        anyhow::bail!("--only: unknown part '{bad}' ({})", PARTS.join(", "));
    }
    let part = |name: &str| args.only.is_empty() || args.only.iter().any(|p| p == name);
    if part("forward") {
        forward(args);
    }
    if part("workbench") {
        workbench(args.reps.min(5))?;
    }
    let torch = if args.pytorch && (part("attacks") || part("video")) {
        match pytorch::Torch::find(pytorch::python(args.python.as_deref())) {
            Ok(t) => Some(t),
            Err(e) => {
                println!("\nPyTorch side skipped: {e:#}");
                None
            }
        }
    } else {
        None
    };
    if part("attacks") {
        let sizes: Vec<Size> = args.sizes.iter().map(|&s| s.into()).collect();
        attacks::run(args.reps.min(3), args.wgpu, torch.as_ref(), &sizes, &args.batches)?;
    }
    if part("kernels") {
        kernels(args.reps);
    }
    if part("frontend") {
        frontend::run(args.reps.min(5));
    }
    if part("video") {
        video(args.reps.min(5), torch.as_ref())?;
    }
    Ok(())
}

fn forward(args: &Args) {
    let mut backends = vec![("cpu (flex)", Backend::Cpu)];
    if args.wgpu {
        backends.push(("wgpu", Backend::Wgpu));
    }
    println!("forward latency, batch 1, one model (Sum fusion), ms; seven models cost ~7x");
    println!("{:<12} {:<6} {:>8} {:>7} {:>10}", "backend", "size", "samples", "pixels", "ms");
    let all = [
        (Size::Small, 16_383, 112),
        (Size::Small, 32_767, 112),
        (Size::Small, 65_535, 112),
        (Size::Small, 32_767, 224),
        (Size::Full, 65_535, 224),
    ];
    for (name, backend) in backends {
        let device = backend.device();
        // On lavapipe every new shape compiles kernels for minutes: time the two that matter.
        let configs: Vec<_> = match backend {
            Backend::Cpu => all.to_vec(),
            Backend::Wgpu => vec![all[1], all[4]],
        };
        for (size, samples, pixels) in configs {
            let net = AvNet::new(FusionKind::Sum, size, 9, &device);
            let ms = time_forward(&net, samples, pixels, args.reps, &device);
            println!("{name:<12} {:<6} {samples:>8} {pixels:>7} {ms:>10.1}", size.name());
        }
    }
}

/// The workbench's model thread (`live::Live`) on the demo clip: a new frame, a slider move
/// under FGSM (the clean passes cached) and PGD-10; for the seven demo models, scheduled both
/// ways (all models at once, and one after another with every core inside each), and for one
/// full-size model (ResNet-18 at 224 px and the full audio net, as a researcher's own).
fn workbench(reps: usize) -> anyhow::Result<()> {
    use crate::attacks::{AttackConfig, Method};
    use crate::live::{Live, measure};
    use crate::media::{Job, LoadOptions};
    use crate::models::input::Example;
    use crate::models::{LoadedModel, ModelInfo};
    let device = Device::flex();
    let path = crate::demo::demo_clip_path()?;
    let clip = crate::media::open(&path, &LoadOptions::default(), &Job::detached())?;
    let fgsm = AttackConfig { method: Method::Fgsm, eps_a: 0.005, eps_v: 2.0 / 255.0, ..AttackConfig::default() };
    let pgd = AttackConfig { method: Method::Pgd, steps: 10, ..fgsm.clone() };
    let threads = rayon::current_num_threads();
    let centre = Example::centre_time(&clip);
    let full = || -> Vec<LoadedModel> {
        let info = ModelInfo {
            name: "full-size Concat".into(),
            fusion: FusionKind::Concat,
            classes: (0..9).map(|c| format!("class {c}")).collect(),
            input: Size::Full.input(),
            format_version: crate::models::file::MODEL_FORMAT_VERSION,
        };
        vec![LoadedModel { net: AvNet::new(FusionKind::Concat, Size::Full, 9, &device), info }]
    };
    let setups: [(String, Vec<LoadedModel>, usize); 3] = [
        ("7 demo models, all at once".into(), crate::models::zoo::load_all(&device)?, threads),
        ("7 demo models, one after another".into(), crate::models::zoo::load_all(&device)?, 1),
        ("1 full-size model (224 px, 65535 samples)".into(), full(), 1),
    ];
    println!("\nworkbench update, demo clip, cpu (flex, {threads} threads), ms (median of {} frames)", reps.max(1));
    for (title, models, at_once) in setups {
        let mut live = Live::new(models, device.clone());
        live.set_models_at_once(at_once);
        println!("{title}");
        let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
        for k in 0..reps.max(1) {
            // A different frame each time, so the clean passes are computed afresh.
            let t = centre + 0.125 * k as f64;
            for (i, (name, ms)) in measure(&mut live, &clip, t, &fgsm, &pgd).into_iter().enumerate() {
                if rows.len() <= i {
                    rows.push((name, Vec::new()));
                }
                rows[i].1.push(ms);
            }
        }
        for (name, ms) in rows {
            println!("  {name:<52} {:>8.0}", median(ms));
        }
    }
    Ok(())
}

/// The WGSL projection kernel against its CPU reference: GB/s of f32 traffic (read x and the
/// clean input, write the result), 8 samples of 65535 values, L2. The kernel runs as attacks
/// run it, on values already in burn's GPU buffers (one read-back after all repetitions).
fn kernels(reps: usize) {
    use crate::attacks::lp;
    use burn::prelude::*;
    use burn::tensor::TensorData;
    let (n, batch) = (65_535usize, 8usize);
    let x: Vec<f32> = (0..n * batch).map(|i| ((i % 97) as f32 / 97.0) - 0.5).collect();
    let clean: Vec<f32> = (0..n * batch).map(|i| ((i % 89) as f32 / 89.0) - 0.5).collect();
    let bytes = (3 * 4 * n * batch) as f64;
    let reps = reps.max(1);
    println!("\nL2 projection, {batch} x {n} f32");
    let start = Instant::now();
    for _ in 0..reps {
        let mut y = x.clone();
        for (ys, cs) in y.chunks_mut(n).zip(clean.chunks(n)) {
            lp::project_l2(ys, cs, 1.0, -1.0, 1.0);
        }
    }
    let cpu = start.elapsed().as_secs_f64() / reps as f64;
    println!("cpu reference      {:>8.2} GB/s", bytes / cpu / 1e9);
    let gpu = match crate::kernels::shared() {
        Ok(gpu) => gpu,
        Err(e) => return println!("wgsl: skipped ({e})"),
    };
    let on_gpu = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [batch, n]), &gpu.device);
    let (xt, ct) = (on_gpu(&x), on_gpu(&clean));
    let project = || crate::kernels::burn_buffers::project(xt.clone(), ct.clone(), n, 1.0, -1.0, 1.0, true);
    // The first launch compiles the pipeline.
    match project() {
        Ok(t) => drop(t.into_data()),
        Err(e) => return println!("wgsl: failed ({e})"),
    }
    let start = Instant::now();
    let mut last = None;
    for _ in 0..reps {
        match project() {
            Ok(t) => last = Some(t),
            Err(e) => return println!("wgsl: failed ({e})"),
        }
    }
    if let Some(t) = last {
        let _ = t.into_data();
    }
    let secs = start.elapsed().as_secs_f64() / reps as f64;
    println!("wgsl ({:<12}) {:>8.2} GB/s (on burn's GPU buffers)", gpu.kernels.adapter.chars().take(12).collect::<String>(), bytes / secs / 1e9);
}

/// torchvision's R(2+1)D-18 at its published widths on the CPU, batch 1, 8 frames of 112 px:
/// a forward pass and an attack step's input gradient (forward and backward, inference-mode
/// BatchNorm, no parameter gradients), ms; beside torchvision's own model on the same weights
/// and clip when `torch` is given.
fn video(reps: usize, torch: Option<&pytorch::Torch>) -> anyhow::Result<()> {
    use crate::models::r2plus1d::{self, R2Plus1d};
    let reps = reps.max(1);
    let device = Backend::Cpu.device();
    let net = R2Plus1d::new([45, 64], [64, 128, 256, 512], &device);
    let clip = Tensor::<5>::random([1, 3, 8, 112, 112], Distribution::Uniform(0.0, 1.0), &device);
    let timed = |f: &dyn Fn()| {
        f();
        median(
            (0..reps)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    };
    let feature = || net.forward(clip.clone()).try_to_vec_as::<f32>().expect("feature");
    let forward = timed(&|| drop(feature()));
    let tracked = net.valid().fork(&device.clone().autodiff()).no_grad();
    let gradient = timed(&|| {
        let x = clip.clone().autodiff().require_grad();
        let grads = tracked.forward(x.clone()).sum().backward();
        drop(x.grad(&grads).map(|g| g.try_to_vec_as::<f32>().expect("gradient")));
    });
    let threads = rayon::current_num_threads();
    println!("\nR(2+1)D-18 (torchvision widths), batch 1, 8 x 112 x 112, cpu, ms (median of {reps})");
    let Some(torch) = torch else {
        println!("{:<16}{:>10}\n{:<16}{forward:>10.0}\n{:<16}{gradient:>10.0}", "", "McGurk", "forward", "input gradient");
        return Ok(());
    };
    let mut w = crate::models::state_dict::Writer::default();
    r2plus1d::export(&net, "", &mut w);
    let weights = torch.write("r2plus1d.safetensors", &w.st)?;
    let mut x = crate::models::safetensors::SafeTensors::default();
    x.insert("clip", clip.dims().to_vec(), clip.clone().try_to_vec_as::<f32>().expect("clip"));
    let inputs = torch.write("r2plus1d-clip.safetensors", &x)?;
    let args = ["--weights".into(), weights.display().to_string(), "--inputs".into(), inputs.display().to_string(), "--reps".into(), reps.to_string(), "--threads".into(), threads.to_string()];
    let theirs: pytorch::VideoTiming = torch.script("bench_video.py", &args)?;
    // Both sides computed the same feature (float32 rounding apart), or the times mean nothing.
    let ours = feature();
    let scale = theirs.feature.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    let worst = ours.iter().zip(&theirs.feature).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    if ours.len() != theirs.feature.len() || worst > 1e-3 * scale {
        anyhow::bail!("bench_video.py computed another feature (max difference {worst}, scale {scale}): not the same model");
    }
    let (tf, tg) = (median(theirs.forward.iter().map(|s| s * 1000.0).collect()), median(theirs.gradient.iter().map(|s| s * 1000.0).collect()));
    println!("(PyTorch {}, {} threads; McGurk {threads} threads; features agree to {:.1e} of their scale)", theirs.torch, theirs.threads, worst / scale);
    println!("{:<16}{:>10}{:>10}{:>8}", "", "McGurk", "PyTorch", "ratio");
    println!("{:<16}{forward:>10.0}{tf:>10.0}{:>8.2}", "forward", forward / tf);
    println!("{:<16}{gradient:>10.0}{tg:>10.0}{:>8.2}", "input gradient", gradient / tg);
    Ok(())
}
