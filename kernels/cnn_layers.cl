// cnn_layers: the population CNN trainer's per-element kernels (input gathering, pooling, dropout, the
// activation derivative and its parameter gradients, gradient accumulation, Adam and the mirror copy).
// The trainer's program is the MLP trainer's (mlp_common.cl, mlp_gemm.cl, mlp_rows.cl, adam_update.cl:
// TM, TN, VW, TNV, vfloat, the epilogues, mlp_act/mlp_dact/mlp_key, the loss and the status codes), then
// this file, cnn_conv.cl (convolutions) and cnn_linear.cl (Linear layers).
//
// Layouts (c = candidate; every feature map is channels-last, NHWC):
//   a feature map [image][y][x][cs]: cs = channel stride (a multiple of TN, or the image channel count for
//     the shared input); channels >= C are exact zeros. A conv's rows are its pixels (image, y, x), so a
//     conv output is also a [pixels][cs] matrix; images are H*W*cs floats apart.
//   conv weights in params: WT [K][out_pad] with k = (kh*KW + kw)*IC + ic, then the bias [out_pad];
//     the mirror holds W [oc][m_pad] (PyTorch's oc x (kh, kw, ic)) for the backward-data GEMM.
//   pool argmax: one uchar per pooled element, 0..3 = (dy*2 + dx) of the window's first maximum.
// All sums run in a fixed order, so a candidate's numbers never depend on its neighbours.

// Image r of a batch: image `src` of x (PyTorch's C x H x W row) into d as H x W x C and its label into *l;
// r >= rows (padding) zeroes both. The gather kernels' one body.
inline void cnn_gather_image(__global const float* x, const int C, const int H, const int W, __global const int* labels,
                             const int r, const int rows, const int src, __global float* d, __global int* l)
{
    const int F = C * H * W;
    if (r >= rows) {
        for (int j = 0; j < F; j++) d[j] = 0.0f;
        *l = 0;
        return;
    }
    __global const float* s = x + (size_t)src * F;
    for (int ch = 0; ch < C; ch++)
        for (int p = 0; p < H * W; p++) d[p * C + ch] = s[ch * H * W + p];
    *l = labels[src];
}

// Copies images order[start + r] into dst (cnn_gather_image), zeroing images r >= rows. global: (imagesPad).
__kernel void cnn_gather_images(
    __global const float* x, const int C, const int H, const int W, __global const int* labels,
    __global const int* order, const int use_order, const int start, const int rows,
    __global float* dst, __global int* dst_labels)
{
    const int r = get_global_id(0);
    const int src = r >= rows ? 0 : use_order ? order[start + r] : start + r;
    cnn_gather_image(x, C, H, W, labels, r, rows, src, dst + (size_t)r * C * H * W, dst_labels + r);
}

// A slot pool's per-candidate batches: candidate c's images orders[order_at[c] + start + r] into
// dst + c * dst_cand as cnn_gather_images lays them out, its labels at dst_labels + c * label_cand (its own
// epoch's shuffle: CNNPool). Only active candidates. global: (imagesPad, P).
__kernel void cnn_gather_slots(
    __global const float* x, const int C, const int H, const int W, __global const int* labels,
    __global const int* orders, __global const int* order_at, const int start, const int rows,
    __global float* dst, const int dst_cand, __global int* dst_labels, const int label_cand, __global const int* status)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const int src = r >= rows ? 0 : orders[order_at[c] + start + r];
    cnn_gather_image(x, C, H, W, labels, r, rows, src, dst + (size_t)c * dst_cand + (size_t)r * C * H * W,
                     dst_labels + (size_t)c * label_cand + r);
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
    if (MLP_SKIPS(skip_frozen, status[c])) return;
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
    if (AF_KEYED && mlp_keyed(id)) {
        const uint base = af_candidate_base(seeds, c, pass);
        for (ch = 0; ch < C; ch++) G[ch] *= af_dact(id, Z[ch], prm, mlp_key(1, base, layer_prev, r, ch));
    } else {
        mlp_dact_span(id, G, Z, C, prm, 1u);
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
    if (n >= images || (MLP_SKIPS(skip_frozen, status[c]))) return;
    const uint base = af_candidate_base(seeds, c, pass);
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
        const uint base = af_candidate_base(seeds, c, pass);
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

// Dropout on the input batch (shared: x_cand 0; a pool's per-candidate batches: x_cand apart): each
// candidate gets its own copy [images][H][W][C] (channels-last, as the gathered batch), elements kept with
// probability 1 - rate and scaled by 1/(1 - rate) in training (keys as cnn_dropout's: PyTorch's flattened
// index), copied unchanged in evaluation. global: (capacityImages, P).
__kernel void cnn_input_dropout(
    __global const float* x, const int x_cand, __global float* out, const int cand, const int C, const int H, const int W,
    const float rate, const float scale, __global const uint* seeds, const uint pass, const int layer,
    const int training, __global const int* status, const int skip_frozen)
{
    const int n = get_global_id(0), c = get_global_id(1);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const int F = C * H * W;
    __global const float* S = x + (size_t)c * x_cand + (size_t)n * F;
    __global float* D = out + (size_t)c * cand + (size_t)n * F;
    if (!training) {
        for (int j = 0; j < F; j++) D[j] = S[j];
        return;
    }
    const uint base = af_candidate_base(seeds, c, pass);
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
// trainer rewrites the mirrors it needs with cnn_mirror_transpose, in cache-friendly blocks). step_args: per
// candidate (step_size, sqrt(1 - b2^t)) at its own step t, as adam_update's. global: (pstride / VW, P).
__kernel void cnn_adam_update(
    __global float* params, __global const float* grads, __global float* m1, __global float* m2, const int pstride,
    __global const float* step_args, const float b1, const float b2, const float eps, __global const int* status)
{
    const int q = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const float step_size = step_args[2 * c], c2sqrt = step_args[2 * c + 1];
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
