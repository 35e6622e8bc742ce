// mlp_rows: per-row kernels of the population MLP trainer (one work-item per row and candidate):
// batch gathering, layer-wise activations (softmax family) forward and backward, the loss, the metric
// reduction with the divergence guard, and the learnable-parameter gradient reduction.

// Row r of a batch: row order[start + r] (or start + r without an order) of x (n x features) into d (dst_stride
// floats), zero-padding columns, and its label into *dl; zeros for rows >= rows.
inline void mlp_gather_row(__global const float* x, const int features, __global const int* labels,
                           __global const int* order, const int start, const int rows, const int r,
                           __global float* d, const int dst_stride, __global int* dl)
{
    if (r >= rows) {
        for (int j = 0; j < dst_stride; j++) d[j] = 0.0f;
        *dl = 0;
        return;
    }
    const int src = order ? order[start + r] : start + r;
    __global const float* s = x + (size_t)src * features;
    for (int j = 0; j < features; j++) d[j] = s[j];
    for (int j = features; j < dst_stride; j++) d[j] = 0.0f;
    *dl = labels[src];
}

// The shared batch: rows of x into dst (rowsPad x dst_stride) and dst_labels. global: (rowsPad).
__kernel void mlp_gather(
    __global const float* x, const int features, __global const int* labels,
    __global const int* order, const int use_order, const int start, const int rows,
    __global float* dst, const int dst_stride, __global int* dst_labels)
{
    const int r = get_global_id(0);
    mlp_gather_row(x, features, labels, use_order ? order : 0, start, rows, r, dst + (size_t)r * dst_stride, dst_stride,
                   dst_labels + r);
}

// Each active candidate's own batch (a slot pool's mini-batches): candidate c's rows come through its own
// epoch's order, orders + order_at[c], into its slice of dst (dst_cstride floats) and of dst_labels
// (label_cstride ints). global: (rowsPad, P).
__kernel void mlp_gather_slots(
    __global const float* x, const int features, __global const int* labels,
    __global const int* orders, __global const int* order_at, const int start, const int rows,
    __global float* dst, const int dst_stride, const int dst_cstride, __global int* dst_labels, const int label_cstride,
    __global const int* status)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    mlp_gather_row(x, features, labels, orders + order_at[c], start, rows, r,
                   dst + (size_t)c * dst_cstride + (size_t)r * dst_stride, dst_stride, dst_labels + (size_t)c * label_cstride + r);
}

// Row reductions of the layer-wise functions (MLP_ROW_REDUCE, mlp_common.cl: one order wherever they run).
inline float mlp_row_max(__global const float* y, int n) MLP_ROW_REDUCE(-INFINITY, fmax, vload8(0, y + j), y[j])
inline float mlp_row_sum(__global const float* y, int n) MLP_ROW_REDUCE(0.0f, MLP_ADD, vload8(0, y + j), y[j])
inline float mlp_row_dot(__global const float* y, __global const float* g, int n)
    MLP_ROW_REDUCE(0.0f, MLP_ADD, vload8(0, g + j) * vload8(0, y + j), g[j] * y[j])
// The sum of exp(y[j] - m), in mlp_row_sum's order.
inline float mlp_row_sum_exp(__global const float* y, float m, int n)
    MLP_ROW_REDUCE(0.0f, MLP_ADD, exp(vload8(0, y + j) - m), exp(y[j] - m))

// One row of a layer-wise function; z may equal y. Max-shifted so exp never overflows. The shifted inputs
// (with the Gumbel sample, recomputed from its key, so both passes see the same noise), then their exps,
// are kept in y between the loops: each element's noise (two logs) and exp are computed once.
// Every element loop reads and writes y alone (z is copied in first where it is another array): with z and y
// two pointers to one row, the vectoriser's overlap check failed and the noise loop ran scalar (Gumbel-softmax
// rows were most of the time of studies that drew it).
inline void mlp_layerwise_row(int id, __global const float* z, __global float* y, int width,
                              uint base, int layer, int row)
{
    if (z != y) for (int j = 0; j < width; j++) y[j] = z[j];
    if (id == MLP_LW_GUMBEL_SOFTMAX) {
        const uint h = af_row_hash(base, layer, row);
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) y[j] = y[j] + af_gumbel(af_key_in_row(h, j));
    } else if (id == MLP_LW_SOFTMIN) {
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) y[j] = -y[j];
    }
    const float m = mlp_row_max(y, width);
    if (id == MLP_LW_LOG_SOFTMAX) {
        const float lse = m + log(mlp_row_sum_exp(y, m, width));
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) y[j] = y[j] - lse;
    } else {
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) y[j] = exp(y[j] - m);
        const float s = mlp_row_sum(y, width);
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) y[j] = y[j] / s;
    }
}

