// cnn_layers: the convolution, pooling and dropout kernels of the population CNN trainer. Appended after
// mlp_common.cl, mlp_gemm.cl, mlp_rows.cl and adam_update.cl (whose Linear, loss and Adam kernels the CNN
// trainer reuses), so TM, TN, VW, TNV, vfloat, mlp_act/mlp_dact/mlp_key and the status codes are defined.
//
// Layouts (c = candidate; every feature map is channels-last, NHWC):
//   a feature map [image][y][x][cs]: cs = channel stride (a multiple of TN, or the image channel count for
//     the shared input); channels >= C are exact zeros. A conv's rows are its pixels (image, y, x), so a
//     conv output is also a [pixels][cs] matrix; images are H*W*cs floats apart.
//   conv weights in params: WT [K][out_pad] with k = (kh*KW + kw)*IC + ic, then the bias [out_pad];
//     the mirror holds W [oc][m_pad] (PyTorch's oc x (kh, kw, ic)) for the backward-data GEMM.
//   pool argmax: one uchar per pooled element, 0..3 = (dy*2 + dx) of the window's first maximum.
// All sums run in a fixed order, so a candidate's numbers never depend on its neighbours.

// Copies images order[start + r] (PyTorch's C x H x W rows of x) into dst as H x W x C, zeroing images
// r >= rows; labels likewise. global: (imagesPad).
__kernel void cnn_gather_images(
    __global const float* x, const int C, const int H, const int W, __global const int* labels,
    __global const int* order, const int use_order, const int start, const int rows,
    __global float* dst, __global int* dst_labels)
{
    const int r = get_global_id(0);
    const int F = C * H * W;
    __global float* d = dst + (size_t)r * F;
    if (r >= rows) {
        for (int j = 0; j < F; j++) d[j] = 0.0f;
        dst_labels[r] = 0;
        return;
    }
    const int src = use_order ? order[start + r] : start + r;
    __global const float* s = x + (size_t)src * F;
    for (int ch = 0; ch < C; ch++)
        for (int p = 0; p < H * W; p++) d[p * C + ch] = s[ch * H * W + p];
    dst_labels[r] = labels[src];
}

// Register tiles live in named variables (acc<m>_<v>, via mlp_gemm.cl's MLP_ROWS / MLP_V1): PoCL keeps
// private arrays in memory. Out-of-image taps load element 0 and select 0 (no branch in the inner loop).

// Convolution forward as an implicit GEMM: Z[pixel][oc] = b[oc] + sum_k in_col[pixel][k] * WT[k][oc],
// A = act(Z). The im2col row of a pixel is gathered on the fly (zero outside the image: padding).
// in: [images][IH][IW][in_cs] (in_cand = 0 for the shared input batch). rows = images*OH*OW.
// The epilogue is the Linear layer's (mlp_forward_epilogue): Z only where the backward pass needs it.
// global: (out_pad / TN, rowsPad / TM, P).
__kernel void cnn_conv_forward(
    __global const float* in, const int in_cand, const int in_cs, const int IC, const int IH, const int IW,
    const int KH, const int KW, const int pad, const int OH, const int OW,
    __global const float* params, const int pstride, const int woff, const int out_pad, const int OC,
    __global float* z, __global float* a, const int out_cand, const int rows,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int training, const int layer,
    __global const int* status, const int skip_frozen, const int aoff)
{
    const int c = get_global_id(2);
    if (skip_frozen && status[c] != MLP_ACTIVE) return;
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
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
    const uint base = af_pass_base(seeds[c], pass);
    __global float* Zc = z + (size_t)c * out_cand + (size_t)r0 * out_pad + o0;
    __global float* Ac = a + (size_t)c * out_cand + (size_t)r0 * out_pad + o0;
#define CF_OUT(m) { VSTORE(acc##m##_0, 0, Ac + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Ac + m * out_pad + VW);) }
    MLP_ROWS(CF_OUT)
    // Z from the registers where the backward pass needs it (the epilogue writes Z only on edge tiles).
    if (training && id >= 0) {
#define CF_ZOUT(m) { VSTORE(acc##m##_0, 0, Zc + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Zc + m * out_pad + VW);) }
        MLP_ROWS(CF_ZOUT)
    }
    mlp_forward_epilogue(Zc, Ac, out_pad, r0, o0, rows, OC, id, prm, training, base, layer, 0);
}

