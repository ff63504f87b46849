// Needs reduce.wgsl prepended (workgroup_sum, WG).
// Per-sample gradient normalisation: sign, g / ||g||_2 or g / ||g||_1 (a zero gradient stays
// zero). One workgroup per sample. CPU reference: src/attacks/lp.rs (sign, normalise).

struct Params {
    n: u32,     // values per sample
    mode: u32,  // 0 = sign, 1 = L2, 2 = L1
}

// read_write although only read: see project.wgsl (burn's pooled buffers).
@group(0) @binding(0) var<storage, read_write> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;


@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let base = wg.x * p.n;
    if (p.mode == 0u) {
        for (var i = lid.x; i < p.n; i = i + WG) {
            out[base + i] = sign(g[base + i]);
        }
        return;
    }
    var acc = 0.0;
    for (var i = lid.x; i < p.n; i = i + WG) {
        let v = g[base + i];
        if (p.mode == 1u) { acc = acc + v * v; } else { acc = acc + abs(v); }
    }
    var norm = workgroup_sum(lid.x, acc);
    if (p.mode == 1u) { norm = sqrt(norm); }
    for (var i = lid.x; i < p.n; i = i + WG) {
        if (norm > 0.0) { out[base + i] = g[base + i] / norm; } else { out[base + i] = 0.0; }
    }
}