// dL/dz of a layer-wise function in place: g holds dL/dy on entry, y is the function's output.
// softmax (and Gumbel-softmax, given its sample): y * (dy - <dy, y>); softmin is softmax(-z): the same
// with the sign flipped; log_softmax: dy - softmax(z) * sum(dy), with softmax(z) = exp(y).
inline void mlp_layerwise_row_backward(int id, __global const float* restrict y, __global float* restrict g, int width) {
    if (id == MLP_LW_LOG_SOFTMAX) {
        const float total = mlp_row_sum(g, width);
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) g[j] = g[j] - exp(y[j]) * total;
    } else {
        const float sign = id == MLP_LW_SOFTMIN ? -1.0f : 1.0f;
        const float dot = mlp_row_dot(y, g, width);
        MLP_SPAN_LOOP for (int j = 0; j < width; j++) g[j] = sign * y[j] * (g[j] - dot);
    }
}

// A[r, :] = op(Z[r, :]) for candidates whose slot holds a layer-wise op (the GEMM wrote A = Z).
// global: (rowsPad, P).
__kernel void layerwise_forward(
    __global const float* z, __global float* a, const int stride, const int cstride, const int width, const int rows,
    __global const int* act_id, const int slot, const int slots,
    __global const uint* seeds, const uint pass, const int layer, const int row_offset,
    __global const int* status, const int skip_frozen)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (r >= rows || (MLP_SKIPS(skip_frozen, status[c]))) return;
    const int id = act_id[c * slots + slot];
    if (id > MLP_LW_SOFTMAX) return;
    const size_t at = (size_t)c * cstride + (size_t)r * stride;
    mlp_layerwise_row(id, z + at, a + at, width, af_candidate_base(seeds, c, pass), layer, row_offset + r);
}

// dZ = J^T dA in place for candidates whose slot holds a layer-wise op. global: (rowsPad, P).
__kernel void layerwise_backward(
    __global const float* a, __global float* g, const int stride, const int cstride, const int width, const int rows,
    __global const int* act_id, const int slot, const int slots, __global const int* status)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (r >= rows || status[c] != MLP_ACTIVE) return;
    const int id = act_id[c * slots + slot];
    if (id > MLP_LW_SOFTMAX) return;
    const size_t at = (size_t)c * cstride + (size_t)r * stride;
    mlp_layerwise_row_backward(id, a + at, g + at, width);
}

// A row of up to 16 logits as one float16 (lanes past `classes` masked): returns exp(L - max) per lane and
// sets the max, the sum of the exps (by halves) and the first maximal lane, as the scalar scan (whose maximum
// stays NaN when the first logit is).
inline float16 mlp_row_softmax16(__global const float* L, int classes, float* m, float* s, int* best) {
    float buf[16];
    for (int k = 0; k < 16; k++) buf[k] = k < classes ? L[k] : 0.0f;
    const float16 v = vload16(0, buf), lanes = MLP_LANES16;
    const int16 valid = isless(lanes, (float16)((float)classes));
    *m = mlp_hmax16(select((float16)(-INFINITY), v, valid));
    const float16 e = select((float16)(0.0f), exp(v - *m), valid);
    *s = mlp_hsum16(e);
    *best = isnan(L[0]) ? 0 : (int)mlp_hmin16(select((float16)(16.0f), lanes, valid & (v == *m)));
    return e;
}

// dZ of a row of logits for the batch-mean loss, (softmax - onehot) / rows, times the last activation's
// slopes when `slope` is not null (it may be G itself: it is read first); zeros from `classes` to `read_to`.
inline void mlp_row_dlogits16(float16 e, float s, int y, int classes, float inv_rows, __global const float* slope,
                              __global float* G, int read_to) {
    const float16 lanes = MLP_LANES16;
    float16 da = (e / s - select((float16)(0.0f), (float16)(1.0f), lanes == (float16)((float)y))) * inv_rows;
    float buf[16];
    if (slope) {
        for (int k = 0; k < 16; k++) buf[k] = k < classes ? slope[k] : 0.0f;
        da *= vload16(0, buf);
    }
    vstore16(da, 0, buf);
    for (int k = 0; k < read_to; k++) G[k] = k < classes ? buf[k] : 0.0f;
}

