// mlp_gemm: the three batched GEMMs of a training step, candidate index = global dimension 2.
// Each work-item owns a register tile of TM rows x TN columns (TNV vectors of VW floats) and
// accumulates with fma in a fixed order (bias first, then k = 0, 1, ...), so a candidate's numbers never
// depend on the tile shape, the population size or its neighbours.

// Forward of one layer for every candidate: Z = A_in . WT + b, A = act(Z).
// ain: rowsPad x in_stride per candidate (ain_cstride = 0: the shared input batch).
// params: WT_l at c*pstride + woff (k_in x out_pad), b_l right after it.
// z, a: rowsPad x out_pad per candidate (out_cstride apart); z may equal a (evaluation keeps no Z).
// global: (out_pad / TN, rowsPad / TM, P).
__kernel void mlp_forward(
    __global const float* ain, const int ain_cstride, const int in_stride, const int k_in,
    __global const float* params, const int pstride, const int woff, const int out_pad, const int out_n,
    __global float* z, __global float* a, const int out_cstride, const int rows,
    __global const int* act_id, const int slot, const int slots, const int aoff,
    __global const uint* seeds, const uint pass, const int training, const int layer, const int row_offset,
    __global const int* status, const int skip_frozen)
{
    const int c = get_global_id(2);
    if (skip_frozen && status[c] != MLP_ACTIVE) return;
    const int r0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    __global const float* W = params + (size_t)c * pstride + woff + o0;
    __global const float* B = params + (size_t)c * pstride + woff + (size_t)k_in * out_pad + o0;
    __global const float* A = ain + (size_t)c * ain_cstride + (size_t)r0 * in_stride;

    vfloat acc[TM][TNV];
    for (int v = 0; v < TNV; v++) {
        vfloat b = VLOAD(0, B + v * VW);
        for (int m = 0; m < TM; m++) acc[m][v] = b;
    }
    for (int k = 0; k < k_in; k++) {
        vfloat w[TNV];
        for (int v = 0; v < TNV; v++) w[v] = VLOAD(0, W + (size_t)k * out_pad + v * VW);
        for (int m = 0; m < TM; m++) {
            vfloat x = (vfloat)(A[m * in_stride + k]);
            for (int v = 0; v < TNV; v++) acc[m][v] = fma(x, w[v], acc[m][v]);
        }
    }

    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
    const uint base = af_pass_base(seeds[c], pass);
    __global float* Zc = z + (size_t)c * out_cstride;
    __global float* Ac = a + (size_t)c * out_cstride;
    for (int m = 0; m < TM; m++) {
        const int row = r0 + m;
        for (int v = 0; v < TNV; v++) {
            float tz[VW], ta[VW];
            VSTORE(acc[m][v], 0, tz);
            for (int e = 0; e < VW; e++) {
                const int col = o0 + v * VW + e;
                const bool valid = row < rows && col < out_n;
                const float zz = valid ? tz[e] : 0.0f;
                tz[e] = zz;
                ta[e] = valid ? mlp_act(id, zz, prm, mlp_key(training, base, layer, row_offset + row, col)) : 0.0f;
            }
            VSTORE(VLOAD(0, tz), 0, Zc + (size_t)row * out_pad + o0 + v * VW);
            VSTORE(VLOAD(0, ta), 0, Ac + (size_t)row * out_pad + o0 + v * VW);
        }
    }
}

// Backward through layer l's weights into layer l-1: dA = dZ_l . W_l (rows x in_n), then
// dZ_{l-1} = dA * act'(Z_{l-1}) for an element-wise slot (identity and layer-wise slots write dA; the
// layer-wise row kernel finishes those). With learnable parameters, each work-item also writes its
// tile's sums of dA * d act / d p_k to partials (tile index = its position in dimensions 0-1).
// mirror: W_l at c*mstride + moff, out_n x in_pad. dz: rowsPad x dz_stride.
// global: (in_pad / TN, rowsPad / TM, P).
__kernel void mlp_backward_data(
    __global const float* dz, const int dz_stride, const int dz_cstride, const int out_n,
    __global const float* mirror, const int mstride, const int moff, const int in_pad, const int in_n,
    __global const float* zprev, __global float* dzprev, const int prev_cstride, const int rows,
    __global const float* params, const int pstride, const int aoff,
    __global const int* act_id, __global const int* act_nparams, const int slot, const int slots,
    __global float* partials, const int part_cstride, const int part_off,
    __global const uint* seeds, const uint pass, const int layer_prev,
    __global const int* status)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int r0 = get_global_id(1) * TM;
    const int i0 = get_global_id(0) * TN;
    __global const float* M = mirror + (size_t)c * mstride + moff + i0;
    __global const float* D = dz + (size_t)c * dz_cstride + (size_t)r0 * dz_stride;

    vfloat acc[TM][TNV];
    for (int m = 0; m < TM; m++)
        for (int v = 0; v < TNV; v++) acc[m][v] = (vfloat)(0.0f);
    for (int k = 0; k < out_n; k++) {
        vfloat w[TNV];
        for (int v = 0; v < TNV; v++) w[v] = VLOAD(0, M + (size_t)k * in_pad + v * VW);
        for (int m = 0; m < TM; m++) {
            vfloat d = (vfloat)(D[m * dz_stride + k]);
            for (int v = 0; v < TNV; v++) acc[m][v] = fma(d, w[v], acc[m][v]);
        }
    }

    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
    const uint base = af_pass_base(seeds[c], pass);
    __global const float* Zc = zprev + (size_t)c * prev_cstride;
    __global float* Gc = dzprev + (size_t)c * prev_cstride;