// Convolution weight gradients: dWT[k][oc] = sum over pixels of in_col[pixel][k] * dZ[pixel][oc] and
// db = column sums of dZ, pixels in order (image, y, x). Written to grads at the layer's offsets.
// global: (out_pad / TN, ceil(K / TM), P).
__kernel void cnn_conv_backward_weights(
    __global const float* in, const int in_cand, const int in_cs, const int IC, const int IH, const int IW,
    const int KH, const int KW, const int pad, const int OH, const int OW,
    __global const float* dz, const int dz_cand, const int out_pad, const int images,
    __global float* grads, const int pstride, const int woff, __global const int* status)
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
#define CW_OUT(m) if (k0 + m < K) { VSTORE(acc##m##_0, 0, G + (size_t)(k0 + m) * out_pad); \
        MLP_V1(VSTORE(acc##m##_1, 0, G + (size_t)(k0 + m) * out_pad + VW);) }
    MLP_ROWS(CW_OUT)
    if (with_bias) {
        VSTORE(bacc0, 0, G + (size_t)K * out_pad);
        MLP_V1(VSTORE(bacc1, 0, G + (size_t)K * out_pad + VW);)
    }
}

// Convolution backward into its input: dIn[pixel][ic] = sum_{kh,kw,oc} dZ[(y-kh+pad, x-kw+pad)][oc] *
// W[oc][kh][kw][ic] (a full correlation with the flipped kernel), then times act'(Zin) when the input is
// an activated conv's output (slot >= 0; the Linear layer's backward epilogue). Rows = images*IH*IW input
// pixels; columns >= IC are zeros. mirror: W at moff, oc rows of m_pad floats, entry (kh*KW + kw)*IC + ic.
// global: (in_cs / TN, rowsPad / TM, P).
__kernel void cnn_conv_backward_data(
    __global const float* dz, const int dz_cand, const int out_pad, const int OC, const int OH, const int OW,
    const int KH, const int KW, const int pad,
    __global const float* mirror, const int mstride, const int moff, const int m_pad,
    __global const float* zin, __global float* din, const int in_cand, const int in_cs, const int IC,
    const int IH, const int IW, const int rows,
    __global const float* params, const int pstride,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer_prev, __global const int* status, const int aoff)
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
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
    const uint base = af_pass_base(seeds[c], pass);
    __global const float* Zc = zin + (size_t)c * in_cand + (size_t)r0 * in_cs + i0;
    __global float* Gc = din + (size_t)c * in_cand + (size_t)r0 * in_cs + i0;
#define CD_OUT(m) { VSTORE(acc##m##_0, 0, Gc + m * in_cs); MLP_V1(VSTORE(acc##m##_1, 0, Gc + m * in_cs + VW);) }
    MLP_ROWS(CD_OUT)
    float psum[1];
    mlp_backward_epilogue(Zc, Gc, in_cs, r0, i0, rows, IC, id, prm, base, layer_prev, psum, 0);
}

// Vector forms of VW lanes for the pooling kernels' argmax bytes and masks.
#if VW == 1
#define CNN_UCHARS uchar
#define CNN_INTS int
#define CNN_TO_UCHARS(x) ((uchar)(x))
#define CNN_TO_INTS(x) ((int)(x))
#define CNN_LOAD_UCHARS(p) (*(p))
#define CNN_STORE_UCHARS(v, p) (*(p) = (v))
#else
#define CNN_CAT(a, b) a##b
#define CNN_XCAT(a, b) CNN_CAT(a, b)
#define CNN_UCHARS CNN_XCAT(uchar, VW)
#define CNN_INTS CNN_XCAT(int, VW)
#define CNN_TO_UCHARS(x) CNN_XCAT(convert_uchar, VW)(x)
#define CNN_TO_INTS(x) CNN_XCAT(convert_int, VW)(x)
#define CNN_LOAD_UCHARS(p) CNN_XCAT(vload, VW)(0, p)
#define CNN_STORE_UCHARS(v, p) CNN_XCAT(vstore, VW)(v, 0, p)
#endif

