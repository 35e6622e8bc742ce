// mlp_gemm: the three batched GEMMs of a training step, candidate index = global dimension 2.
// Each work-item owns a register tile of TM rows x TN columns (TNV = 1, 2 or 4 vectors of VW floats), held
// in named variables (PoCL keeps private arrays in memory) and accumulates with fma in a fixed order (bias first,
// then k = 0, 1, ...), so a candidate's numbers never depend on the tile shape, the population size or its
// neighbours.

#if TM == 8
#define MLP_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif TM == 4
#define MLP_ROWS(X) X(0) X(1) X(2) X(3)
#elif TM == 2
#define MLP_ROWS(X) X(0) X(1)
#elif TM == 1
#define MLP_ROWS(X) X(0)
#else
#error "TM must be 1, 2, 4 or 8"
#endif
#if TNV == 1
#define MLP_V1(...)
#define MLP_V23(...)
#elif TNV == 2
#define MLP_V1(...) __VA_ARGS__
#define MLP_V23(...)
#elif TNV == 4
#define MLP_V1(...) __VA_ARGS__
#define MLP_V23(...) __VA_ARGS__
#else
#error "TNV must be 1, 2 or 4"
#endif

// The TNV vectors of one row starting at SRC into V##0 .. V##3 (unused ones repeat the first).
#define MLP_LOAD_VECTORS(V, SRC) \
    const vfloat V##0 = VLOAD(0, SRC); \
    vfloat V##1 = V##0, V##2 = V##0, V##3 = V##0; \
    MLP_V1(V##1 = VLOAD(0, (SRC) + VW);) \
    MLP_V23(V##2 = VLOAD(0, (SRC) + 2 * VW); V##3 = VLOAD(0, (SRC) + 3 * VW);)

// The register tile's GEMM loops, shared by the per-layer kernels below and mlp_fused.cl; each declares the
// accumulators acc<row>_<vector> in the calling scope.
// MLP_FORWARD_TILE: acc = B + A . W, k = 0 .. k_in-1 in order (in scope: W and B with rows out_pad apart,
// A with rows in_stride apart, k_in, out_n, o0). The steps read row m of A at ak[m * ak_stride], so the
// staged kernels (mlp_gemm_staged.cl) run them on local copies. When only the tile's first vector holds real columns (the
// logits' 10 of a 64-wide tile), only it is computed: the others keep their zero bias, which is what their
// zero weights would give for finite inputs.
#define FW_DECL(m) vfloat acc##m##_0 = b0, acc##m##_1 = b1, acc##m##_2 = b2, acc##m##_3 = b3;
#define FW_STEP1(m) { const vfloat x = (vfloat)(ak[m * ak_stride]); acc##m##_0 = fma(x, w0, acc##m##_0); }
#define FW_STEP(m) { const vfloat x = (vfloat)(ak[m * ak_stride]); acc##m##_0 = fma(x, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(x, w1, acc##m##_1);) \
    MLP_V23(acc##m##_2 = fma(x, w2, acc##m##_2); acc##m##_3 = fma(x, w3, acc##m##_3);) }
#define MLP_FORWARD_TILE \
    MLP_LOAD_VECTORS(b, B) \
    MLP_ROWS(FW_DECL) \
    if (TNV > 1 && o0 + VW >= out_n) { \
        for (int k = 0; k < k_in; k++) { \
            const vfloat w0 = VLOAD(0, W + (size_t)k * out_pad); \
            __global const float* ak = A + k; \
            const int ak_stride = in_stride; \
            MLP_ROWS(FW_STEP1) \
        } \
    } else { \
        for (int k = 0; k < k_in; k++) { \
            MLP_LOAD_VECTORS(w, W + (size_t)k * out_pad) \
            __global const float* ak = A + k; \
            const int ak_stride = in_stride; \
            MLP_ROWS(FW_STEP) \
        } \
    }
// MLP_DATA_TILE: acc = D . M, k = 0 .. out_n-1 in order (in scope: M with rows in_pad apart, D with rows
// dz_stride apart, out_n).
#define BD_DECL(m) vfloat acc##m##_0 = (vfloat)(0.0f), acc##m##_1 = (vfloat)(0.0f), acc##m##_2 = (vfloat)(0.0f), acc##m##_3 = (vfloat)(0.0f);
#define BD_STEP(m) { const vfloat d = (vfloat)(dk[m * dk_stride]); acc##m##_0 = fma(d, w0, acc##m##_0); MLP_V1(acc##m##_1 = fma(d, w1, acc##m##_1);) \
    MLP_V23(acc##m##_2 = fma(d, w2, acc##m##_2); acc##m##_3 = fma(d, w3, acc##m##_3);) }
#define MLP_DATA_TILE \
    MLP_ROWS(BD_DECL) \
    for (int k = 0; k < out_n; k++) { \
        MLP_LOAD_VECTORS(w, M + (size_t)k * in_pad) \
        __global const float* dk = D + k; \
        const int dk_stride = dz_stride; \
        MLP_ROWS(BD_STEP) \
    }

// Forward epilogue, run after the raw tile Z has been stored into A (and, in training with an element-wise
// activation, into Z, where the backward pass needs it): nothing vector-valued is live across the
// activation calls (which would spill the whole register tile on every call). Writes A = act(Z); on edge
// tiles also rewrites Z, with zeros outside the matrix. When the tile spans the whole padded width its TM
// rows are contiguous and one span call covers them (each call sets up its constants and id switch; on
// PoCL that setup costs about as much as a 32-element span of ReLU).
inline void mlp_forward_epilogue(__global float* Zc, __global float* Ac, int out_pad, int r0, int o0, int rows,
                                 int out_n, int id, __global const float* prm, int training, uint base, int layer,
                                 int row_offset, bool slopes)
{
    const bool full = r0 + TM <= rows && o0 + TN <= out_n;
    if (full && id < 0) return;
    // A noisy expression in evaluation takes key 0, as every element of it would: the span paths serve.
    if (full && !(AF_KEYED && training && mlp_keyed(id))) {
        const uint key = training ? 1u : 0u;
        const bool whole = out_pad == TN;
        const int spans = whole ? 1 : TM, span = whole ? TM * TN : TN;
        if (slopes) {
            for (int m = 0; m < spans; m++)
                mlp_act_slope_span(id, Ac + (size_t)m * out_pad, Zc + (size_t)m * out_pad, span, prm, key);
        } else {
            for (int m = 0; m < spans; m++) mlp_act_span(id, Ac + (size_t)m * out_pad, span, prm, key);
        }
        return;
    }
    if (id >= 0 && r0 + TM <= rows && !(AF_KEYED && training && mlp_keyed(id))) {
        // Whole rows, columns past the last output (a logits layer narrower than the tile): each row's valid
        // columns as one span (the per-element path below called the dispatchers element by element, which
        // cost a logits layer as much as a hidden one), then zeros in the padding, as that path writes them.
        // The span reaches into the padding up to whole vector bodies of the span loops (MLP_SPAN_BODY): a
        // 10-class row is shorter than one body and ran in the loops' scalar remainder, element by element.
        const uint key = training ? 1u : 0u;
        const int valid = clamp(out_n - o0, 0, TN);
        const int span = min(TN, (valid + MLP_SPAN_BODY - 1) / MLP_SPAN_BODY * MLP_SPAN_BODY);
        for (int m = 0; m < TM; m++) {
            __global float* ar = Ac + (size_t)m * out_pad;
            __global float* zr = Zc + (size_t)m * out_pad;
            if (valid > 0) {
                if (slopes) mlp_act_slope_span(id, ar, zr, span, prm, key);
                else mlp_act_span(id, ar, span, prm, key);
            }
            for (int j = valid; j < TN; j++) {
                ar[j] = 0.0f;
                if (training) zr[j] = 0.0f;
            }
        }
        return;
    }
    if (id < 0 && r0 + TM <= rows) {
        // Identity on a tile past the last column (the logits' 10 of 32 or 64): only the padding to zero
        // (the GEMM gives exact zeros there unless an input is inf or NaN).
        for (int m = 0; m < TM; m++)
            for (int j = max(out_n - o0, 0); j < TN; j++) Ac[(size_t)m * out_pad + j] = 0.0f;
        return;
    }
#ifdef MLP_KEYED_SPANS
    if (full && training) {
        // A noisy expression on a whole tile, in training: row by row (its Z, which the backward pass reads, is
        // already stored: every caller stores Z in training for an expression without slopes).
        for (int m = 0; m < TM; m++)
            mlp_act_keyed_span(id, Ac + (size_t)m * out_pad, TN, prm, af_row_hash(base, layer, row_offset + r0 + m), o0);
        return;
    }
#endif
    for (int m = 0; m < TM; m++) {
        const int row = r0 + m;
        __global float* ar = Ac + (size_t)m * out_pad;
        __global float* zr = Zc + (size_t)m * out_pad;
        for (int j = 0; j < TN; j++) {
            const int col = o0 + j;
            const bool valid = row < rows && col < out_n;
            const float zz = valid ? ar[j] : 0.0f;
            const uint key = mlp_key(training, base, layer, row_offset + row, col);
            if (id >= 0 && training) zr[j] = slopes ? (valid ? af_dact(id, zz, prm, key) : 0.0f) : zz;
            ar[j] = valid ? mlp_act(id, zz, prm, key) : 0.0f;
        }
    }
}

// The GEMM kernels' argument lists, shared by the unstaged kernels and their staged forms
// (mlp_gemm_staged.cl), which the host launches with the same arguments.
#define MLP_FORWARD_ARGS \
    __global const float* ain, const int ain_cstride, const int in_stride, const int k_in, \
    __global const float* params, const int pstride, const int woff, const int out_pad, const int out_n, \
    __global float* z, __global float* a, const int out_cstride, const int rows, \
    __global const int* act_id, const int slot, const int slots, const int aoff, \
    __global const uint* seeds, const uint pass, const int training, const int layer, const int row_offset, \
    __global const int* status, const int skip_frozen
#define MLP_BACKWARD_DATA_ARGS \
    __global const float* dz, const int dz_stride, const int dz_cstride, const int out_n, \
    __global const float* mirror, const int mstride, const int moff, const int in_pad, const int in_n, \
    __global const float* zprev, __global float* dzprev, const int prev_cstride, const int rows, \
    __global const float* params, const int pstride, const int aoff, \
    __global const int* act_id, __global const int* act_nparams, const int slot, const int slots, \
    __global float* partials, const int part_cstride, const int part_off, \
    __global const uint* seeds, const uint pass, const int layer_prev, \
    __global const int* status
#define MLP_BACKWARD_WEIGHTS_ARGS \
    __global const float* ain, const int ain_cstride, const int in_stride, const int in_n, \
    __global const float* dz, const int dz_cstride, const int out_pad, const int out_n, const int rows, \
    __global float* grads, const int pstride, const int woff, \
    __global const int* status

// MLP_FORWARD_FINISH: mlp_forward's (and mlp_forward_staged's) stores of the tile, A and, where the backward
// pass needs it, Z, then the epilogue (in scope: the kernel's arguments, c, r0, o0 and the accumulators).
#define FW_OUT(m) { VSTORE(acc##m##_0, 0, Ac + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Ac + m * out_pad + VW);) \
        MLP_V23(VSTORE(acc##m##_2, 0, Ac + m * out_pad + 2 * VW); VSTORE(acc##m##_3, 0, Ac + m * out_pad + 3 * VW);) }
#define FW_ZOUT(m) { VSTORE(acc##m##_0, 0, Zc + m * out_pad); MLP_V1(VSTORE(acc##m##_1, 0, Zc + m * out_pad + VW);) \
        MLP_V23(VSTORE(acc##m##_2, 0, Zc + m * out_pad + 2 * VW); VSTORE(acc##m##_3, 0, Zc + m * out_pad + 3 * VW);) }
#define MLP_FORWARD_FINISH { \
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY; \
    const bool use_slopes = training && mlp_slope_ok(id); \
    __global const float* prm = mlp_slot_params(params, pstride, c, aoff, slot); \
    const uint base = af_candidate_base(seeds, c, pass); \
    __global float* Zc = z + (size_t)c * out_cstride + (size_t)r0 * out_pad + o0; \
    __global float* Ac = a + (size_t)c * out_cstride + (size_t)r0 * out_pad + o0; \
    MLP_ROWS(FW_OUT) \
    if (training && id >= 0 && !use_slopes) { MLP_ROWS(FW_ZOUT) } \
    mlp_forward_epilogue(Zc, Ac, out_pad, r0, o0, rows, out_n, id, prm, training, base, layer, row_offset, use_slopes); \
}

// Forward of one layer for every candidate: Z = A_in . WT + b, A = act(Z).
// ain: rowsPad x in_stride per candidate (ain_cstride = 0: the shared input batch).
// params: WT_l at c*pstride + woff (k_in x out_pad), b_l right after it.
// z, a: rowsPad x out_pad per candidate (out_cstride apart); z may equal a (evaluation keeps no Z).
// Slopes: in training, z receives act'(Z) instead of Z for an expression with mlp_slope_ok (no learnable
// parameters, no noise), computed next to act(Z) (the two share their exp, tanh, ...), so the backward
// pass multiplies instead of evaluating the derivative. The choice depends on the candidate's own
// expression only, so its numbers never depend on its neighbours.
// global: (out_pad / TN, rowsPad / TM, P).
__kernel void mlp_forward(MLP_FORWARD_ARGS)
{
    const int c = get_global_id(2);
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const int r0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    __global const float* W = params + (size_t)c * pstride + woff + o0;
    __global const float* B = params + (size_t)c * pstride + woff + (size_t)k_in * out_pad + o0;
    __global const float* A = ain + (size_t)c * ain_cstride + (size_t)r0 * in_stride;

    MLP_FORWARD_TILE
    MLP_FORWARD_FINISH
}

// Backward epilogue, run after the raw tile dA has been stored into G: dZ_{l-1} = dA * act'(Z_{l-1}) for
// an element-wise slot (dA itself for identity and layer-wise slots); zeros outside the matrix. Adds
// dA * d act / d p_k into psum (a whole tile's span by span, each summed in MLP_ROW_REDUCE's order; an edge
// tile's element by element). A tile as wide as the padded width is one contiguous span, as forward.
inline void mlp_backward_epilogue(__global const float* Zc, __global float* Gc, int in_pad, int r0, int i0, int rows,
                                  int in_n, int id, __global const float* prm, uint base, int layer_prev,
                                  float* psum, int np, bool slopes)
{
    const bool full = r0 + TM <= rows && i0 + TN <= in_n;
    if (full && id < 0) return;
    if (full && slopes) {
        const int spans = in_pad == TN ? 1 : TM, span = in_pad == TN ? TM * TN : TN;
        for (int m = 0; m < spans; m++) {
            __global float* gr = Gc + (size_t)m * in_pad;
            __global const float* sr = Zc + (size_t)m * in_pad;
            for (int j = 0; j < span; j++) gr[j] *= sr[j];
        }
        return;
    }
    if (full && !(AF_KEYED && mlp_keyed(id))) {
        const bool whole = in_pad == TN;
        const int spans = whole ? 1 : TM, span = whole ? TM * TN : TN;
        for (int m = 0; m < spans; m++) {
            __global float* gr = Gc + (size_t)m * in_pad;
            __global const float* zr = Zc + (size_t)m * in_pad;
#if AF_KMAX > 0
            float t[TM * TN];
            for (int k = 0; k < np; k++) {
                mlp_dparam_span(id, k, t, gr, zr, span, prm, 1u);
                psum[k] += mlp_private_sum(t, span);
            }
#endif
            mlp_dact_span(id, gr, zr, span, prm, 1u);
        }
        return;
    }
#ifdef MLP_KEYED_SPANS
    if (full && np == 0 && id >= 0) {
        // A noisy expression without learnable parameters on a whole tile: row by row, keyed as below.
        for (int m = 0; m < TM; m++)
            mlp_dact_keyed_span(id, Gc + (size_t)m * in_pad, Zc + (size_t)m * in_pad, TN, prm,
                                af_row_hash(base, layer_prev, r0 + m), i0);
        return;
    }
#endif
    for (int m = 0; m < TM; m++) {
        const int row = r0 + m;
        __global float* gr = Gc + (size_t)m * in_pad;
        __global const float* zr = Zc + (size_t)m * in_pad;
        for (int j = 0; j < TN; j++) {
            const int col = i0 + j;
            float g = 0.0f;
            if (row < rows && col < in_n) {
                const float da = gr[j];
                if (id >= 0) {
                    const float zz = zr[j];
                    const uint key = mlp_key(1, base, layer_prev, row, col);
                    g = da * (slopes ? zz : af_dact(id, zz, prm, key));
#if AF_KMAX > 0
                    for (int k = 0; k < np; k++) psum[k] += da * af_dparam(id, k, zz, prm, key);
#endif
                } else {
                    g = da;
                }
            }
            gr[j] = g;
        }
    }
}

#define BD_OUT(m) { VSTORE(acc##m##_0, 0, Gc + m * in_pad); MLP_V1(VSTORE(acc##m##_1, 0, Gc + m * in_pad + VW);) \
        MLP_V23(VSTORE(acc##m##_2, 0, Gc + m * in_pad + 2 * VW); VSTORE(acc##m##_3, 0, Gc + m * in_pad + 3 * VW);) }

// mlp_backward_data's (and mlp_backward_data_staged's) work after the raw tile dA has been stored at Gc: the
// epilogue, and with learnable parameters the tile's partial sums at position `tile` (row tile x column
// tiles + column tile) of the layer's partials.
inline void mlp_backward_data_finish(__global const float* zprev, __global float* Gc, int prev_cstride, int in_pad, int in_n,
                                     int rows, int c, int r0, int i0, int tile, __global const float* params, int pstride,
                                     int aoff, __global const int* act_id, __global const int* act_nparams, int slot,
                                     int slots, __global float* partials, int part_cstride, int part_off,
                                     __global const uint* seeds, uint pass, int layer_prev)
{
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = mlp_slot_params(params, pstride, c, aoff, slot);
    const uint base = af_candidate_base(seeds, c, pass);
    __global const float* Zc = zprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0;
    const int np = mlp_slot_nparams(act_nparams, c, slots, slot, id);
    MLP_PSUM_DECL
    mlp_backward_epilogue(Zc, Gc, in_pad, r0, i0, rows, in_n, id, prm, base, layer_prev, psum, np, mlp_slope_ok(id));
#if AF_KMAX > 0
    __global float* P = partials + (size_t)c * part_cstride + part_off + (size_t)tile * AF_KMAX;
    for (int k = 0; k < AF_KMAX; k++) P[k] = psum[k];
#endif
}

// Backward through layer l's weights into layer l-1: dA = dZ_l . W_l (rows x in_n), then
// dZ_{l-1} = dA * act'(Z_{l-1}) for an element-wise slot (identity and layer-wise slots write dA; the
// layer-wise row kernel finishes those). With learnable parameters, each work-item also writes its
// tile's sums of dA * d act / d p_k to partials (tile index = its position in dimensions 0-1).
// mirror: W_l at c*mstride + moff, out_n x in_pad. dz: rowsPad x dz_stride.
// zprev holds act'(Z_{l-1}) instead of Z_{l-1} where mlp_slope_ok (mlp_forward's slopes).
// global: (in_pad / TN, rowsPad / TM, P).
__kernel void mlp_backward_data(MLP_BACKWARD_DATA_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int r0 = get_global_id(1) * TM;
    const int i0 = get_global_id(0) * TN;
    __global const float* M = mirror + (size_t)c * mstride + moff + i0;
    __global const float* D = dz + (size_t)c * dz_cstride + (size_t)r0 * dz_stride;

    MLP_DATA_TILE

    __global float* Gc = dzprev + (size_t)c * prev_cstride + (size_t)r0 * in_pad + i0;
    MLP_ROWS(BD_OUT)
    mlp_backward_data_finish(zprev, Gc, prev_cstride, in_pad, in_n, rows, c, r0, i0, get_global_id(1) * (in_pad / TN) + get_global_id(0),
                             params, pstride, aoff, act_id, act_nparams, slot, slots, partials, part_cstride, part_off,
                             seeds, pass, layer_prev);
}

// The weight-gradient tile's stores: rows i0 .. i0+TM-1 (those < in_n) of the layer's weights in G, and the
// bias row after them when with_bias (in scope: G, i0, in_n, out_pad, with_bias and the accumulators).
#define BW_OUT(m) if (i0 + m < in_n) { \
        VSTORE(acc##m##_0, 0, G + (size_t)(i0 + m) * out_pad); \
        MLP_V1(VSTORE(acc##m##_1, 0, G + (size_t)(i0 + m) * out_pad + VW);) \
        MLP_V23(VSTORE(acc##m##_2, 0, G + (size_t)(i0 + m) * out_pad + 2 * VW); VSTORE(acc##m##_3, 0, G + (size_t)(i0 + m) * out_pad + 3 * VW);) }
#define MLP_WEIGHT_STORE \
    MLP_ROWS(BW_OUT) \
    if (with_bias) { \
        VSTORE(bacc0, 0, G + (size_t)in_n * out_pad); \
        MLP_V1(VSTORE(bacc1, 0, G + (size_t)in_n * out_pad + VW);) \
        MLP_V23(VSTORE(bacc2, 0, G + (size_t)in_n * out_pad + 2 * VW); VSTORE(bacc3, 0, G + (size_t)in_n * out_pad + 3 * VW);) \
    }

// Weight gradients over a run of rows: dWT rows i0 .. i0+TM-1 (those < in_n) of one layer and, for the tile
// with i0 = 0, db = column sums of dz, summed over the first `rows` rows of A and D in order and continuing
// the sums already in G (first: from zero). So consecutive row blocks give the bits of one run over all rows
// (mlp_fused.cl's candidate kernel sums block by block). A tile whose real columns (< out_n) all lie in its
// first vector (the logits' 10 of 64) reads only that vector of dz and keeps zeros in the others (cross_entropy_loss
// zeroes dz no further).
// A: the layer's input at column i0, rows in_stride apart; D: dz at column o0, rows out_pad apart;
// G: the layer's weights in grads at column o0 (in_n x out_pad, the bias row after them).
inline void mlp_weight_tile(__global const float* A, int in_stride, __global const float* D, int out_pad, int out_n,
                            int o0, int rows, __global float* G, int i0, int in_n, bool first)
{
#define BW_DECL(m) vfloat acc##m##_0 = (vfloat)(0.0f), acc##m##_1 = (vfloat)(0.0f), acc##m##_2 = (vfloat)(0.0f), acc##m##_3 = (vfloat)(0.0f);
    MLP_ROWS(BW_DECL)
    vfloat bacc0 = (vfloat)(0.0f), bacc1 = (vfloat)(0.0f), bacc2 = (vfloat)(0.0f), bacc3 = (vfloat)(0.0f);
    const bool with_bias = i0 == 0;
    if (!first) {
#define BW_IN(m) if (i0 + m < in_n) { \
        acc##m##_0 = VLOAD(0, G + (size_t)(i0 + m) * out_pad); \
        MLP_V1(acc##m##_1 = VLOAD(0, G + (size_t)(i0 + m) * out_pad + VW);) \
        MLP_V23(acc##m##_2 = VLOAD(0, G + (size_t)(i0 + m) * out_pad + 2 * VW); acc##m##_3 = VLOAD(0, G + (size_t)(i0 + m) * out_pad + 3 * VW);) }
        MLP_ROWS(BW_IN)
        if (with_bias) {
            bacc0 = VLOAD(0, G + (size_t)in_n * out_pad);
            MLP_V1(bacc1 = VLOAD(0, G + (size_t)in_n * out_pad + VW);)
            MLP_V23(bacc2 = VLOAD(0, G + (size_t)in_n * out_pad + 2 * VW); bacc3 = VLOAD(0, G + (size_t)in_n * out_pad + 3 * VW);)
        }
    }
#define BW_STEP(m) { const vfloat x = (vfloat)(ar[m]); acc##m##_0 = fma(x, d0, acc##m##_0); MLP_V1(acc##m##_1 = fma(x, d1, acc##m##_1);) \
        MLP_V23(acc##m##_2 = fma(x, d2, acc##m##_2); acc##m##_3 = fma(x, d3, acc##m##_3);) }
#define BW_LOOP(BIAS) \
    for (int r = 0; r < rows; r++) { \
        MLP_LOAD_VECTORS(d, D + (size_t)r * out_pad) \
        BIAS \
        __global const float* ar = A + (size_t)r * in_stride; \
        MLP_ROWS(BW_STEP) \
    }
    if (TNV > 1 && o0 + VW >= out_n) {
#define BW_STEP1(m) { const vfloat x = (vfloat)(ar[m]); acc##m##_0 = fma(x, d0, acc##m##_0); }
        for (int r = 0; r < rows; r++) {
            const vfloat d0 = VLOAD(0, D + (size_t)r * out_pad);
            if (with_bias) bacc0 += d0;
            __global const float* ar = A + (size_t)r * in_stride;
            MLP_ROWS(BW_STEP1)
        }
    } else if (with_bias) {
        BW_LOOP(bacc0 += d0; MLP_V1(bacc1 += d1;) MLP_V23(bacc2 += d2; bacc3 += d3;))
    } else {
        BW_LOOP()
    }
    MLP_WEIGHT_STORE
}

// Weight gradients of layer l: dWT = A_{l-1}^T . dZ_l (in_n x out_pad) and db = column sums of dZ_l,
// summed over the batch rows in order (mlp_weight_tile). Written into grads at the layer's params offsets.
// global: (out_pad / TN, ceil(in_n / TM), P).
__kernel void weight_gradients(MLP_BACKWARD_WEIGHTS_ARGS)
{
    const int c = get_global_id(2);
    if (status[c] != MLP_ACTIVE) return;
    const int i0 = get_global_id(1) * TM;
    const int o0 = get_global_id(0) * TN;
    mlp_weight_tile(ain + (size_t)c * ain_cstride + i0, in_stride, dz + (size_t)c * dz_cstride + o0, out_pad, out_n, o0,
                    rows, grads + (size_t)c * pstride + woff + o0, i0, in_n, true);
}
