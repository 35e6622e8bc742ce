// cnn_conv_staged: the CNN trainer's GEMMs (cnn_conv.cl's implicit-GEMM convolutions, cnn_linear.cl's Linear
// layers) with work-group blocking through local memory, for GPUs, as mlp_gemm_staged.cl does for the MLP's.
// Compiled only with -DMLP_STAGED (GEMMVariant.buildOptions; MLP_WGX, MLP_WGY, MLP_BK and mlp_stage from
// mlp_gemm_staged.cl, which the trainer program includes before this file). Each kernel takes its unstaged
// kernel's arguments; the host changes only the name (`_staged`) and the launch shape (GEMMVariant.launchShape:
// one register tile per work-item, the global size rounded up to whole work-groups, the population as global
// dimension 2). The Linear layers' weight gradients are mlp_gemm_staged.cl's weight_gradients_staged, as the
// unstaged CNN trainer runs mlp_gemm.cl's weight_gradients.
//
// Exactness: every output element sees exactly its unstaged kernel's fma sequence (bias first, then k in the
// unstaged kernel's order), so a staged variant trains the same bits as the unstaged kernels with the same tile
// (GEMMVariantTests). Where the unstaged kernels skip terms instead of adding 0 * w (the data gradient's taps
// outside the output for every row of a tile, the weight gradient's out-of-image pixels when IC % TM == 0),
// the staged ones skip the same terms per work-item: 0 * w is not always an exact no-op (-0 + 0 = +0, 0 * inf
// = NaN). Padding taps, rows past the end and channels past the matrix are zeros in the slabs.

#ifdef MLP_STAGED

// Copies the im2col block of output pixels r_first .. r_first+nrows-1 by entries k_first .. k_first+nk-1
// (k = (kh*KW + kw)*IC + ic, as cnn_conv_forward) into dst, rows dld apart: in[n][y+kh-pad][x+kw-pad][ic],
// 0 for a padding tap, a pixel >= rows or k >= K. nk and k_first are multiples of VW; when IC is too, a vector
// of entries is one tap's channels and is loaded as a vector.
inline void cnn_stage_im2col(__local float* dst, int dld, __global const float* A, int in_cs, int IC, int IH, int IW,
                             int KW, int pad, int OW, int P, int K, int rows, int r_first, int nrows, int k_first, int nk)
{
    const int t = get_local_id(1) * get_local_size(0) + get_local_id(0);
    const int n = get_local_size(0) * get_local_size(1);
    const int per_row = nk / VW;
    for (int v = t; v < nrows * per_row; v += n) {
        const int i = v / per_row, j = (v - i * per_row) * VW;
        const int r = r_first + i, k = k_first + j;
        const int img = r / P, q = r - img * P, y = q / OW - pad, x = q % OW - pad;
        vfloat val = (vfloat)(0.0f);
        if (IC % VW == 0) {
            const int tap = k / IC, yy = y + tap / KW, xx = x + tap % KW;
            if (r < rows && k < K && yy >= 0 && yy < IH && xx >= 0 && xx < IW)
                val = VLOAD(0, A + ((size_t)(img * IH + yy) * IW + xx) * in_cs + k - tap * IC);
        } else {
            float e[VW];
            for (int l = 0; l < VW; l++) {
                const int tap = (k + l) / IC, yy = y + tap / KW, xx = x + tap % KW;
                const bool ok = r < rows && k + l < K && yy >= 0 && yy < IH && xx >= 0 && xx < IW;
                e[l] = ok ? A[((size_t)(img * IH + yy) * IW + xx) * in_cs + k + l - tap * IC] : 0.0f;
            }
            val = VLOAD(0, e);
        }
        VSTORE(val, 0, dst + i * dld + j);
    }
}

