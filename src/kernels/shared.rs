//! One wgpu device for burn and the WGSL kernels: opened once per process, registered with
//! burn's wgpu runtime (`Device::wgpu_options().setup`), so models, attack gradients and the
//! projection/normalisation kernels all run on the same GPU queue.

use std::sync::OnceLock;

use burn::prelude::Device;
use burn::tensor::wgpu::WgpuSetup;

use super::{KernelError, Kernels, open_device};

pub struct Gpu {
    /// burn's device for this wgpu device (use `.autodiff()` for gradients).
    pub device: Device,
    pub kernels: Kernels,
}

static GPU: OnceLock<Result<Gpu, KernelError>> = OnceLock::new();

/// The process's shared GPU, opened on first use. On a machine with no adapter at all this is
/// `KernelError::NoAdapter`; an adapter whose device, kernels or burn setup fail gives another
/// variant (every caller has the CPU path to fall back on; tests tell the two apart).
pub fn shared() -> Result<&'static Gpu, KernelError> {
    GPU.get_or_init(open).as_ref().map_err(Clone::clone)
}

fn open() -> Result<Gpu, KernelError> {
    let (instance, adapter, device, queue) = open_device()?;
    let name = adapter.get_info().name;
    let backend = adapter.get_info().backend;
    let kernels = Kernels::on(device.clone(), queue.clone(), name)?;
    let setup = WgpuSetup { instance, adapter, device, queue, backend };
    let device = Device::wgpu_options().setup(setup).init().map_err(|e| KernelError::Device(e.to_string()))?;
    Ok(Gpu { device, kernels })
}

/// The kernels that share `device`, when it is the shared GPU (autodiff or not); None for the
/// CPU backends and for other wgpu devices, which use the CPU references.
pub fn for_device(device: &Device) -> Option<&'static Kernels> {
    match GPU.get() {
        Some(Ok(gpu)) if gpu.device == *device => Some(&gpu.kernels),
        _ => None,
    }
}