// 2x2 max-pooling, stride 2, floor mode: out[n][py][px][ch] = max of the window, argmax = first maximum
// in the order (0,0), (0,1), (1,0), (1,1). in: [images][H][W][cs]; out: [images][H/2][W/2][cs].
// Channels in runs of VW lanes (select() keeps the scalar form's first-maximum rule), the rest one by one.
// global: (imagesPad * PH * PW, P).
__kernel void cnn_pool_forward(
    __global const float* in, __global float* out, __global uchar* arg, const int cand,
    const int out_cand, const int cs, const int C, const int H, const int W, const int images,
    __global const int* status, const int skip_frozen)
{
    const int q = get_global_id(0), c = get_global_id(1);
    if (skip_frozen && status[c] != MLP_ACTIVE) return;
    const int PH = H / 2, PW = W / 2;
    const int n = q / (PH * PW), p = q % (PH * PW), py = p / PW, px = p % PW;
    __global float* O = out + (size_t)c * out_cand + (size_t)q * cs;
    __global uchar* R = arg + (size_t)c * out_cand + (size_t)q * cs;
    if (n >= images) {
        for (int ch = 0; ch < cs; ch++) { O[ch] = 0.0f; R[ch] = 0; }
        return;
    }
    __global const float* I = in + (size_t)c * cand + ((size_t)(n * H + 2 * py) * W + 2 * px) * cs;
    __global const float* I1 = I + cs;
    __global const float* I2 = I + (size_t)W * cs;
    __global const float* I3 = I2 + cs;
    int ch = 0;
    for (; ch + VW <= C; ch += VW) {
        vfloat best = VLOAD(0, I + ch);
        CNN_INTS at = (CNN_INTS)(0);
        const vfloat v1 = VLOAD(0, I1 + ch), v2 = VLOAD(0, I2 + ch), v3 = VLOAD(0, I3 + ch);
        CNN_INTS gt = v1 > best; best = select(best, v1, gt); at = select(at, (CNN_INTS)(1), gt);
        gt = v2 > best; best = select(best, v2, gt); at = select(at, (CNN_INTS)(2), gt);
        gt = v3 > best; best = select(best, v3, gt); at = select(at, (CNN_INTS)(3), gt);
        VSTORE(best, 0, O + ch);
        CNN_STORE_UCHARS(CNN_TO_UCHARS(at), R + ch);
    }
    for (; ch < cs; ch++) {
        float best = I[ch];
        uchar at = 0;
        const float v1 = I1[ch], v2 = I2[ch], v3 = I3[ch];
        if (v1 > best) { best = v1; at = 1; }
        if (v2 > best) { best = v2; at = 2; }
        if (v3 > best) { best = v3; at = 3; }
        O[ch] = ch < C ? best : 0.0f;
        R[ch] = at;
    }
}

// Max-pooling backward, one input pixel per work-item: dA = dOut of its window when it is the window's
// argmax, else 0 (windows do not overlap, so no sums); then times act'(Z) when the pooled map is an
// activated conv's output (slot >= 0), over every channel as the fused GEMM epilogues do (so a zero
// gradient times an infinite slope is NaN there too, as in the reference). Writes every row of the padded
// [pixels][cs] gradient. global: (rowsPad, P) with rows = images*H*W.
__kernel void cnn_pool_backward(
    __global const float* dout, __global const uchar* arg, const int out_cand,
    __global const float* zin, __global float* din, const int cand, const int cs, const int C,
    const int H, const int W, const int rows,
    __global const float* params, const int pstride,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer_prev, __global const int* status, const int aoff)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    __global float* G = din + (size_t)c * cand + (size_t)r * cs;
    const int PH = H / 2, PW = W / 2;
    const int n = r / (H * W), p = r % (H * W), y = p / W, x = p % W;
    const bool inside = r < rows && y / 2 < PH && x / 2 < PW;
    if (!inside) {
        for (int ch = 0; ch < cs; ch++) G[ch] = 0.0f;
        return;
    }
    const size_t q = ((size_t)(n * PH + y / 2) * PW + x / 2) * cs;
    __global const float* D = dout + (size_t)c * out_cand + q;
    __global const uchar* R = arg + (size_t)c * out_cand + q;
    const int mine = (y & 1) * 2 + (x & 1);
    int ch = 0;
    for (; ch + VW <= C; ch += VW) {
        const CNN_INTS hit = CNN_TO_INTS(CNN_LOAD_UCHARS(R + ch)) == (CNN_INTS)(mine);
        VSTORE(select((vfloat)(0.0f), VLOAD(0, D + ch), hit), 0, G + ch);
    }
    for (; ch < cs; ch++) G[ch] = (ch < C && R[ch] == mine) ? D[ch] : 0.0f;
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    if (id < 0) return;
    __global const float* prm = params + (size_t)c * pstride + aoff + slot * AF_KMAX;
    __global const float* Z = zin + (size_t)c * cand + (size_t)r * cs;