// cnn_conv_forward through local memory: per slab, the im2col block of the group's pixels x MLP_BK entries k
// (gathered, sa, rows MLP_BK apart) and WT rows k x the group's columns (sw, rows MLP_BN apart), k ascending
// over all K entries as every path of the unstaged kernel runs them. global: (out_pad / TN, rowsPad / TM)
// rounded up to the work-group, P.
__kernel void cnn_conv_forward_staged(CNN_CONV_FORWARD_ARGS)
{
    MLP_STAGED_BLOCK(o)
    const int c = get_global_id(2);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const int K = KH * KW * IC, P = OH * OW;
    const bool inside = r0 < rows_pad && o0 < out_pad;
    __global const float* W = params + (size_t)c * pstride + woff;
    __global const float* B = W + (size_t)K * out_pad + (inside ? o0 : 0);
    MLP_LOAD_VECTORS(b, B)
    MLP_ROWS(FW_DECL)
    const int ak_stride = MLP_BK;
    for (int k0 = 0; k0 < K; k0 += MLP_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        cnn_stage_im2col(sa, MLP_BK, in + (size_t)c * in_cand, in_cs, IC, IH, IW, KW, pad, OW, P, K, rows, g_r,
                         get_local_size(1) * TM, k0, MLP_BK);
        mlp_stage(sw, MLP_BN, W + (size_t)k0 * out_pad + g_o, out_pad, MLP_BK, get_local_size(0) * TN, K - k0, out_pad - g_o);
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kn = min(MLP_BK, K - k0);
        for (int k = 0; k < kn; k++) {
            MLP_LOAD_VECTORS(w, sw + k * MLP_BN + l_o)
            __local const float* ak = sa + l_r * MLP_BK + k;
            MLP_ROWS(FW_STEP)
        }
    }
    if (!inside) return;
    CNN_CONV_FORWARD_FINISH
}

