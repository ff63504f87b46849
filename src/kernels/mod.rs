//! The WGSL compute kernels of `shaders/`. Every kernel has a CPU reference (`attacks::lp`,
//! `reference`) that the CPU path uses and the tests compare against. The attack's kernels
//! (projection, normalisation) run on burn's own GPU buffers ([`burn_buffers`]); the density
//! kernel on buffers of its own ([`Kernels`]). [`shared`] opens one wgpu device for both burn
//! and the kernels.

pub mod burn_buffers;
pub mod reference;
mod shared;

pub use shared::{Gpu, for_device, shared};

use std::borrow::Cow;
use std::sync::mpsc;

use wgpu::util::DeviceExt;

/// WGSL has no includes: the per-sample kernels get the shared reduction prepended.
pub const REDUCE_WGSL: &str = include_str!("../../shaders/reduce.wgsl");
pub const PROJECT_WGSL: &str = concat!(include_str!("../../shaders/reduce.wgsl"), include_str!("../../shaders/project.wgsl"));
pub const NORMALISE_WGSL: &str = concat!(include_str!("../../shaders/reduce.wgsl"), include_str!("../../shaders/normalise.wgsl"));
pub const DENSITY_WGSL: &str = include_str!("../../shaders/density.wgsl");

/// Every shader file, as compiled (the naga validation test walks this).
pub const ALL: [(&str, &str); 4] =
    [("reduce.wgsl", REDUCE_WGSL), ("project.wgsl", PROJECT_WGSL), ("normalise.wgsl", NORMALISE_WGSL), ("density.wgsl", DENSITY_WGSL)];

#[derive(Clone, Debug, thiserror::Error)]
pub enum KernelError {
    #[error("no GPU adapter (not even a software one such as lavapipe): {0}")]
    NoAdapter(String),
    #[error("cannot open the GPU device: {0}")]
    Device(String),
    #[error("shader {name} is invalid: {detail}")]
    Shader { name: String, detail: String },
    #[error("GPU work failed: {0}")]
    Run(String),
}

/// Blocks on a future that wgpu completes on native backends (with `poll` driving callbacks).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

pub struct Kernels {
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// The adapter's name, for reports ("llvmpipe ..." on lavapipe).
    pub adapter: String,
    density: wgpu::ComputePipeline,
}

impl Kernels {
    /// The kernels on a device of their own.
    pub fn new() -> Result<Self, KernelError> {
        let (_, adapter, device, queue) = open_device()?;
        Self::on(device, queue, adapter.get_info().name)
    }

    /// The kernels on an existing device (the one burn computes on, see [`shared`]).
    pub fn on(device: wgpu::Device, queue: wgpu::Queue, adapter: String) -> Result<Self, KernelError> {
        let name = adapter;
        let pipeline = |name: &str, src: &str| -> Result<wgpu::ComputePipeline, KernelError> {
            let module = compile(&device, name, src)?;
            Ok(device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            }))
        };
        Ok(Self {
            density: pipeline("density.wgsl", DENSITY_WGSL)?,
            device,
            queue,
            adapter: name,
        })
    }

    /// Validates `src` with naga (through wgpu) without keeping it.
    pub fn validate(&self, name: &str, src: &str) -> Result<(), KernelError> {
        compile(&self.device, name, src).map(|_| ())
    }

    fn storage(&self, data: &[u8], writable: bool) -> wgpu::Buffer {
        let mut usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        if writable {
            usage |= wgpu::BufferUsages::COPY_SRC;
        }
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: data, usage })
    }

    fn uniform(&self, data: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: data, usage: wgpu::BufferUsages::UNIFORM })
    }

    /// Binds `buffers` in order, dispatches `groups` workgroups and reads `out` back.
    fn run(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer], groups: u32, out: &wgpu::Buffer) -> Result<Vec<f32>, KernelError> {
        let entries: Vec<wgpu::BindGroupEntry> =
            buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect();
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &pipeline.get_bind_group_layout(0), entries: &entries });
        let size = out.size();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        }
        enc.copy_buffer_to_buffer(out, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| KernelError::Run(e.to_string()))?;
        rx.recv().map_err(|e| KernelError::Run(e.to_string()))?.map_err(|e| KernelError::Run(e.to_string()))?;
        let bytes = staging.slice(..).get_mapped_range().map_err(|e| KernelError::Run(e.to_string()))?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// Distance of each row of `emb` ([rows, dim]) to `centroids[labels[row]]`; p = 1, 2, any
    /// positive value, or infinity.
    pub fn centroid_distances(&self, emb: &[f32], dim: usize, centroids: &[f32], labels: &[u32], p: f32) -> Result<Vec<f32>, KernelError> {
        let rows = labels.len();
        let eb = self.storage(&bytes_f32(emb), false);
        let cb = self.storage(&bytes_f32(centroids), false);
        let lb = self.storage(&labels.iter().flat_map(|l| l.to_le_bytes()).collect::<Vec<u8>>(), false);
        let ob = self.storage(&vec![0u8; rows.max(1) * 4], true);
        let mut params = Vec::new();
        params.extend_from_slice(&(rows as u32).to_le_bytes());
        params.extend_from_slice(&(dim as u32).to_le_bytes());
        params.extend_from_slice(&(if p.is_infinite() { 0.0f32 } else { p }).to_le_bytes());
        params.resize(16, 0);
        let pb = self.uniform(&params);
        let mut out = self.run(&self.density, &[&eb, &cb, &lb, &ob, &pb], rows.div_ceil(64) as u32, &ob)?;
        out.truncate(rows);
        Ok(out)
    }
}

/// The default adapter and a device with all its features and limits (as cubecl asks for them,
/// so burn can run on it), except mappable primary buffers, which cubecl does not use.
pub(crate) fn open_device() -> Result<(wgpu::Instance, wgpu::Adapter, wgpu::Device, wgpu::Queue), KernelError> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .map_err(|e| KernelError::NoAdapter(e.to_string()))?;
    let desc = wgpu::DeviceDescriptor {
        label: Some("mcgurk"),
        required_features: adapter.features() - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
        required_limits: adapter.limits(),
        ..Default::default()
    };
    let (device, queue) = block_on(adapter.request_device(&desc)).map_err(|e| KernelError::Device(e.to_string()))?;
    Ok((instance, adapter, device, queue))
}

fn compile(device: &wgpu::Device, name: &str, src: &str) -> Result<wgpu::ShaderModule, KernelError> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(name), source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(src)) });
    match block_on(scope.pop()) {
        Some(e) => Err(KernelError::Shader { name: name.to_string(), detail: e.to_string() }),
        None => Ok(module),
    }
}

fn bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}