#if AF_KEYED
    const uint base = af_pass_base(seeds[c], pass);
    for (ch = 0; ch < C; ch++) G[ch] *= af_dact(id, Z[ch], prm, mlp_key(1, base, layer_prev, r, ch));
#else
    mlp_dact_span(id, G, Z, C, prm, 1u);
#endif
}

// The keep decision of one dropout element: u in [0,1) from 24 bits of its key; kept when u >= rate.
// DropoutMask.keep on the host is the same function.
inline bool cnn_dropout_keep(uint key, float rate) {
    const float u = (float)(af_mix32(key ^ 0x2545f491u) >> 8) * 0x1p-24f;
    return u >= rate;
}

// Dropout in place on a feature map [images][H][W][cs] (a flat vector has H = W = 1): each element
// (ch < C) is kept with probability 1 - rate and scaled by 1/(1 - rate), else zeroed. The key of an
// element is (candidate seed, pass, layer, image, c*H*W + y*W + x): PyTorch's flattened index, so the
// mask does not depend on the device layout. The same call on a gradient is dropout's backward.
// global: (imagesPad, P).
__kernel void cnn_dropout(
    __global float* buf, const int cand, const int cs, const int C, const int H, const int W, const int images,
    const float rate, const float scale, __global const uint* seeds, const uint pass, const int layer,
    __global const int* status, const int skip_frozen)
{
    const int n = get_global_id(0), c = get_global_id(1);
    if (n >= images || (skip_frozen && status[c] != MLP_ACTIVE)) return;
    const uint base = af_pass_base(seeds[c], pass);
    __global float* B = buf + (size_t)c * cand + (size_t)n * H * W * cs;
    for (int p = 0; p < H * W; p++)
        for (int ch = 0; ch < C; ch++) {
            const uint key = af_element_key(base, layer, n, ch * H * W + p);
            B[p * cs + ch] = cnn_dropout_keep(key, rate) ? B[p * cs + ch] * scale : 0.0f;
        }
}

// dZ = dA * act'(Z) in place over a [rows][cs] matrix (rows = pixels for a conv, images for a Linear
// layer, matching the keys of the forward pass), for candidates with an element-wise function in the
// slot. With learnable parameters (part_off >= 0) each row also writes its sums of dA * d act / d p_k to
// partials[c][part_off + row * AF_KMAX + k] (cnn_param_grads adds them up). global: (rowsPad, P).
__kernel void cnn_act_backward(
    __global float* g, __global const float* zin, const int cand, const int cs, const int C, const int rows,
    __global const float* params, const int pstride,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer, __global const int* status,
    const int aoff, __global const int* act_nparams, __global float* partials, const int part_cstride, const int part_off)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (r >= rows || status[c] != MLP_ACTIVE) return;
    const int id = act_id[c * slots + slot];
#if AF_KMAX > 0
    float psum[AF_KMAX];
    for (int k = 0; k < AF_KMAX; k++) psum[k] = 0.0f;
    const int np = id >= 0 && part_off >= 0 ? act_nparams[c * slots + slot] : 0;
#endif
    if (id >= 0) {
        __global const float* prm = params + (size_t)c * pstride + aoff + slot * AF_KMAX;
        const uint base = af_pass_base(seeds[c], pass);
        __global float* G = g + (size_t)c * cand + (size_t)r * cs;
        __global const float* Z = zin + (size_t)c * cand + (size_t)r * cs;
        for (int ch = 0; ch < C; ch++) {
            const float da = G[ch], zz = Z[ch];
            const uint key = mlp_key(1, base, layer, r, ch);
            G[ch] = da * af_dact(id, zz, prm, key);
#if AF_KMAX > 0
            for (int k = 0; k < np; k++) psum[k] += da * af_dparam(id, k, zz, prm, key);
#endif
        }
    }
