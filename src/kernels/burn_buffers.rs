//! The attack kernels of `shaders/` on burn's own GPU buffers: the WGSL is launched through
//! cubecl as a precompiled kernel, in the stream burn's own kernels run in, bound to the
//! tensors' buffers. Nothing is copied to or from the host, and nothing waits for the GPU: the
//! step that follows (burn's next forward pass) is queued behind the kernel.
//!
//! cubecl binds the buffers in the order given (`@binding(0)`, `@binding(1)`, ...) and the
//! parameters, as u64 words, in a uniform after them: the shaders' `Params` struct, last.

use std::hash::{DefaultHasher, Hash, Hasher};

use burn::backend::fusion::stream::StreamId;
use burn::backend::fusion::{NoOp, get_client};
use burn::backend::ir::{InitOperationIr, OperationIr, OperationOutput};
use burn::backend::wgpu::{CubeBackend, CubeTensor, Wgpu};
use burn::prelude::*;
use burn::tensor::DType;
use burn_cubecl::cubecl::ir::UIntKind;
use burn_cubecl::cubecl::ir::metadata::Info;
use burn_cubecl::cubecl::prelude::{
    AddressType, CubeCount, CubeDim, CubeKernel, ElemType, ExecutionMode, KernelDefinition, KernelId, KernelMetadata, KernelSettings, PrecompiledSource, Scope,
};
use burn_cubecl::cubecl::server::{KernelArguments, MetadataBindingInfo};

use super::{KernelError, NORMALISE_WGSL, PROJECT_WGSL};

/// Invocations per workgroup, as the shaders declare it (`@workgroup_size(256)`).
const WG: u32 = 256;
/// One workgroup per row: WebGPU's minimum limit on a dispatch's first dimension.
const MAX_ROWS: usize = 65_535;

/// A shader as cubecl launches it: its text is the kernel.
struct Wgsl {
    name: &'static str,
    source: &'static str,
}

impl KernelMetadata for Wgsl {
    fn id(&self) -> KernelId {
        // Compiled pipelines are cached by id alone: the id covers the text.
        let mut h = DefaultHasher::new();
        self.source.hash(&mut h);
        KernelId::new::<Self>().info((self.name, h.finish())).cube_dim(CubeDim::new_1d(WG).0)
    }

    fn address_type(&self) -> ElemType {
        UIntKind::U32.into()
    }
}

impl CubeKernel for Wgsl {
    fn define(&self) -> KernelDefinition {
        // No IR: the definition only fills the compilation cache's key.
        let settings = KernelSettings::new(CubeDim::new_1d(WG).0, ExecutionMode::Checked, AddressType::U32);
        KernelDefinition { body: Scope::root(settings.clone()), settings, info: Info::default() }
    }

    fn source(&self) -> Option<PrecompiledSource> {
        Some(PrecompiledSource { source: self.source.to_string(), entrypoint_name: "main".to_string(), lang: "wgsl" })
    }
}

/// `x`'s values as a contiguous f32 CubeCL tensor (its pending fused operations run first).
fn cube(x: Tensor<2>) -> Result<CubeTensor, KernelError> {
    let fused = x.try_into_primitive::<Wgpu>().map_err(|e| KernelError::Run(format!("not a tensor on a wgpu device: {e:?}")))?;
    let client = fused.client.clone();
    let t = client.resolve_tensor_float::<CubeBackend>(fused);
    if t.dtype != DType::F32 {
        return Err(KernelError::Run(format!("the attack kernels take f32 values, not {:?}", t.dtype)));
    }
    Ok(if t.is_contiguous() { t } else { burn_cubecl::kernel::into_contiguous(t) })
}

/// A kernel's output handed back to burn (registered with its fusion client like a tensor
/// made from data, without the data).
fn tensor(t: CubeTensor) -> Tensor<2> {
    let client = get_client::<CubeBackend>(&t.device);
    let (shape, dtype) = (t.meta.shape().clone(), t.dtype);
    let init = InitOperationIr::create(shape, dtype, || client.register_tensor_handle(t.into()));
    let fused = client.register(StreamId::current(), OperationIr::Init(init), NoOp::<CubeBackend>::new()).output();
    Tensor::from_primitive::<Wgpu>(fused)
}

/// Runs `kernel` with one workgroup per row of `inputs[0]` (rows of `row` values) into a new
/// tensor shaped like it.
fn launch(kernel: Wgsl, inputs: Vec<Tensor<2>>, row: usize, params: Vec<u64>) -> Result<Tensor<2>, KernelError> {
    let inputs = inputs.into_iter().map(cube).collect::<Result<Vec<_>, _>>()?;
    let first = inputs.first().ok_or_else(|| KernelError::Run("a kernel without inputs".into()))?;
    let n = first.meta.shape().num_elements();
    if inputs.iter().any(|t| t.meta.shape().num_elements() != n) {
        return Err(KernelError::Run(format!("{}: inputs of different sizes", kernel.name)));
    }
    let rows = if row == 0 { 0 } else { n / row };
    if rows * row != n || rows > MAX_ROWS || row > u32::MAX as usize {
        return Err(KernelError::Run(format!("{}: {n} values do not make rows of {row} (at most {MAX_ROWS} rows)", kernel.name)));
    }
    let client = first.client.clone();
    let out = CubeTensor::new_contiguous(client.clone(), first.device.clone(), first.meta.shape().clone(), client.empty(n * 4), DType::F32);
    let mut args = KernelArguments::new();
    for t in &inputs {
        args = args.with_buffer(t.handle.clone().binding());
    }
    args = args.with_buffer(out.handle.clone().binding()).with_info(MetadataBindingInfo::custom(params));
    let name = kernel.name;
    if rows > 0 {
        client.launch(Box::new(kernel), CubeCount::Static(rows as u32, 1, 1), args);
        // A kernel that does not compile or bind fails here, not at some later read.
        client.check([&out.handle]).map_err(|e| KernelError::Run(format!("{name}: {e}")))?;
    }
    Ok(tensor(out))
}

/// Two 32-bit values in one of cubecl's u64 parameter words (the first in the low half).
fn word(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

/// Each row of `g` (rows of `row` values; a GPU tensor) normalised: mode 0 sign, 1 L2, 2 L1
/// (`shaders/normalise.wgsl`).
pub fn normalise(g: Tensor<2>, row: usize, mode: u32) -> Result<Tensor<2>, KernelError> {
    // Params { n, mode }, padded to the 16 bytes a uniform struct takes.
    launch(Wgsl { name: "normalise.wgsl", source: NORMALISE_WGSL }, vec![g], row, vec![word(row as u32, mode), 0])
}

/// Each row of `x` projected onto the ball of radius `eps` around the same row of `clean` (L2
/// when `l2`, else L-inf), then clipped to [lo, hi] (`shaders/project.wgsl`).
pub fn project(x: Tensor<2>, clean: Tensor<2>, row: usize, eps: f32, lo: f32, hi: f32, l2: bool) -> Result<Tensor<2>, KernelError> {
    // Params { n, norm, eps, lo, hi }, padded to 32 bytes.
    let params = vec![word(row as u32, u32::from(l2)), word(eps.to_bits(), lo.to_bits()), word(hi.to_bits(), 0), 0];
    launch(Wgsl { name: "project.wgsl", source: PROJECT_WGSL }, vec![x, clean], row, params)
}
