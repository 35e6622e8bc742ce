// cnn_linear: the Linear layers' GEMMs of the population CNN trainer (layouts of mlp_common.cl), as
// mlp_gemm.cl's but with each work-item walking the row tiles of its column strip; the weight gradients
// and the loss are the MLP trainer's kernels. Staged forms (one row tile per work-item, through local
// memory, same sums): cnn_conv_staged.cl's cnn_linear_*_staged and mlp_gemm_staged.cl's weight_gradients_staged.

// The kernels' argument lists, shared by the unstaged kernels and their staged forms (cnn_conv_staged.cl),
// which the host launches with the same arguments.
#define CNN_LINEAR_FORWARD_ARGS \
    __global const float* ain, const int ain_cstride, const int in_stride, const int k_in, \
    __global const float* params, const int pstride, const int woff, const int out_pad, const int out_n, \
    __global float* z, __global float* a, const int out_cstride, const int rows, \
    __global const int* act_id, const int slot, const int slots, const int aoff, \
    __global const uint* seeds, const uint pass, const int training, const int layer, \
    __global const int* status, const int skip_frozen, const int row_tiles, const int tiles_per_item
#define CNN_LINEAR_BACKWARD_DATA_ARGS \
    __global const float* dz, const int dz_stride, const int dz_cstride, const int out_n, \
    __global const float* mirror, const int mstride, const int moff, const int in_pad, const int in_n, \
    __global const float* zprev, __global float* dzprev, const int prev_cstride, const int rows, \
    __global const float* params, const int pstride, const int aoff, \
    __global const int* act_id, const int slot, const int slots, \
    __global const uint* seeds, const uint pass, const int layer_prev, \
    __global const int* status, const int row_tiles, const int tiles_per_item
// The Linear kernels' stores of a tile and their epilogues, as mlp_gemm.cl's but keeping Z (the CNN's
// backward passes evaluate act'(Z) themselves: no slopes) and without parameter partials. In scope: the
// kernel's arguments, c, id, prm, base, r0, o0 (i0) and the accumulators (cnn_conv_staged.cl's Linear kernels
// share them).
#define CNN_LINEAR_FORWARD_FINISH { \
    __global float* Zc = z + (size_t)c * out_cstride + (size_t)r0 * out_pad + o0; \
    __global float* Ac = a + (size_t)c * out_cstride + (size_t)r0 * out_pad + o0; \
    MLP_ROWS(FW_OUT) \
    if (training && id >= 0) { MLP_ROWS(FW_ZOUT) } \
    mlp_forward_epilogue(Zc, Ac, out_pad, r0, o0, rows, out_n, id, prm, training, base, layer, 0, false); \
}
#define CNN_LINEAR_DATA_FINISH { \
    __global const float* Zc = zprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0; \
    __global float* Gc = dzprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0; \
    MLP_ROWS(BD_OUT) \
    float psum[1]; \
    mlp_backward_epilogue(Zc, Gc, in_pad, r0, i0, rows, in_n, id, prm, base, layer_prev, psum, 0, false); \
}

// A Linear layer's forward for every candidate, as mlp_forward (same arguments, same sums in the same
// order, same epilogue) but each work-item walks `tiles_per_item` consecutive row tiles of its column
// strip, so the strip of WT (K x TN floats, ~200 KB for study 2's 1600 -> 1000 layer) stays in cache
// across the row tiles instead of the whole WT streaming from memory once per row tile.
// global: (out_pad / TN, ceil(row_tiles / tiles_per_item), P).
__kernel void cnn_linear_forward(CNN_LINEAR_FORWARD_ARGS)
{
    const int c = get_global_id(2);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const int o0 = get_global_id(0) * TN;
    __global const float* W = params + (size_t)c * pstride + woff + o0;
    __global const float* B = params + (size_t)c * pstride + woff + (size_t)k_in * out_pad + o0;
    CNN_SLOT_ACTIVATION
    const int first = get_global_id(1) * tiles_per_item;
    const int last = min(first + tiles_per_item, row_tiles);
    for (int tile = first; tile < last; tile++) {
        const int r0 = tile * TM;
        __global const float* A = ain + (size_t)c * ain_cstride + (size_t)r0 * in_stride;
        MLP_FORWARD_TILE
        CNN_LINEAR_FORWARD_FINISH
    }
}

// A Linear layer's backward into its input, as mlp_backward_data (dA = dZ . W from the mirror, then
// dZ_prev = dA * act'(Z_prev) for an element-wise slot; same sums in the same order, same epilogue) but
// each work-item walks `tiles_per_item` row tiles of its column strip, so the strip of the mirror stays in
// cache. Never asked for learnable-parameter partials (the CNN trainer does not fuse those slots).
// global: (in_pad / TN, ceil(row_tiles / tiles_per_item), P).
__kernel void cnn_linear_backward_data(CNN_LINEAR_BACKWARD_DATA_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int i0 = get_global_id(0) * TN;
    __global const float* M = mirror + (size_t)c * mstride + moff + i0;
    CNN_SLOT_ACTIVATION
    const int first = get_global_id(1) * tiles_per_item;
    const int last = min(first + tiles_per_item, row_tiles);
    for (int tile = first; tile < last; tile++) {
        const int r0 = tile * TM;
        __global const float* D = dz + (size_t)c * dz_cstride + (size_t)r0 * dz_stride;
        MLP_DATA_TILE
        CNN_LINEAR_DATA_FINISH
    }
}