#if AF_KMAX > 0
    if (part_off >= 0) {
        __global float* Pp = partials + (size_t)c * part_cstride + part_off + (size_t)r * AF_KMAX;
        for (int k = 0; k < AF_KMAX; k++) Pp[k] = psum[k];
    }
#endif
}

// Gradient of learnable parameter k of slot s: the sum of the row partials of every layer activated by
// slot s (layers in architecture order, rows in order; cnn_act_backward's or the loss kernel's).
// layout: per such layer 3 ints (slot, part_off, rows per image). Written to grads at aoff.
// global: (slots * AF_KMAX, P).
__kernel void cnn_param_grads(
    __global const float* partials, const int part_cstride, __global const int* layout, const int layouts,
    const int images, __global float* grads, const int pstride, const int aoff, __global const int* status)
{
#if AF_KMAX > 0
    const int idx = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const int s = idx / AF_KMAX, k = idx % AF_KMAX;
    float sum = 0.0f;
    for (int j = 0; j < layouts; j++) {
        if (layout[3 * j] != s) continue;
        const int rows = images * layout[3 * j + 2];
        __global const float* Pp = partials + (size_t)c * part_cstride + layout[3 * j + 1] + k;
        for (int r = 0; r < rows; r++) sum += Pp[(size_t)r * AF_KMAX];
    }
    grads[(size_t)c * pstride + aoff + idx] = sum;
#endif
}

// Dropout on the shared input batch: each candidate gets its own copy [images][H][W][C] (channels-last,
// as the gathered batch), elements kept with probability 1 - rate and scaled by 1/(1 - rate) in
// training (keys as cnn_dropout's: PyTorch's flattened index), copied unchanged in evaluation.
// global: (capacityImages, P).
__kernel void cnn_input_dropout(
    __global const float* x, __global float* out, const int cand, const int C, const int H, const int W,
    const float rate, const float scale, __global const uint* seeds, const uint pass, const int layer,
    const int training, __global const int* status, const int skip_frozen)
{
    const int n = get_global_id(0), c = get_global_id(1);
    if (skip_frozen && status[c] != MLP_ACTIVE) return;
    const int F = C * H * W;
    __global const float* S = x + (size_t)n * F;
    __global float* D = out + (size_t)c * cand + (size_t)n * F;
    if (!training) {
        for (int j = 0; j < F; j++) D[j] = S[j];
        return;
    }
    const uint base = af_pass_base(seeds[c], pass);
    for (int p = 0; p < H * W; p++)
        for (int ch = 0; ch < C; ch++) {
            const uint key = af_element_key(base, layer, n, ch * H * W + p);
            D[p * C + ch] = cnn_dropout_keep(key, rate) ? S[p * C + ch] * scale : 0.0f;
        }
}

// grads += scratch over every parameter of every active candidate (gradient accumulation across the
// micro-batches of one optimiser step, in micro-batch order). global: (pstride, P).
__kernel void cnn_grad_accumulate(
    __global float* grads, __global const float* scratch, const int pstride, __global const int* status)
{
    const int p = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const size_t i = (size_t)c * pstride + p;
    grads[i] += scratch[i];
}

// torch.optim.Adam over every parameter of every active candidate, VW floats per work-item (pstride is
// a multiple of 16): the same per-element arithmetic as adam_update.cl, without its mirror copy (the CNN
// trainer rewrites the mirrors it needs with cnn_mirror_transpose, in cache-friendly blocks).
// global: (pstride / VW, P).
__kernel void cnn_adam_update(
    __global float* params, __global const float* grads, __global float* m1, __global float* m2, const int pstride,
    const float step_size, const float b1, const float b2, const float eps, const float c2sqrt,
    __global const int* status)
{
    const int q = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const size_t i = (size_t)c * pstride + (size_t)q * VW;
    const vfloat g = VLOAD(0, grads + i);
    vfloat m = VLOAD(0, m1 + i);
    m = m + (1.0f - b1) * (g - m);
    const vfloat v = VLOAD(0, m2 + i) * b2 + (1.0f - b2) * g * g;
    VSTORE(m, 0, m1 + i);
    VSTORE(v, 0, m2 + i);
    const vfloat w = VLOAD(0, params + i) - step_size * (m / (sqrt(v) / c2sqrt + eps));
    VSTORE(w, 0, params + i);
}

