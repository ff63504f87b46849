// Shared by the per-sample kernels (prepended to project.wgsl and normalise.wgsl at build
// time): the sum of one value per invocation over a 256-wide workgroup, returned to all.

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            partial[lid] = partial[lid] + partial[lid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    // Nobody may overwrite partial[0] (a next call) before everyone has read it.
    workgroupBarrier();
    return total;
}
