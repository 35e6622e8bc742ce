// mlp_gemm_staged: the three GEMMs of mlp_gemm.cl with work-group blocking through local memory, for GPUs.
// Compiled only with -DMLP_STAGED (GEMMVariant.buildOptions), which also sets
//   MLP_WGX, MLP_WGY: the largest work-group, in work-items along the output columns and rows (the host
//                     launches min(MLP_WGX, column tiles) x min(MLP_WGY, row tiles) x 1, the rows rounded
//                     up to a multiple of GEMMVariant.rowQuantum),
//   MLP_BK:           the depth of one slab of the inner dimension (a multiple of VW).
// A work-group computes a block of BM = local rows x TM rows by BN = local columns x TN columns of one
// candidate (global dimension 2, so every candidate is its own column of work-groups). Per slab it copies
// BM x MLP_BK of the left operand and MLP_BK x BN of the right one into local memory with vector loads
// (zeros outside the matrices), then every work-item runs the register-tile steps of mlp_gemm.cl on the
// local copies, k in increasing order. Each output element therefore sees exactly the fma sequence of the
// unstaged kernel (bias first, then k = 0, 1, ...): the results are the same bits, whatever the work-group
// shape and slab depth (GEMMVariantTests). The kernels take the unstaged kernels' arguments; the global size
// is rounded up to whole work-groups, and work-items outside the matrix load and wait but store nothing.
// The CNN trainer's staged kernels (cnn_conv_staged.cl, after this file) use mlp_stage, the forward's and the
// data gradient's staged loops (MLP_FORWARD_STAGED_TILE, MLP_DATA_STAGED_TILE) and weight_gradients_staged.

#ifdef MLP_STAGED
#if MLP_BK % VW != 0
#error "MLP_BK must be a multiple of VW"
#endif
#define MLP_BM (MLP_WGY * TM)
#define MLP_BN (MLP_WGX * TN)

// Copies rows x cols floats from src (rows ld apart) to dst (rows dld apart), one vector per work-item and
// turn; an element of a row >= rmax or of a vector starting at or past cmax is 0. cols, cmax and src's
// column offset are multiples of VW (the host's launch shapes see to it: GEMMVariant.rowQuantum), so no
// vector straddles cmax.
inline void mlp_stage(__local float* dst, int dld, __global const float* src, int ld, int rows, int cols, int rmax, int cmax)
{
    const int t = get_local_id(1) * get_local_size(0) + get_local_id(0);
    const int n = get_local_size(0) * get_local_size(1);
    const int per_row = cols / VW;
    for (int v = t; v < rows * per_row; v += n) {
        const int r = v / per_row, col = (v - r * per_row) * VW;
        const vfloat x = r < rmax && col < cmax ? VLOAD(0, src + (size_t)r * ld + col) : (vfloat)(0.0f);
        VSTORE(x, 0, dst + r * dld + col);
    }
}

// One slab step of a staged GEMM: waits until the work-group has read the previous slabs, copies the left
// slab (left_rows x left_cols of `left`, rows lda apart, into sa with rows sa_ld apart) and the right one
// (MLP_BK rows x the group's columns of `right`, rows ldb apart, into sw with rows MLP_BN apart), zeros
// past rmax / cmax of each, and waits for the copies.
inline void mlp_stage_slabs(__local float* sa, int sa_ld, __global const float* left, int lda, int left_rows, int left_cols,
                            int left_rmax, int left_cmax, __local float* sw, __global const float* right, int ldb,
                            int right_rmax, int right_cmax)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    mlp_stage(sa, sa_ld, left, lda, left_rows, left_cols, left_rmax, left_cmax);
    mlp_stage(sw, MLP_BN, right, ldb, MLP_BK, get_local_size(0) * TN, right_rmax, right_cmax);
    barrier(CLK_LOCAL_MEM_FENCE);
}

