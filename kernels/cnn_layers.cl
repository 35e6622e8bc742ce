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

// Convolution forward as an implicit GEMM: Z[pixel][oc] = b[oc] + sum_k in_col[pixel][k] * WT[k][oc],
// A = act(Z). The im2col row of a pixel is gathered on the fly (zero outside the image: padding).
// in: [images][IH][IW][in_cs] (in_cand = 0 for the shared input batch). rows = images*OH*OW.
// global: (out_pad / TN, rowsPad / TM, P).
__kernel void cnn_conv_forward(
    __global const float* in, const int in_cand, const int in_cs, const int IC, const int IH, const int IW,
    const int KH, const int KW, const int pad, const int OH, const int OW,
    __global const float* params, const int pstride, const int woff, const int out_pad, const int OC,
    __global float* z, __global float* a, const int out_cand, const int rows,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int training, const int layer,
    __global const int* status, const int skip_frozen)
{
    const int c = get_global_id(2);
    if (skip_frozen && status[c] != MLP_ACTIVE) return;
    const int r0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    const int K = KH * KW * IC;
    __global const float* Wt = params + (size_t)c * pstride + woff + o0;
    __global const float* B = Wt + (size_t)K * out_pad;
    __global const float* A = in + (size_t)c * in_cand;

    int img[TM], oy[TM], ox[TM];
    for (int m = 0; m < TM; m++) {
        const int r = r0 + m;
        const int n = r / (OH * OW), p = r % (OH * OW);
        img[m] = r < rows ? n : -1;
        oy[m] = p / OW - pad;
        ox[m] = p % OW - pad;
    }
    vfloat acc[TM][TNV];
    for (int v = 0; v < TNV; v++) {
        vfloat b = VLOAD(0, B + v * VW);
        for (int m = 0; m < TM; m++) acc[m][v] = b;
    }
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
            int off[TM];
            for (int m = 0; m < TM; m++) {
                const int y = oy[m] + kh, xx = ox[m] + kw;
                const bool ok = img[m] >= 0 && y >= 0 && y < IH && xx >= 0 && xx < IW;
                off[m] = ok ? ((img[m] * IH + y) * IW + xx) * in_cs : -1;
            }
            __global const float* Wk = Wt + (size_t)((kh * KW + kw) * IC) * out_pad;
            for (int ic = 0; ic < IC; ic++) {
                vfloat w[TNV];
                for (int v = 0; v < TNV; v++) w[v] = VLOAD(0, Wk + (size_t)ic * out_pad + v * VW);
                for (int m = 0; m < TM; m++) {
                    const vfloat xv = (vfloat)(off[m] >= 0 ? A[off[m] + ic] : 0.0f);
                    for (int v = 0; v < TNV; v++) acc[m][v] = fma(xv, w[v], acc[m][v]);
                }
            }
        }
    }

    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride;
    const uint base = af_pass_base(seeds[c], pass);
    __global float* Zc = z + (size_t)c * out_cand;
    __global float* Ac = a + (size_t)c * out_cand;
    for (int m = 0; m < TM; m++) {
        const int row = r0 + m;
        for (int v = 0; v < TNV; v++) {
            float tz[VW], ta[VW];
            VSTORE(acc[m][v], 0, tz);
            for (int e = 0; e < VW; e++) {
                const int col = o0 + v * VW + e;
                const bool valid = row < rows && col < OC;
                const float zz = valid ? tz[e] : 0.0f;
                tz[e] = zz;
                ta[e] = valid ? mlp_act(id, zz, prm, mlp_key(training, base, layer, row, col)) : 0.0f;
            }
            VSTORE(VLOAD(0, tz), 0, Zc + (size_t)row * out_pad + o0 + v * VW);
            VSTORE(VLOAD(0, ta), 0, Ac + (size_t)row * out_pad + o0 + v * VW);
        }
    }
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

    int dy[TM], dx[TM], ch[TM];
    for (int m = 0; m < TM; m++) {
        const int k = min(k0 + m, K - 1), q = k / IC;
        ch[m] = k % IC;
        dy[m] = q / KW - pad;
        dx[m] = q % KW - pad;
    }
    vfloat acc[TM][TNV], bacc[TNV];
    for (int v = 0; v < TNV; v++) {
        bacc[v] = (vfloat)(0.0f);
        for (int m = 0; m < TM; m++) acc[m][v] = (vfloat)(0.0f);
    }
    const bool with_bias = k0 == 0;
    for (int n = 0; n < images; n++) {
        for (int y = 0; y < OH; y++) {
            for (int x = 0; x < OW; x++) {
                const size_t r = ((size_t)n * OH + y) * OW + x;
                vfloat d[TNV];
                for (int v = 0; v < TNV; v++) d[v] = VLOAD(0, D + r * out_pad + v * VW);
                if (with_bias)
                    for (int v = 0; v < TNV; v++) bacc[v] += d[v];
                for (int m = 0; m < TM; m++) {
                    const int iy = y + dy[m], ix = x + dx[m];
                    const bool ok = iy >= 0 && iy < IH && ix >= 0 && ix < IW;
                    const vfloat xv = (vfloat)(ok ? A[((size_t)(n * IH + iy) * IW + ix) * in_cs + ch[m]] : 0.0f);
                    for (int v = 0; v < TNV; v++) acc[m][v] = fma(xv, d[v], acc[m][v]);
                }
            }
        }
    }
    __global float* G = grads + (size_t)c * pstride + woff + o0;
    for (int m = 0; m < TM; m++)
        if (k0 + m < K)
            for (int v = 0; v < TNV; v++) VSTORE(acc[m][v], 0, G + (size_t)(k0 + m) * out_pad + v * VW);
    if (with_bias)
        for (int v = 0; v < TNV; v++) VSTORE(bacc[v], 0, G + (size_t)K * out_pad + v * VW);
}

