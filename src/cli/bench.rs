//! `mcgurk bench`: model forward latency on this machine, for choosing input sizes (see the
//! README, "Model sizes"). Steady state: the first run of each configuration is discarded.

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
    Ok(())
}