#if AF_KMAX > 0
    const int np = id >= 0 ? act_nparams[c * slots + slot] : 0;
    float psum[AF_KMAX];
    for (int k = 0; k < AF_KMAX; k++) psum[k] = 0.0f;
#endif
    for (int m = 0; m < TM; m++) {
        const int row = r0 + m;
        for (int v = 0; v < TNV; v++) {
            float t[VW];
            VSTORE(acc[m][v], 0, t);
            for (int e = 0; e < VW; e++) {
                const int col = i0 + v * VW + e;
                const bool valid = row < rows && col < in_n;
                float g = 0.0f;
                if (valid) {
                    const float da = t[e];
                    if (id >= 0) {
                        const float zz = Zc[(size_t)row * in_pad + col];
                        const uint key = mlp_key(1, base, layer_prev, row, col);
                        g = da * af_dact(id, zz, prm, key);
#if AF_KMAX > 0
                        for (int k = 0; k < np; k++) psum[k] += da * af_dparam(id, k, zz, prm, key);
#endif
                    } else {
                        g = da;
                    }
                }
                t[e] = g;
            }
            VSTORE(VLOAD(0, t), 0, Gc + (size_t)row * in_pad + i0 + v * VW);
        }
    }
#if AF_KMAX > 0
    const int tile = get_global_id(1) * get_global_size(0) + get_global_id(0);
    __global float* P = partials + (size_t)c * part_cstride + part_off + (size_t)tile * AF_KMAX;
    for (int k = 0; k < AF_KMAX; k++) P[k] = psum[k];
#endif
}

// Weight gradients of layer l: dWT = A_{l-1}^T . dZ_l (in_n x out_pad) and db = column sums of dZ_l,
// summed over the batch rows in order. Written into grads at the layer's params offsets.
// global: (out_pad / TN, ceil(in_n / TM), P).
__kernel void mlp_backward_weights(
    __global const float* ain, const int ain_cstride, const int in_stride, const int in_n,
    __global const float* dz, const int dz_cstride, const int out_pad, const int rows,
    __global float* grads, const int pstride, const int woff,
    __global const int* status)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int i0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    __global const float* A = ain + (size_t)c * ain_cstride + i0;
    __global const float* D = dz + (size_t)c * dz_cstride + o0;

    vfloat acc[TM][TNV], bacc[TNV];
    for (int v = 0; v < TNV; v++) {
        bacc[v] = (vfloat)(0.0f);
        for (int m = 0; m < TM; m++) acc[m][v] = (vfloat)(0.0f);
    }
    const bool with_bias = i0 == 0;
    for (int r = 0; r < rows; r++) {
        vfloat d[TNV];
        for (int v = 0; v < TNV; v++) d[v] = VLOAD(0, D + (size_t)r * out_pad + v * VW);
        if (with_bias)
            for (int v = 0; v < TNV; v++) bacc[v] += d[v];
        for (int m = 0; m < TM; m++) {
            vfloat x = (vfloat)(A[(size_t)r * in_stride + m]);
            for (int v = 0; v < TNV; v++) acc[m][v] = fma(x, d[v], acc[m][v]);
        }
    }
    __global float* G = grads + (size_t)c * pstride + woff + o0;
    for (int m = 0; m < TM; m++)
        if (i0 + m < in_n)
            for (int v = 0; v < TNV; v++) VSTORE(acc[m][v], 0, G + (size_t)(i0 + m) * out_pad + v * VW);
    if (with_bias)
        for (int v = 0; v < TNV; v++) VSTORE(bacc[v], 0, G + (size_t)in_n * out_pad + v * VW);
}
