// cnn_conv: the convolution kernels of the population CNN trainer, implicit GEMMs over channels-last
// feature maps (layouts in cnn_layers.cl), using mlp_gemm.cl's register-tile macros and epilogues. Their
// argument lists, stores and epilogues are macros shared with their staged forms (cnn_conv_staged.cl, the GPU
// profile's, through local memory), which keep each output's order of terms, skipped terms included.

// Register tiles live in named variables (acc<m>_<v>, via mlp_gemm.cl's MLP_ROWS / MLP_V1): PoCL keeps
// private arrays in memory. Out-of-image taps load element 0 and select 0 (no branch in the inner loop).

// CNN_SLOT_ACTIVATION: candidate c's expression id in the layer's slot (identity without one), its learnable
// parameters and its noise base (in scope: c, slot, slots, act_id, params, pstride, aoff, seeds, pass).
#define CNN_SLOT_ACTIVATION \
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY; \
    __global const float* prm = mlp_slot_params(params, pstride, c, aoff, slot); \
    const uint base = af_candidate_base(seeds, c, pass);

// The kernels' argument lists, shared by the unstaged kernels and their staged forms (cnn_conv_staged.cl),
// which the host launches with the same arguments.
#define CNN_CONV_FORWARD_ARGS \
    __global const float* in, const int in_cand, const int in_cs, const int IC, const int IH, const int IW, \
    const int KH, const int KW, const int pad, const int OH, const int OW, \
    __global const float* params, const int pstride, const int woff, const int out_pad, const int OC, \
    __global float* z, __global float* a, const int out_cand, const int rows, \
    __global const int* act_id, const int slot, const int slots, \
    __global const uint* seeds, const uint pass, const int training, const int layer, \
    __global const int* status, const int skip_frozen, const int aoff
// CNN_CONV_FORWARD_FINISH: the forward's stores of the tile (A, and Z from the registers where the backward
// pass needs it: the epilogue writes Z only on edge tiles), then the Linear layer's epilogue. In scope: the
// kernel's arguments, c, r0, o0 and the accumulators (cnn_conv_staged.cl's forward shares it).
#define CF_OUT(m) { VSTORE(acc##m##_0, 0, Ac + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Ac + m * out_pad + VW);) }
#define CF_ZOUT(m) { VSTORE(acc##m##_0, 0, Zc + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Zc + m * out_pad + VW);) }
#define CNN_CONV_FORWARD_FINISH { \
    CNN_SLOT_ACTIVATION \
    __global float* Zc = z + (size_t)c * out_cand + (size_t)r0 * out_pad + o0; \
    __global float* Ac = a + (size_t)c * out_cand + (size_t)r0 * out_pad + o0; \
    MLP_ROWS(CF_OUT) \
    if (training && id >= 0) { MLP_ROWS(CF_ZOUT) } \
    mlp_forward_epilogue(Zc, Ac, out_pad, r0, o0, rows, OC, id, prm, training, base, layer, 0, false); \
}

