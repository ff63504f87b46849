// Class density support: the Lp distance of each embedding row to its class centroid, over an
// [N, d] matrix. One invocation per row; N need not be a multiple of the workgroup size.
// CPU reference: src/kernels/reference.rs (centroid_distances).

struct Params {
    rows: u32,
    dim: u32,
    p: f32,       // 1, 2, or 0 meaning infinity
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> emb: array<f32>;
@group(0) @binding(1) var<storage, read> centroids: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> q: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    if (row >= q.rows) {
        return;
    }
    let c = labels[row] * q.dim;
    let r = row * q.dim;
    var acc = 0.0;
    for (var k = 0u; k < q.dim; k = k + 1u) {
        let d = abs(emb[r + k] - centroids[c + k]);
        if (q.p == 0.0) {
            acc = max(acc, d);
        } else if (q.p == 1.0) {
            acc = acc + d;
        } else if (q.p == 2.0) {
            acc = acc + d * d;
        } else if (d > 0.0) {
            acc = acc + pow(d, q.p);
        }
    }
    if (q.p == 0.0 || q.p == 1.0) {
        out[row] = acc;
    } else if (q.p == 2.0) {
        out[row] = sqrt(acc);
    } else if (acc > 0.0) {
        out[row] = pow(acc, 1.0 / q.p);
    } else {
        out[row] = 0.0;
    }
}