// The mirror of one layer from its weights: M[o][k] = WT[k][o] for o < out_n, k < K (M's padding is
// left as it is: zeros from the upload). A work-item writes 16 consecutive k of one row o; neighbouring
// work-items (o, o+1, ...) read the same cache lines of WT. global: (out_n, ceil(K / 16), P).
__kernel void cnn_mirror_transpose(
    __global const float* params, const int pstride, const int woff, const int K, const int out_pad,
    __global float* mirror, const int mstride, const int moff, const int m_pad, __global const int* status)
{
    const int o = get_global_id(0), k0 = get_global_id(1) * 16, c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    __global const float* W = params + (size_t)c * pstride + woff + o;
    __global float* M = mirror + (size_t)c * mstride + moff + (size_t)o * m_pad + k0;
    if (k0 + 16 <= K) {
        float16 v;
        v.s0 = W[(size_t)(k0 + 0) * out_pad]; v.s1 = W[(size_t)(k0 + 1) * out_pad];
        v.s2 = W[(size_t)(k0 + 2) * out_pad]; v.s3 = W[(size_t)(k0 + 3) * out_pad];
        v.s4 = W[(size_t)(k0 + 4) * out_pad]; v.s5 = W[(size_t)(k0 + 5) * out_pad];
        v.s6 = W[(size_t)(k0 + 6) * out_pad]; v.s7 = W[(size_t)(k0 + 7) * out_pad];
        v.s8 = W[(size_t)(k0 + 8) * out_pad]; v.s9 = W[(size_t)(k0 + 9) * out_pad];
        v.sa = W[(size_t)(k0 + 10) * out_pad]; v.sb = W[(size_t)(k0 + 11) * out_pad];
        v.sc = W[(size_t)(k0 + 12) * out_pad]; v.sd = W[(size_t)(k0 + 13) * out_pad];
        v.se = W[(size_t)(k0 + 14) * out_pad]; v.sf = W[(size_t)(k0 + 15) * out_pad];
        vstore16(v, 0, M);
    } else {
        for (int j = 0; k0 + j < K; j++) M[j] = W[(size_t)(k0 + j) * out_pad];
    }
}

// A Linear layer's forward for every candidate, as mlp_forward (same arguments, same sums in the same
// order, same epilogue) but each work-item walks `tiles_per_item` consecutive row tiles of its column
// strip, so the strip of WT (K x TN floats, ~200 KB for study 2's 1600 -> 1000 layer) stays in cache
// across the row tiles instead of the whole WT streaming from memory once per row tile.
// global: (out_pad / TN, ceil(row_tiles / tiles_per_item), P).
__kernel void cnn_linear_forward(
    __global const float* ain, const int ain_cstride, const int in_stride, const int k_in,
    __global const float* params, const int pstride, const int woff, const int out_pad, const int out_n,
    __global float* z, __global float* a, const int out_cstride, const int rows,
    __global const int* act_id, const int slot, const int slots, const int aoff,
    __global const uint* seeds, const uint pass, const int training, const int layer,
    __global const int* status, const int skip_frozen, const int row_tiles, const int tiles_per_item)
{
    const int c = get_global_id(2);
    if (skip_frozen && status[c] != MLP_ACTIVE) return;
    const int o0 = get_global_id(0) * TN;
    __global const float* W = params + (size_t)c * pstride + woff + o0;
    __global const float* B = params + (size_t)c * pstride + woff + (size_t)k_in * out_pad + o0;
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
    const uint base = af_pass_base(seeds[c], pass);
    const vfloat b0 = VLOAD(0, B);
    vfloat b1 = b0;
    MLP_V1(b1 = VLOAD(0, B + VW);)
    const int first = get_global_id(1) * tiles_per_item;
    const int last = min(first + tiles_per_item, row_tiles);
    for (int tile = first; tile < last; tile++) {
        const int r0 = tile * TM;
        __global const float* A = ain + (size_t)c * ain_cstride + (size_t)r0 * in_stride;
#define LF_DECL(m) vfloat acc##m##_0 = b0, acc##m##_1 = b1;
        MLP_ROWS(LF_DECL)
        for (int k = 0; k < k_in; k++) {
            const vfloat w0 = VLOAD(0, W + (size_t)k * out_pad);
            vfloat w1 = w0;
            MLP_V1(w1 = VLOAD(0, W + (size_t)k * out_pad + VW);)
            __global const float* ak = A + k;
#define LF_STEP(m) { const vfloat x = (vfloat)(ak[m * in_stride]); acc##m##_0 = fma(x, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(x, w1, acc##m##_1);) }
            MLP_ROWS(LF_STEP)
        }
        __global float* Zc = z + (size_t)c * out_cstride + (size_t)r0 * out_pad + o0;
        __global float* Ac = a + (size_t)c * out_cstride + (size_t)r0 * out_pad + o0;
#define LF_OUT(m) { VSTORE(acc##m##_0, 0, Ac + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Ac + m * out_pad + VW);) }
        MLP_ROWS(LF_OUT)
        if (training && id >= 0) {
#define LF_ZOUT(m) { VSTORE(acc##m##_0, 0, Zc + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Zc + m * out_pad + VW);) }
            MLP_ROWS(LF_ZOUT)
        }
        mlp_forward_epilogue(Zc, Ac, out_pad, r0, o0, rows, out_n, id, prm, training, base, layer, 0);
    }
}