// MLP_STAGED_BLOCK(X): a staged GEMM's slabs (sa: the block's rows x MLP_BK, sw: MLP_BK x the block's columns)
// and the work-item's place, for a launch whose dimension 1 walks row tiles: rows_pad (rows rounded up to the
// tile), the group's first row g_r and column g_X, the work-item's offsets l_r, l_X and its tile's r0, X0.
#define MLP_STAGED_BLOCK(X) \
    __local float sa[MLP_BM * MLP_BK]; \
    __local float sw[MLP_BK * MLP_BN]; \
    const int rows_pad = (rows + TM - 1) / TM * TM; \
    const int g_r = get_group_id(1) * get_local_size(1) * TM, g_##X = get_group_id(0) * get_local_size(0) * TN; \
    const int l_r = get_local_id(1) * TM, l_##X = get_local_id(0) * TN; \
    const int r0 = g_r + l_r, X##0 = g_##X + l_##X;

// MLP_FORWARD_STAGED_TILE: MLP_FORWARD_TILE's sums through local memory, for the work-item's tile of a
// staged launch; declares the slabs, r0, o0, rows_pad, `inside` (the tile lies in the matrix) and the
// accumulators. In scope: MLP_FORWARD_ARGS' ain, ain_cstride, in_stride, k_in, params, pstride, woff, out_pad,
// out_n and rows, and c (cnn_linear_forward_staged shares it).
#define MLP_FORWARD_STAGED_TILE \
    MLP_STAGED_BLOCK(o) \
    const bool inside = r0 < rows_pad && o0 < out_pad; \
    __global const float* W = params + (size_t)c * pstride + woff; \
    __global const float* B = W + (size_t)k_in * out_pad + (inside ? o0 : 0); \
    __global const float* A = ain + (size_t)c * ain_cstride + (size_t)g_r * in_stride; \
    MLP_LOAD_VECTORS(b, B) \
    MLP_ROWS(FW_DECL) \
    const bool narrow = TNV > 1 && o0 + VW >= out_n; \
    const int ak_stride = MLP_BK; \
    for (int k0 = 0; k0 < k_in; k0 += MLP_BK) { \
        mlp_stage_slabs(sa, MLP_BK, A + k0, in_stride, get_local_size(1) * TM, MLP_BK, rows_pad - g_r, in_stride - k0, \
                        sw, W + (size_t)k0 * out_pad + g_o, out_pad, k_in - k0, out_pad - g_o); \
        const int kn = min(MLP_BK, k_in - k0); \
        if (narrow) { \
            for (int k = 0; k < kn; k++) { \
                const vfloat w0 = VLOAD(0, sw + k * MLP_BN + l_o); \
                __local const float* ak = sa + l_r * MLP_BK + k; \
                MLP_ROWS(FW_STEP1) \
            } \
        } else { \
            for (int k = 0; k < kn; k++) { \
                MLP_LOAD_VECTORS(w, sw + k * MLP_BN + l_o) \
                __local const float* ak = sa + l_r * MLP_BK + k; \
                MLP_ROWS(FW_STEP) \
            } \
        } \
    }

// mlp_forward through local memory. Left slab: A rows of the block x k (sa, rows MLP_BK apart); right slab:
// W rows k x the block's columns (sw, rows MLP_BN apart). global: (column tiles, row tiles) rounded up to
// the work-group, P.
__kernel void mlp_forward_staged(MLP_FORWARD_ARGS)
{
    const int c = get_global_id(2);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    MLP_FORWARD_STAGED_TILE
    if (!inside) return;
    MLP_FORWARD_FINISH
}

// MLP_DATA_STAGED_TILE: MLP_DATA_TILE's sums through local memory, for the work-item's tile of a staged
// launch; declares the slabs, r0, i0, rows_pad and the accumulators. In scope: MLP_BACKWARD_DATA_ARGS' dz,
// dz_stride, dz_cstride, out_n, mirror, mstride, moff, in_pad and rows, and c (cnn_linear_backward_data_staged
// shares it).
#define MLP_DATA_STAGED_TILE \
    MLP_STAGED_BLOCK(i) \
    __global const float* M = mirror + (size_t)c * mstride + moff; \
    __global const float* D = dz + (size_t)c * dz_cstride + (size_t)g_r * dz_stride; \
    MLP_ROWS(BD_DECL) \
    const int dk_stride = MLP_BK; \
    for (int k0 = 0; k0 < out_n; k0 += MLP_BK) { \
        mlp_stage_slabs(sa, MLP_BK, D + k0, dz_stride, get_local_size(1) * TM, MLP_BK, rows_pad - g_r, dz_stride - k0, \
                        sw, M + (size_t)k0 * in_pad + g_i, in_pad, out_n - k0, in_pad - g_i); \
        const int kn = min(MLP_BK, out_n - k0); \
        for (int k = 0; k < kn; k++) { \
            MLP_LOAD_VECTORS(w, sw + k * MLP_BN + l_i) \
            __local const float* dk = sa + l_r * MLP_BK + k; \
            MLP_ROWS(BD_STEP) \
        } \
    }