// Convolution backward into its input: dIn[pixel][ic] = sum_{kh,kw,oc} dZ[(y-kh+pad, x-kw+pad)][oc] *
// W[oc][kh][kw][ic] (a full correlation with the flipped kernel), then times act'(Zin) when the input is
// an activated conv's output (slot >= 0). Rows = images*IH*IW input pixels; columns >= IC are zeros.
// mirror: W at moff, oc rows of m_pad floats, entry (kh*KW + kw)*IC + ic.
// global: (in_cs / TN, rowsPad / TM, P).
__kernel void cnn_conv_backward_data(
    __global const float* dz, const int dz_cand, const int out_pad, const int OC, const int OH, const int OW,
    const int KH, const int KW, const int pad,
    __global const float* mirror, const int mstride, const int moff, const int m_pad,
    __global const float* zin, __global float* din, const int in_cand, const int in_cs, const int IC,
    const int IH, const int IW, const int rows,
    __global const float* params, const int pstride,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer_prev, __global const int* status)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int r0 = get_global_id(1) * TM;
    const int i0 = get_global_id(0) * TN;
    __global const float* Mc = mirror + (size_t)c * mstride + moff + i0;
    __global const float* D = dz + (size_t)c * dz_cand;

    int img[TM], iy[TM], ix[TM];
    for (int m = 0; m < TM; m++) {
        const int r = r0 + m;
        const int n = r / (IH * IW), p = r % (IH * IW);
        img[m] = r < rows ? n : -1;
        iy[m] = p / IW + pad;
        ix[m] = p % IW + pad;
    }
    vfloat acc[TM][TNV];
    for (int m = 0; m < TM; m++)
        for (int v = 0; v < TNV; v++) acc[m][v] = (vfloat)(0.0f);
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
            int off[TM];
            for (int m = 0; m < TM; m++) {
                const int y = iy[m] - kh, x = ix[m] - kw;
                const bool ok = img[m] >= 0 && y >= 0 && y < OH && x >= 0 && x < OW;
                off[m] = ok ? ((img[m] * OH + y) * OW + x) * out_pad : -1;
            }
            __global const float* Mk = Mc + (kh * KW + kw) * IC;
            for (int oc = 0; oc < OC; oc++) {
                vfloat w[TNV];
                for (int v = 0; v < TNV; v++) w[v] = VLOAD(0, Mk + (size_t)oc * m_pad + v * VW);
                for (int m = 0; m < TM; m++) {
                    const vfloat d = (vfloat)(off[m] >= 0 ? D[off[m] + oc] : 0.0f);
                    for (int v = 0; v < TNV; v++) acc[m][v] = fma(d, w[v], acc[m][v]);
                }
            }
        }
    }
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride;
    const uint base = af_pass_base(seeds[c], pass);
    __global const float* Zc = zin + (size_t)c * in_cand;
    __global float* Gc = din + (size_t)c * in_cand;
    for (int m = 0; m < TM; m++) {
        const int row = r0 + m;
        for (int v = 0; v < TNV; v++) {
            float t[VW];
            VSTORE(acc[m][v], 0, t);
            for (int e = 0; e < VW; e++) {
                const int col = i0 + v * VW + e;
                const bool valid = row < rows && col < IC;
                float g = valid ? t[e] : 0.0f;
                if (valid && id >= 0)
                    g *= af_dact(id, Zc[(size_t)row * in_cs + col], prm, mlp_key(1, base, layer_prev, row, col));
                t[e] = g;
            }
            VSTORE(VLOAD(0, t), 0, Gc + (size_t)row * in_cs + i0 + v * VW);
        }
    }
}

