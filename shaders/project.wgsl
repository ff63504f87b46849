// Needs reduce.wgsl prepended (workgroup_sum, WG).
// Per-sample projection onto the Lp ball around the clean input, fused with valid-range
// clipping. One workgroup per sample: L2 needs the sample's norm, reduced in shared memory.
// CPU reference: src/attacks/lp.rs (project_linf, project_l2).

struct Params {
    n: u32,        // values per sample
    norm: u32,     // 0 = L-inf, 1 = L2
    eps: f32,
    lo: f32,
    hi: f32,
}

// Inputs are read_write too: burn's buffers are slices of pooled pages, and a page bound both
// read-only and read-write in one dispatch is a usage conflict (this kernel writes only `out`).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> clean: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;


@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let base = wg.x * p.n;
    var scale = 1.0;
    if (p.norm == 1u) {
        var acc = 0.0;
        for (var i = lid.x; i < p.n; i = i + WG) {
            let d = x[base + i] - clean[base + i];
            acc = acc + d * d;
        }
        let norm = sqrt(workgroup_sum(lid.x, acc));
        if (norm > p.eps && norm > 0.0) {
            scale = p.eps / norm;
        }
    }
    for (var i = lid.x; i < p.n; i = i + WG) {
        let c = clean[base + i];
        var v = x[base + i];
        if (p.norm == 1u) {
            v = c + (v - c) * scale;
        } else {
            v = clamp(v, c - p.eps, c + p.eps);
        }
        out[base + i] = clamp(v, p.lo, p.hi);
    }
}