// cnn_conv_backward_weights through local memory; the inner dimension is the output pixel (image, y, x in
// order). Per slab, the im2col block of MLP_BK pixels x the group's entries k (sa, rows MLP_BM apart) and dZ
// of those pixels x the group's columns (sw); spos holds each slab pixel's (y, x). With IC % TM == 0 the tile's
// rows are channels of one tap and, as the unstaged kernel's fast path, only the pixels whose tap lies inside
// the input are summed; otherwise every pixel is (zeros for padding taps). The bias row's sums (the tiles with
// k0 = 0) run along, pixel by pixel. global: (out_pad / TN, ceil(K / TM)) rounded up to the work-group, P.
__kernel void cnn_conv_backward_weights_staged(CNN_CONV_BACKWARD_WEIGHTS_ARGS)
{
    __local float sa[MLP_BK * MLP_BM];
    __local float sw[MLP_BK * MLP_BN];
    __local int spos[2 * MLP_BK];
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int K = KH * KW * IC, P = OH * OW, R = images * P;
    const int g_k = get_group_id(1) * get_local_size(1) * TM, g_o = get_group_id(0) * get_local_size(0) * TN;
    const int l_k = get_local_id(1) * TM, l_o = get_local_id(0) * TN;
    const int k0 = g_k + l_k, o0 = g_o + l_o;
    const int t = get_local_id(1) * get_local_size(0) + get_local_id(0), nt = get_local_size(0) * get_local_size(1);
    __global const float* D = dz + (size_t)c * dz_cand + g_o;
    MLP_ROWS(BW_DECL)
    vfloat bacc0 = (vfloat)(0.0f), bacc1 = (vfloat)(0.0f);
    const bool with_bias = k0 == 0;
    const bool by_tap = IC % TM == 0;
    const int tap = min(k0, K - 1) / IC, ty = tap / KW - pad, tx = tap % KW - pad;
    for (int p0 = 0; p0 < R; p0 += MLP_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        cnn_stage_im2col(sa, MLP_BM, in + (size_t)c * in_cand, in_cs, IC, IH, IW, KW, pad, OW, P, K, R, p0, MLP_BK, g_k,
                         get_local_size(1) * TM);
        mlp_stage(sw, MLP_BN, D + (size_t)p0 * out_pad, out_pad, MLP_BK, get_local_size(0) * TN, R - p0, out_pad - g_o);
        for (int v = t; v < MLP_BK; v += nt) {
            const int q = (p0 + v) % P;
            spos[2 * v] = q / OW;
            spos[2 * v + 1] = q % OW;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kn = min(MLP_BK, R - p0);
        for (int k = 0; k < kn; k++) {
            MLP_LOAD_VECTORS(d, sw + k * MLP_BN + l_o)
            if (with_bias) { bacc0 += d0; MLP_V1(bacc1 += d1;) }
            const int iy = spos[2 * k] + ty, ix = spos[2 * k + 1] + tx;
            if (!by_tap || (iy >= 0 && iy < IH && ix >= 0 && ix < IW)) {
                __local const float* ar = sa + k * MLP_BM + l_k;
                MLP_ROWS(BW_STEP)
            }
        }
    }
    if (k0 >= K || o0 >= out_pad) return;
    __global float* G = grads + (size_t)c * pstride + woff + o0;
    CNN_CONV_WEIGHT_STORE
}

// Copies dZ of the output pixels that input pixels r_first .. r_first+nrows-1 meet through tap (kh, kw),
// channels oc0 .. oc0+MLP_BK-1, into dst (rows MLP_BK apart): dz[n][y+pad-kh][x+pad-kw][oc], 0 where that
// pixel lies outside the output, for an input pixel >= rows and past out_pad.
inline void cnn_stage_shifted(__local float* dst, __global const float* D, int out_pad, int OH, int OW, int IW, int P,
                              int pad, int kh, int kw, int rows, int r_first, int nrows, int oc0)
{
    const int t = get_local_id(1) * get_local_size(0) + get_local_id(0);
    const int n = get_local_size(0) * get_local_size(1);
    const int per_row = MLP_BK / VW;
    for (int v = t; v < nrows * per_row; v += n) {
        const int i = v / per_row, j = (v - i * per_row) * VW;
        const int r = r_first + i, img = r / P, q = r - img * P;
        const int y = q / IW + pad - kh, x = q % IW + pad - kw;
        const bool ok = r < rows && y >= 0 && y < OH && x >= 0 && x < OW && oc0 + j < out_pad;
        const vfloat val = ok ? VLOAD(0, D + ((size_t)(img * OH + y) * OW + x) * out_pad + oc0 + j) : (vfloat)(0.0f);
        VSTORE(val, 0, dst + i * MLP_BK + j);
    }
}

// cnn_conv_backward_data through local memory, tap by tap (kh, kw ascending) and per tap in slabs of MLP_BK
// output channels: the shifted dZ of the group's input pixels (sa) and the mirror's rows oc at the tap's
// entries x the group's input channels (sw). A work-item none of whose rows meets the tap inside the output
// skips it, as the unstaged kernel does. global: (in_cs / TN, rowsPad / TM) rounded up to the work-group, P.
__kernel void cnn_conv_backward_data_staged(CNN_CONV_BACKWARD_DATA_ARGS)
{
    MLP_STAGED_BLOCK(i)
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int P = IH * IW;
    __global const float* M = mirror + (size_t)c * mstride + moff + g_i;
    __global const float* D = dz + (size_t)c * dz_cand;
    MLP_ROWS(CD_POS)
    MLP_ROWS(BD_DECL)
    const int dk_stride = MLP_BK;
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
            MLP_ROWS(CD_OFF)
            const bool any = false MLP_ROWS(CD_ANY);
            for (int oc0 = 0; oc0 < OC; oc0 += MLP_BK) {
                barrier(CLK_LOCAL_MEM_FENCE);
                cnn_stage_shifted(sa, D, out_pad, OH, OW, IW, P, pad, kh, kw, rows, g_r, get_local_size(1) * TM, oc0);
                mlp_stage(sw, MLP_BN, M + (size_t)oc0 * m_pad + (kh * KW + kw) * IC, m_pad, MLP_BK, get_local_size(0) * TN,
                          OC - oc0, in_cs - g_i);
                barrier(CLK_LOCAL_MEM_FENCE);
                if (!any) continue;
                const int kn = min(MLP_BK, OC - oc0);
                for (int k = 0; k < kn; k++) {
                    MLP_LOAD_VECTORS(w, sw + k * MLP_BN + l_i)
                    __local const float* dk = sa + l_r * MLP_BK + k;
                    MLP_ROWS(BD_STEP)
                }
            }
        }
    }
    if (r0 >= rows_pad || i0 >= in_cs) return;
    CNN_CONV_DATA_FINISH
}

// cnn_linear_forward through local memory (mlp_gemm_staged.cl's MLP_FORWARD_STAGED_TILE: the sums of
// mlp_forward, which cnn_linear_forward runs too), one row tile per work-item: row_tiles and tiles_per_item
// are taken and ignored. global: (out_pad / TN, row tiles) rounded up to the work-group, P.
__kernel void cnn_linear_forward_staged(CNN_LINEAR_FORWARD_ARGS)
{
    const int c = get_global_id(2);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    MLP_FORWARD_STAGED_TILE
    if (!inside) return;
    CNN_SLOT_ACTIVATION
    CNN_LINEAR_FORWARD_FINISH
}

// cnn_linear_backward_data through local memory (MLP_DATA_STAGED_TILE), one row tile per work-item.
// global: (in_pad / TN, row tiles) rounded up to the work-group, P.
__kernel void cnn_linear_backward_data_staged(CNN_LINEAR_BACKWARD_DATA_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    MLP_DATA_STAGED_TILE
    if (r0 >= rows_pad || i0 >= in_pad) return;
    CNN_SLOT_ACTIVATION
    CNN_LINEAR_DATA_FINISH
}
#endif