// mlp_backward_data through local memory. Left slab: dz rows of the block x k (k < out_n); right slab:
// the mirror's W rows k x the block's columns of the layer's input. global as mlp_forward_staged.
__kernel void mlp_backward_data_staged(MLP_BACKWARD_DATA_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    MLP_DATA_STAGED_TILE
    if (r0 >= rows_pad || i0 >= in_pad) return;
    __global float* Gc = dzprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0;
    MLP_ROWS(BD_OUT)
    mlp_backward_data_finish(zprev, Gc, prev_cstride, in_pad, in_n, rows, c, r0, i0, (r0 / TM) * (in_pad / TN) + i0 / TN,
                             params, pstride, aoff, act_id, act_nparams, slot, slots, partials, part_cstride, part_off,
                             seeds, pass, layer_prev);
}

// weight_gradients through local memory; the inner dimension is the batch row. Left slab: rows k of
// the layer's input x the block's input columns (sa, rows MLP_BM apart); right slab: the same rows of dz x
// the block's output columns. The bias row's sums (the tiles with i0 = 0) run along, row by row as in
// mlp_weight_tile. global: (column tiles, ceil(in_n / TM)) rounded up to the work-group, P.
__kernel void weight_gradients_staged(MLP_BACKWARD_WEIGHTS_ARGS)
{
    __local float sa[MLP_BK * MLP_BM];
    __local float sw[MLP_BK * MLP_BN];
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int g_i = get_group_id(1) * get_local_size(1) * TM, g_o = get_group_id(0) * get_local_size(0) * TN;
    const int l_i = get_local_id(1) * TM, l_o = get_local_id(0) * TN;
    const int i0 = g_i + l_i, o0 = g_o + l_o;
    __global const float* A = ain + (size_t)c * ain_cstride + g_i;
    __global const float* D = dz + (size_t)c * dz_cstride + g_o;
    MLP_ROWS(BW_DECL)
    vfloat bacc0 = (vfloat)(0.0f), bacc1 = (vfloat)(0.0f), bacc2 = (vfloat)(0.0f), bacc3 = (vfloat)(0.0f);
    const bool with_bias = i0 == 0;
    const bool narrow = TNV > 1 && o0 + VW >= out_n;
    for (int k0 = 0; k0 < rows; k0 += MLP_BK) {
        mlp_stage_slabs(sa, MLP_BM, A + (size_t)k0 * in_stride, in_stride, MLP_BK, get_local_size(1) * TM, rows - k0, in_stride - g_i,
                        sw, D + (size_t)k0 * out_pad, out_pad, rows - k0, out_pad - g_o);
        const int kn = min(MLP_BK, rows - k0);
        for (int k = 0; k < kn; k++) {
            __local const float* ar = sa + k * MLP_BM + l_i;
            if (narrow) {
                const vfloat d0 = VLOAD(0, sw + k * MLP_BN + l_o);
                if (with_bias) bacc0 += d0;
                MLP_ROWS(BW_STEP1)
            } else {
                MLP_LOAD_VECTORS(d, sw + k * MLP_BN + l_o)
                if (with_bias) { bacc0 += d0; MLP_V1(bacc1 += d1;) MLP_V23(bacc2 += d2; bacc3 += d3;) }
                MLP_ROWS(BW_STEP)
            }
        }
    }
    if (i0 >= in_n || o0 >= out_pad) return;
    __global float* G = grads + (size_t)c * pstride + woff + o0;
    MLP_WEIGHT_STORE
}
#endif