// Cross-entropy of one row's logits L (the last layer's activations) via log-sum-exp, never exp of a positive
// number: the row's loss and hit (first maximal logit == label). In training also writes G, dZ of the last
// layer for the batch-mean loss: (softmax - onehot) / rows through the last activation `id`, and that
// activation's parameter partials into P (np of them). zl holds act'(Z) where `last_slope` (mlp_forward's
// slopes), else Z; G may be zl only when it holds slopes (or `id` is identity or layer-wise, which never read
// it). Padded columns of G are zeroed only as far as the weight gradients read them (`read_to`). exp runs once
// per logit. A row's numbers depend on the classes and its own last activation only. Rows at or past `rows`
// get zeros. Shared by cross_entropy_loss and the fused row passes (mlp_fused.cl), so both give the same bits.
inline void mlp_loss_row(__global const float* L, __global const float* zl, __global float* G, __global float* P,
                         const int r, const int rows, const int y, const int classes, const int read_to,
                         const float inv_rows, const int training, const int id, const bool last_slope, const int np,
                         __global const float* prm, const uint base, const int layer, float* loss, float* hit)
{
#if AF_KMAX > 0
    float psum[AF_KMAX];
    for (int k = 0; k < AF_KMAX; k++) psum[k] = 0.0f;
#endif
    if (r >= rows) {
        *loss = 0.0f;
        *hit = 0.0f;
        if (training) {
            for (int j = 0; j < read_to; j++) G[j] = 0.0f;
#if AF_KMAX > 0
            if (P) for (int k = 0; k < AF_KMAX; k++) P[k] = 0.0f;
#endif
        }
        return;
    }
    float m, s;
    int best = 0;
    if (classes <= 16) {
        // Up to 16 classes (study 1's 10) as one float16, whatever the tile's vector width: max, exp once
        // per logit, sum by halves. With an identity or slope last activation the row's dz is finished here.
        const float16 e = mlp_row_softmax16(L, classes, &m, &s, &best);
        if (training && (id == MLP_IDENTITY || last_slope)) {
            mlp_row_dlogits16(e, s, y, classes, inv_rows, last_slope ? zl : 0, G, read_to);
#if AF_KMAX > 0
            if (P) for (int k = 0; k < AF_KMAX; k++) P[k] = 0.0f;
#endif
            *loss = m + log(s) - L[y];
            *hit = best == y ? 1.0f : 0.0f;
            return;
        }
        float buf[16];
        if (training) {
            vstore16(e, 0, buf);
            for (int k = 0; k < classes; k++) G[k] = buf[k];
        }
    } else {
        m = L[0];
        for (int k = 1; k < classes; k++) if (L[k] > m) { m = L[k]; best = k; }
        s = 0.0f;
        if (training) {
            for (int k = 0; k < classes; k++) { const float e = exp(L[k] - m); G[k] = e; s += e; }
        } else {
            for (int k = 0; k < classes; k++) s += exp(L[k] - m);
        }
    }
    const float lse = m + log(s);
    *loss = lse - L[y];
    *hit = best == y ? 1.0f : 0.0f;
    if (!training) return;

    for (int k = 0; k < classes; k++) {
        const float da = (G[k] / s - (k == y ? 1.0f : 0.0f)) * inv_rows;
        if (id >= 0) {
            const float zz = zl[k];
            const uint key = mlp_key(1, base, layer, r, k);
            G[k] = da * (last_slope ? zz : af_dact(id, zz, prm, key));
#if AF_KMAX > 0
            for (int q = 0; q < np; q++) psum[q] += da * af_dparam(id, q, zz, prm, key);
#endif
        } else {
            G[k] = da;
        }
    }
    for (int k = classes; k < read_to; k++) G[k] = 0.0f;
    if (id <= MLP_LW_SOFTMAX) mlp_layerwise_row_backward(id, L, G, classes);
#if AF_KMAX > 0
    if (P) for (int k = 0; k < AF_KMAX; k++) P[k] = psum[k];
#endif
}