// A Linear layer's backward into its input, as mlp_backward_data (dA = dZ . W from the mirror, then
// dZ_prev = dA * act'(Z_prev) for an element-wise slot; same sums in the same order, same epilogue) but
// each work-item walks `tiles_per_item` row tiles of its column strip, so the strip of the mirror stays in
// cache. Never asked for learnable-parameter partials (the CNN trainer does not fuse those slots).
// global: (in_pad / TN, ceil(row_tiles / tiles_per_item), P).
__kernel void cnn_linear_backward_data(
    __global const float* dz, const int dz_stride, const int dz_cstride, const int out_n,
    __global const float* mirror, const int mstride, const int moff, const int in_pad, const int in_n,
    __global const float* zprev, __global float* dzprev, const int prev_cstride, const int rows,
    __global const float* params, const int pstride, const int aoff,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer_prev,
    __global const int* status, const int row_tiles, const int tiles_per_item)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int i0 = get_global_id(0) * TN;
    __global const float* M = mirror + (size_t)c * mstride + moff + i0;
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
    const uint base = af_pass_base(seeds[c], pass);
    const int first = get_global_id(1) * tiles_per_item;
    const int last = min(first + tiles_per_item, row_tiles);
    for (int tile = first; tile < last; tile++) {
        const int r0 = tile * TM;
        __global const float* D = dz + (size_t)c * dz_cstride + (size_t)r0 * dz_stride;
#define LB_DECL(m) vfloat acc##m##_0 = (vfloat)(0.0f), acc##m##_1 = (vfloat)(0.0f);
        MLP_ROWS(LB_DECL)
        for (int k = 0; k < out_n; k++) {
            const vfloat w0 = VLOAD(0, M + (size_t)k * in_pad);
            vfloat w1 = w0;
            MLP_V1(w1 = VLOAD(0, M + (size_t)k * in_pad + VW);)
            __global const float* dk = D + k;
#define LB_STEP(m) { const vfloat d = (vfloat)(dk[m * dz_stride]); acc##m##_0 = fma(d, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(d, w1, acc##m##_1);) }
            MLP_ROWS(LB_STEP)
        }
        __global const float* Zc = zprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0;
        __global float* Gc = dzprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0;
#define LB_OUT(m) { VSTORE(acc##m##_0, 0, Gc + m * in_pad); MLP_V1(VSTORE(acc##m##_1, 0, Gc + m * in_pad + VW);) }
        MLP_ROWS(LB_OUT)
        float psum[1];
        mlp_backward_epilogue(Zc, Gc, in_pad, r0, i0, rows, in_n, id, prm, base, layer_prev, psum, 0);
    }
}