// Convolution forward as an implicit GEMM: Z[pixel][oc] = b[oc] + sum_k in_col[pixel][k] * WT[k][oc],
// A = act(Z). The im2col row of a pixel is gathered on the fly (zero outside the image: padding).
// in: [images][IH][IW][in_cs] (in_cand = 0 for the shared input batch). rows = images*OH*OW.
// The epilogue is the Linear layer's (mlp_forward_epilogue): Z only where the backward pass needs it.
// global: (out_pad / TN, rowsPad / TM, P).
__kernel void cnn_conv_forward(CNN_CONV_FORWARD_ARGS)
{
    const int c = get_global_id(2);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const int r0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    const int K = KH * KW * IC, P = OH * OW;
    __global const float* Wt = params + (size_t)c * pstride + woff + o0;
    __global const float* B = Wt + (size_t)K * out_pad;
    __global const float* A = in + (size_t)c * in_cand;

#define CF_POS(m) const int n##m = r0 + m < rows ? (r0 + m) / P : -1; \
    const int y##m = ((r0 + m) % P) / OW - pad, x##m = ((r0 + m) % P) % OW - pad;
    MLP_ROWS(CF_POS)
    const vfloat b0 = VLOAD(0, B);
    vfloat b1 = b0;
    MLP_V1(b1 = VLOAD(0, B + VW);)
#define CF_DECL(m) vfloat acc##m##_0 = b0, acc##m##_1 = b1;
    MLP_ROWS(CF_DECL)
#define CF_VALID(m) && n##m >= 0
    if (pad == 0 MLP_ROWS(CF_VALID)) {
        // No padding and every row a real pixel: every tap lies inside the image, so each row's im2col
        // entries are its pixel's address plus the tap's, with no bounds checks (same sums, same order).
#define CF_BASE(m) __global const float* a##m = A + (size_t)((n##m * IH + y##m) * IW + x##m) * in_cs;
        MLP_ROWS(CF_BASE)
        for (int kh = 0; kh < KH; kh++) {
            for (int kw = 0; kw < KW; kw++) {
                const int tap = (kh * IW + kw) * in_cs;
                __global const float* Wk = Wt + (size_t)((kh * KW + kw) * IC) * out_pad;
                for (int ic = 0; ic < IC; ic++) {
                    const vfloat w0 = VLOAD(0, Wk + (size_t)ic * out_pad);
                    vfloat w1 = w0;
                    MLP_V1(w1 = VLOAD(0, Wk + (size_t)ic * out_pad + VW);)
#define CF_FMA_DIRECT(m) { const vfloat xv = (vfloat)(a##m[tap + ic]); \
                    acc##m##_0 = fma(xv, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(xv, w1, acc##m##_1);) }
                    MLP_ROWS(CF_FMA_DIRECT)
                }
            }
        }
    } else
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
#define CF_OFF(m) const int yy##m = y##m + kh, xx##m = x##m + kw; \
            const bool ok##m = n##m >= 0 && yy##m >= 0 && yy##m < IH && xx##m >= 0 && xx##m < IW; \
            const int off##m = ok##m ? ((n##m * IH + yy##m) * IW + xx##m) * in_cs : 0;
            MLP_ROWS(CF_OFF)
            __global const float* Wk = Wt + (size_t)((kh * KW + kw) * IC) * out_pad;
#define CF_ALL(m) && ok##m
            if (true MLP_ROWS(CF_ALL)) {
                // Every row of the tile reads inside the image (the common case): plain loads.
                for (int ic = 0; ic < IC; ic++) {
                    const vfloat w0 = VLOAD(0, Wk + (size_t)ic * out_pad);
                    vfloat w1 = w0;
                    MLP_V1(w1 = VLOAD(0, Wk + (size_t)ic * out_pad + VW);)
#define CF_FMA_IN(m) { const vfloat xv = (vfloat)(A[off##m + ic]); \
                    acc##m##_0 = fma(xv, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(xv, w1, acc##m##_1);) }
                    MLP_ROWS(CF_FMA_IN)
                }
            } else {
                for (int ic = 0; ic < IC; ic++) {
                    const vfloat w0 = VLOAD(0, Wk + (size_t)ic * out_pad);
                    vfloat w1 = w0;
                    MLP_V1(w1 = VLOAD(0, Wk + (size_t)ic * out_pad + VW);)
#define CF_FMA(m) { const float t = A[off##m + ic]; const vfloat xv = (vfloat)(ok##m ? t : 0.0f); \
                    acc##m##_0 = fma(xv, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(xv, w1, acc##m##_1);) }
                    MLP_ROWS(CF_FMA)
                }
            }
        }
    }
    CNN_CONV_FORWARD_FINISH
}

#define CNN_CONV_BACKWARD_WEIGHTS_ARGS \
    __global const float* in, const int in_cand, const int in_cs, const int IC, const int IH, const int IW, \
    const int KH, const int KW, const int pad, const int OH, const int OW, \
    __global const float* dz, const int dz_cand, const int out_pad, const int images, \
    __global float* grads, const int pstride, const int woff, __global const int* status