// mlp_loss_row for every row and candidate (the per-layer launches): logits and zlast are the last layer's A
// and Z (or slopes, where `slopes` and mlp_slope_ok), dz receives its dZ, partials one partial per row.
// global: (rowsPad, P).
__kernel void cross_entropy_loss(
    __global const float* logits, __global const float* zlast, const int stride, const int cstride,
    const int classes, const int rows, __global const int* labels, const int label_cstride, const float inv_rows,
    __global float* row_loss, __global float* row_hit, const int rows_cap,
    const int training, __global float* dz,
    __global const float* params, const int pstride, const int aoff,
    __global const int* act_id, __global const int* act_nparams, const int slot, const int slots,
    __global float* partials, const int part_cstride, const int part_off,
    __global const uint* seeds, const uint pass, const int layer,
    __global const int* status, const int skip_frozen, const int slopes)
{
    const int r = get_global_id(0), c = get_global_id(1);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const size_t at = (size_t)c * cstride + (size_t)r * stride;
    const int read_to = classes > VW ? stride : min(stride, VW);
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
#if AF_KMAX > 0
    __global float* P = slot >= 0 ? partials + (size_t)c * part_cstride + part_off + (size_t)r * AF_KMAX : 0;
#else
    __global float* P = 0;
#endif
    float loss, hit;
    mlp_loss_row(logits + at, zlast + at, dz + at, P, r, rows, r < rows ? labels[(size_t)c * label_cstride + r] : 0, classes, read_to, inv_rows,
                 training, id, slopes && mlp_slope_ok(id), mlp_slot_nparams(act_nparams, c, slots, slot, id),
                 mlp_slot_params(params, pstride, c, aoff, slot), af_candidate_base(seeds, c, pass), layer, &loss, &hit);
    row_loss[(size_t)c * rows_cap + r] = loss;
    row_hit[(size_t)c * rows_cap + r] = hit;
}

// Candidate c's row losses and hits summed in row order and added to its accumulators metrics[2c] (loss sum)
// and metrics[2c + 1] (hits); returns the loss sum. Shared by metrics_reduce and the fused evaluation pass.
inline float mlp_metrics_add(__global const float* row_loss, __global const float* row_hit, const int rows_cap,
                             const int rows, __global float* metrics, const int c)
{
    float s = 0.0f, h = 0.0f;
    for (int r = 0; r < rows; r++) {
        s += row_loss[(size_t)c * rows_cap + r];
        h += row_hit[(size_t)c * rows_cap + r];
    }
    metrics[2 * c] += s;
    metrics[2 * c + 1] += h;
    return s;
}

// Per candidate: mlp_metrics_add. In training, a batch whose loss is NaN or inf freezes the candidate as
// diverged before the optimiser runs; only its own values are read. global: (P).
__kernel void metrics_reduce(
    __global const float* row_loss, __global const float* row_hit, const int rows_cap, const int rows,
    __global float* metrics, const int training, __global int* status)
{
    const int c = get_global_id(0);
    if (training && status[c] != MLP_ACTIVE) return;
    const float s = mlp_metrics_add(row_loss, row_hit, rows_cap, rows, metrics, c);
    if (training && !isfinite(s)) status[c] = MLP_DIVERGED;
}

// Gradient of learnable activation parameter k of slot s (idx = s * AF_KMAX + k) of candidate c: the sum of the
// partials of every layer using slot s, layer by layer, tile by tile. layout: per activated layer (slot,
// part_off, col_tiles), col_tiles 0 meaning one partial per row (the loss kernel's). Shared by mlp_param_grads
// and mlp_train_candidate's optimiser tail.
#if AF_KMAX > 0
inline float mlp_param_grad(__global const float* partials, const int part_cstride, __global const int* layout,
                            const int layouts, const int row_tiles, const int rows_pad, const int c, const int idx)
{
    const int s = idx / AF_KMAX, k = idx % AF_KMAX;
    float sum = 0.0f;
    for (int j = 0; j < layouts; j++) {
        if (layout[3 * j] != s) continue;
        const int off = layout[3 * j + 1], col_tiles = layout[3 * j + 2];
        const int tiles = col_tiles > 0 ? col_tiles * row_tiles : rows_pad;
        __global const float* P = partials + (size_t)c * part_cstride + off + k;
        for (int t = 0; t < tiles; t++) sum += P[(size_t)t * AF_KMAX];
    }
    return sum;
}
#endif

// mlp_param_grad of every slot's parameters into grads. global: (slots * AF_KMAX, P).
__kernel void mlp_param_grads(
    __global const float* partials, const int part_cstride,
    __global const int* layout, const int layouts, const int row_tiles, const int rows_pad,
    __global float* grads, const int pstride, const int aoff, __global const int* status)
{
#if AF_KMAX > 0
    const int idx = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    grads[(size_t)c * pstride + aoff + idx] = mlp_param_grad(partials, part_cstride, layout, layouts, row_tiles, rows_pad, c, idx);
#endif
}