// 2x2 max-pooling, stride 2, floor mode: out[n][py][px][ch] = max of the window, argmax = first maximum
// in the order (0,0), (0,1), (1,0), (1,1). in: [images][H][W][cs]; out: [images][H/2][W/2][cs].
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
    for (int ch = 0; ch < cs; ch++) {
        float best = I[ch];
        uchar at = 0;
        const float v1 = I[cs + ch], v2 = I[(size_t)W * cs + ch], v3 = I[(size_t)(W + 1) * cs + ch];
        if (v1 > best) { best = v1; at = 1; }
        if (v2 > best) { best = v2; at = 2; }
        if (v3 > best) { best = v3; at = 3; }
        O[ch] = ch < C ? best : 0.0f;
        R[ch] = at;
    }
}

// Max-pooling backward, one input pixel per work-item: dA = dOut of its window when it is the window's
// argmax, else 0 (windows do not overlap, so no sums); then times act'(Z) when the pooled map is an
// activated conv's output (slot >= 0). Writes every row of the padded [pixels][cs] gradient.
// global: (rowsPad, P) with rows = images*H*W.
__kernel void cnn_pool_backward(
    __global const float* dout, __global const uchar* arg, const int out_cand,
    __global const float* zin, __global float* din, const int cand, const int cs, const int C,
    const int H, const int W, const int rows,
    __global const float* params, const int pstride,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer_prev, __global const int* status)
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
    const uchar mine = (uchar)((y & 1) * 2 + (x & 1));
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = params + (size_t)c * pstride;
    const uint base = af_pass_base(seeds[c], pass);
    __global const float* Z = zin + (size_t)c * cand + (size_t)r * cs;
    for (int ch = 0; ch < cs; ch++) {
        float g = (ch < C && R[ch] == mine) ? D[ch] : 0.0f;
        if (g != 0.0f && id >= 0) g *= af_dact(id, Z[ch], prm, mlp_key(1, base, layer_prev, r, ch));
        G[ch] = g;
    }
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
// layer, matching the keys of the forward pass). global: (rowsPad, P).
__kernel void cnn_act_backward(
    __global float* g, __global const float* zin, const int cand, const int cs, const int C, const int rows,
    __global const float* params, const int pstride,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer, __global const int* status)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (r >= rows || status[c] != MLP_ACTIVE) return;
    const int id = act_id[c * slots + slot];
    if (id < 0) return;
    __global const float* prm = params + (size_t)c * pstride;
    const uint base = af_pass_base(seeds[c], pass);
    __global float* G = g + (size_t)c * cand + (size_t)r * cs;
    __global const float* Z = zin + (size_t)c * cand + (size_t)r * cs;
    for (int ch = 0; ch < C; ch++) G[ch] *= af_dact(id, Z[ch], prm, mlp_key(1, base, layer, r, ch));
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