// CNN_CONV_WEIGHT_STORE: the weight-gradient tile's rows k0 .. k0+TM-1 (those < K) and, when with_bias, the
// bias row after the K rows (in scope: G at the tile's column, k0, K, out_pad, with_bias and the accumulators).
#define CW_OUT(m) if (k0 + m < K) { VSTORE(acc##m##_0, 0, G + (size_t)(k0 + m) * out_pad); \
        MLP_V1(VSTORE(acc##m##_1, 0, G + (size_t)(k0 + m) * out_pad + VW);) }
#define CNN_CONV_WEIGHT_STORE \
    MLP_ROWS(CW_OUT) \
    if (with_bias) { \
        VSTORE(bacc0, 0, G + (size_t)K * out_pad); \
        MLP_V1(VSTORE(bacc1, 0, G + (size_t)K * out_pad + VW);) \
    }

// Convolution weight gradients: dWT[k][oc] = sum over pixels of in_col[pixel][k] * dZ[pixel][oc] and
// db = column sums of dZ, pixels in order (image, y, x). Written to grads at the layer's offsets.
// global: (out_pad / TN, ceil(K / TM), P).
__kernel void cnn_conv_backward_weights(CNN_CONV_BACKWARD_WEIGHTS_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int k0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    const int K = KH * KW * IC;
    __global const float* A = in + (size_t)c * in_cand;
    __global const float* D = dz + (size_t)c * dz_cand + o0;

#define CW_POS(m) const int kk##m = min(k0 + m, K - 1); const int ch##m = kk##m % IC; \
    const int dy##m = (kk##m / IC) / KW - pad, dx##m = (kk##m / IC) % KW - pad;
    MLP_ROWS(CW_POS)
#define CW_DECL(m) vfloat acc##m##_0 = (vfloat)(0.0f), acc##m##_1 = (vfloat)(0.0f);
    MLP_ROWS(CW_DECL)
    vfloat bacc0 = (vfloat)(0.0f), bacc1 = (vfloat)(0.0f);
    const bool with_bias = k0 == 0;
    if (IC % TM == 0) {
        // All TM rows of the tile are channels ch0.. of one tap: one address per pixel, and only the
        // pixels whose tap lies inside the input (the others add exact zeros in the general form).
        const int tap = k0 / IC, ch0 = k0 - tap * IC, ty = tap / KW - pad, tx = tap % KW - pad;
        const int ylo = max(0, -ty), yhi = min(OH, IH - ty), xlo = max(0, -tx), xhi = min(OW, IW - tx);
        for (int n = 0; n < images; n++) {
            for (int y = ylo; y < yhi; y++) {
                for (int x = xlo; x < xhi; x++) {
                    const size_t r = ((size_t)n * OH + y) * OW + x;
                    const vfloat d0 = VLOAD(0, D + r * out_pad);
                    vfloat d1 = d0;
                    MLP_V1(d1 = VLOAD(0, D + r * out_pad + VW);)
                    __global const float* ap = A + ((size_t)(n * IH + y + ty) * IW + x + tx) * in_cs + ch0;
#define CW_FMA_IN(m) { const vfloat xv = (vfloat)(ap[m]); \
                    acc##m##_0 = fma(xv, d0, acc##m##_0); MLP_V1(acc##m##_1 = fma(xv, d1, acc##m##_1);) }
                    MLP_ROWS(CW_FMA_IN)
                }
            }
        }
        if (with_bias) {
            for (size_t r = 0; r < (size_t)images * OH * OW; r++) {
                bacc0 += VLOAD(0, D + r * out_pad);
                MLP_V1(bacc1 += VLOAD(0, D + r * out_pad + VW);)
            }
        }
    } else
    for (int n = 0; n < images; n++) {
        for (int y = 0; y < OH; y++) {
            for (int x = 0; x < OW; x++) {
                const size_t r = ((size_t)n * OH + y) * OW + x;
                const vfloat d0 = VLOAD(0, D + r * out_pad);
                vfloat d1 = d0;
                MLP_V1(d1 = VLOAD(0, D + r * out_pad + VW);)
                if (with_bias) { bacc0 += d0; MLP_V1(bacc1 += d1;) }
#define CW_FMA(m) { const int iy = y + dy##m, ix = x + dx##m; \
                    const bool ok = iy >= 0 && iy < IH && ix >= 0 && ix < IW; \
                    const float t = A[ok ? ((size_t)(n * IH + iy) * IW + ix) * in_cs + ch##m : 0]; \
                    const vfloat xv = (vfloat)(ok ? t : 0.0f); \
                    acc##m##_0 = fma(xv, d0, acc##m##_0); MLP_V1(acc##m##_1 = fma(xv, d1, acc##m##_1);) }
                MLP_ROWS(CW_FMA)
            }
        }
    }
    __global float* G = grads + (size_t)c * pstride + woff + o0;
    CNN_CONV_WEIGHT_STORE
}

#define CNN_CONV_BACKWARD_DATA_ARGS \
    __global const float* dz, const int dz_cand, const int out_pad, const int OC, const int OH, const int OW, \
    const int KH, const int KW, const int pad, \
    __global const float* mirror, const int mstride, const int moff, const int m_pad, \
    __global const float* zin, __global float* din, const int in_cand, const int in_cs, const int IC, \
    const int IH, const int IW, const int rows, \
    __global const float* params, const int pstride, \
    __global const int* act_id, const int slot, const int slots, \
    __global const uint* seeds, const uint pass, const int layer_prev, __global const int* status, const int aoff
// CNN_CONV_DATA_FINISH: stores the raw tile dIn, then the Linear layer's backward epilogue (times act'(Zin)
// where the input is an activated conv's output). In scope: the kernel's arguments, c, r0, i0 and the
// accumulators (cnn_conv_staged.cl's data gradient shares it).
#define CD_OUT(m) { VSTORE(acc##m##_0, 0, Gc + m * in_cs); MLP_V1(VSTORE(acc##m##_1, 0, Gc + m * in_cs + VW);) }
#define CNN_CONV_DATA_FINISH { \
    CNN_SLOT_ACTIVATION \
    __global const float* Zc = zin + (size_t)c * in_cand + (size_t)r0 * in_cs + i0; \
    __global float* Gc = din + (size_t)c * in_cand + (size_t)r0 * in_cs + i0; \
    MLP_ROWS(CD_OUT) \
    float psum[1]; \
    mlp_backward_epilogue(Zc, Gc, in_cs, r0, i0, rows, IC, id, prm, base, layer_prev, psum, 0, false); \
}

// Convolution backward into its input: dIn[pixel][ic] = sum_{kh,kw,oc} dZ[(y-kh+pad, x-kw+pad)][oc] *
// W[oc][kh][kw][ic] (a full correlation with the flipped kernel), then times act'(Zin) when the input is
// an activated conv's output (slot >= 0; the Linear layer's backward epilogue). Rows = images*IH*IW input
// pixels; columns >= IC are zeros. mirror: W at moff, oc rows of m_pad floats, entry (kh*KW + kw)*IC + ic.
// global: (in_cs / TN, rowsPad / TM, P).
__kernel void cnn_conv_backward_data(CNN_CONV_BACKWARD_DATA_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int r0 = get_global_id(1) * TM;
    const int i0 = get_global_id(0) * TN;
    const int P = IH * IW;
    __global const float* Mc = mirror + (size_t)c * mstride + moff + i0;
    __global const float* D = dz + (size_t)c * dz_cand;

#define CD_POS(m) const int n##m = r0 + m < rows ? (r0 + m) / P : -1; \
    const int y##m = ((r0 + m) % P) / IW + pad, x##m = ((r0 + m) % P) % IW + pad;
    MLP_ROWS(CD_POS)
#define CD_DECL(m) vfloat acc##m##_0 = (vfloat)(0.0f), acc##m##_1 = (vfloat)(0.0f);
    MLP_ROWS(CD_DECL)
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
#define CD_OFF(m) const int yy##m = y##m - kh, xx##m = x##m - kw; \
            const bool ok##m = n##m >= 0 && yy##m >= 0 && yy##m < OH && xx##m >= 0 && xx##m < OW; \
            const int off##m = ok##m ? ((n##m * OH + yy##m) * OW + xx##m) * out_pad : 0;
            MLP_ROWS(CD_OFF)
            __global const float* Mk = Mc + (kh * KW + kw) * IC;
#define CD_ALL(m) && ok##m
#define CD_ANY(m) || ok##m
            // A tap outside the output for every row of the tile (the full correlation's border) adds zeros.
            if (!(false MLP_ROWS(CD_ANY))) continue;
            if (true MLP_ROWS(CD_ALL)) {
                for (int oc = 0; oc < OC; oc++) {
                    const vfloat w0 = VLOAD(0, Mk + (size_t)oc * m_pad);
                    vfloat w1 = w0;
                    MLP_V1(w1 = VLOAD(0, Mk + (size_t)oc * m_pad + VW);)
#define CD_FMA_IN(m) { const vfloat dv = (vfloat)(D[off##m + oc]); \
                    acc##m##_0 = fma(dv, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(dv, w1, acc##m##_1);) }
                    MLP_ROWS(CD_FMA_IN)
                }
            } else {
                for (int oc = 0; oc < OC; oc++) {
                    const vfloat w0 = VLOAD(0, Mk + (size_t)oc * m_pad);
                    vfloat w1 = w0;
                    MLP_V1(w1 = VLOAD(0, Mk + (size_t)oc * m_pad + VW);)
#define CD_FMA(m) { const float t = D[off##m + oc]; const vfloat dv = (vfloat)(ok##m ? t : 0.0f); \
                    acc##m##_0 = fma(dv, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(dv, w1, acc##m##_1);) }
                    MLP_ROWS(CD_FMA)
                }
            }
        }
    }
    CNN_CONV_DATA_FINISH
}
