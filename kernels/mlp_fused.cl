// mlp_fused: a training step's row work in one launch on CPUs, for populations where every hidden layer is
// exactly one tile wide (TN columns: study 1's 64 with the 4x64 tile) and the classes fit a float16. Any slot:
// identity, an expression with mlp_slope_ok (act'(Z) kept by the forward), one with learnable parameters or
// noise (Z kept; its backward runs mlp_backward_epilogue through `scratch`, its parameter partials go where
// mlp_backward_data and cross_entropy_loss put them), a layer-wise one (mlp_layerwise_row and its backward on the tile's
// whole rows) or, in the interpreter's program, an interpreted one.
// mlp_rows_tile takes TM rows of one candidate through every layer's forward GEMM and activation, the loss,
// and every layer's data-gradient GEMM. Two kernels run it (RowPass in the host code):
// - mlp_train_rows: a work-item per row tile; the weight gradients and the optimiser stay separate launches.
// - mlp_train_candidate: a work-item per candidate, its rows in blocks, each block followed by its share of
//   the weight gradients while its rows are in cache; with Adam, then the candidate's loss sums, parameter
//   partials and optimiser step (the step's only launch); with SGD those stay separate launches.
// The evaluation passes take the same two shapes (mlp_eval_rows, mlp_eval_candidate, at the end): every layer's
// forward in evaluation mode (mlp_rows_layer, which the training tile runs too) and the rows' losses and hits.
//
// Same operations in the same order as mlp_forward, cross_entropy_loss, mlp_backward_data and weight_gradients
// (bias first, then k = 0, 1, ...; the same epilogue, loss and weight-tile helpers), so a candidate gets the
// same bits any way. What changes is memory traffic: a layer's input rows come from the previous layer's
// output just written by the same work-item (L1), and act'(Z) of layer l (left in z_l by the forward) is
// overwritten by dZ_l in the backward.
//
// a_all, z_all: every layer's A and Z/dZ, layer l at the same offset in both, candidate c at + c * cstride,
// rows TN apart; w0 is the row of the tile's first row r0 there (r0 itself, or r0's row within its block).
// input, labels: the batch, candidate c's at + c * input_cstride and + c * label_cstride (0: one batch shared by
// every candidate; a slot pool's mini-batches give each candidate its own).
// info: MLP_INFO ints per layer (FusedLayerRow writes them): weight offset, inputs, outputs, mirror offset,
// slot, A/Z offset, parameter partials offset. scratch: rows_cap x TN per candidate, a tile's dZ (or loss rows) while Z is still read.
// tape_at, tape, tape_const: the interpreter's tapes (a compiled program never reads them); seeds and pass key
// RReLU inside a tape.

// The parameters mlp_rows_tile and both kernels share, and the same names passed on.
#define MLP_ROWS_PARAMS \
    __global const float* input, const int input_stride, const int input_cstride, \
    __global const float* params, const int pstride, __global const float* mirror, const int mstride, \
    __global float* a_all, __global float* z_all, __global const int* info, const int layers, const int cstride, \
    const int rows, __global const int* act_id, const int slots, \
    __global const int* labels, const int label_cstride, const int classes, const float inv_rows, \
    __global float* row_loss, __global float* row_hit, const int rows_cap, \
    __global const int* tape_at, __global const int4* tape, __global const float* tape_const, \
    __global const uint* seeds, const uint pass, \
    __global const int* act_nparams, const int aoff, __global float* partials, const int part_cstride, \
    __global float* scratch
#define MLP_ROWS_ARGS input, input_stride, input_cstride, params, pstride, mirror, mstride, a_all, z_all, info, layers, cstride, \
    rows, act_id, slots, labels, label_cstride, classes, inv_rows, row_loss, row_hit, rows_cap, tape_at, tape, tape_const, \
    seeds, pass, act_nparams, aoff, partials, part_cstride, scratch
#define MLP_INFO 7

// Whether candidate c's slot keeps act'(Z) after the forward: a compiled expression with mlp_slope_ok, or
// (in the interpreter's program) an interpreted one.
inline bool mlp_rows_slope(int id, int c, int slot, int slots, __global const int* tape_at) {
    if (id >= 0) return mlp_slope_ok(id);
#ifdef AFI_SPAN
    return slot >= 0 && tape_at[c * slots + slot] >= 0;
#else
    return false;
#endif
}

#ifdef AFI_SPAN
// An interpreted slot (the interpreter's program): A = f(Z) over the tile, whose GEMM ran with the identity so
// A holds Z, and f'(Z) into Z, with one tangent walk of the tape per span (afi_walk_tangent); zeros outside
// the rows x out_n matrix. These are the bits of mlp_interp_forward's A and of the factor mlp_interp_backward
// multiplies dA by, RReLU's noise keyed as there (base, layer, batch row, column).
inline void mlp_interp_tile(__global float* Ac, __global float* Zc, int r0, int rows, int out_n,
                            __global const int4* tape, __global const float* tape_const, int at, uint base, int layer)
{
    const int4 head = tape[at];
    float v[AFI_REGS][AFI_SPAN], t[AFI_REGS][AFI_SPAN];
    for (int m = 0; m < TM; m++) {
        for (int j0 = 0; j0 < TN; j0 += AFI_SPAN) {
            const int nvalid = r0 + m < rows ? clamp(out_n - j0, 0, AFI_SPAN) : 0;
            __global float* A = Ac + (size_t)m * TN + j0;
            __global float* Z = Zc + (size_t)m * TN + j0;
            for (int j = 0; j < AFI_SPAN; j++) { v[0][j] = j < nvalid ? A[j] : 0.0f; t[0][j] = 1.0f; }
            afi_walk_tangent(tape, tape_const, at, v, t, base, layer, r0 + m, j0);
            for (int j = 0; j < AFI_SPAN; j++) {
                A[j] = j < nvalid ? v[head.y][j] : 0.0f;
                Z[j] = j < nvalid && head.z ? t[head.y][j] : 0.0f;
            }
        }
    }
}
#endif

// The learnable-parameter partials of one layer's slot at `index` (a row tile, or a row for the loss), where
// mlp_param_grads reads them; nothing without parameters in the program.
inline __global float* mlp_rows_partials(__global float* partials, int part_cstride, int c, __global const int* li,
                                         int index) {
#if AF_KMAX > 0
    return li[4] >= 0 ? partials + (size_t)c * part_cstride + li[6] + (size_t)index * AF_KMAX : 0;
#else
    return 0;
#endif
}

// Layer l's forward GEMM and activation over the TM rows of candidate c from r0 (rows w0.. of its A and Z
// slices; layer l - 1's A rows there are its input), as mlp_forward, layerwise_forward and the interpreter
// with `training`: in training Z, or act'(Z), where the backward needs it; in evaluation (`training` 0) A
// only, noise off but for Gumbel-softmax's sample, keyed by row_offset + row as there (the evaluation passes'
// rows are blocks of a split). The evaluation kernels are not built with the interpreter (its tapes run the
// training walk here).
inline void mlp_rows_layer(const int c, const int l, const int r0, const int w0, const int training, const int row_offset,
                           const uint base, MLP_ROWS_PARAMS)
{
    const int out_pad = TN, o0 = 0;
    __global const int* li = info + MLP_INFO * l;
    const int k_in = li[1], out_n = li[2], slot = li[4];
    const int in_stride = l == 0 ? input_stride : TN;
    __global const float* A = l == 0 ? input + (size_t)c * input_cstride + (size_t)r0 * input_stride
                                     : a_all + li[5 - MLP_INFO] + (size_t)c * cstride + (size_t)w0 * TN;
    __global const float* W = params + (size_t)c * pstride + li[0];
    __global const float* B = W + (size_t)k_in * TN;
    MLP_FORWARD_TILE
    __global float* Ac = a_all + li[5] + (size_t)c * cstride + (size_t)w0 * TN;
    __global float* Zc = z_all + li[5] + (size_t)c * cstride + (size_t)w0 * TN;
    MLP_ROWS(FW_OUT)
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    const bool slopes = training && mlp_slope_ok(id);
    // Z itself where the backward needs it (learnable parameters, noise), as mlp_forward keeps it.
    if (training && id >= 0 && !slopes) MLP_ROWS(FW_ZOUT)
    mlp_forward_epilogue(Zc, Ac, TN, r0, 0, rows, out_n, id, mlp_slot_params(params, pstride, c, aoff, slot), training,
                         base, l, row_offset, slopes);
    if (id <= MLP_LW_SOFTMAX)
        for (int m = 0; m < TM && r0 + m < rows; m++)
            mlp_layerwise_row(id, Ac + (size_t)m * TN, Ac + (size_t)m * TN, out_n, base, l, row_offset + r0 + m);
#ifdef AFI_SPAN
    const int at = slot >= 0 ? tape_at[c * slots + slot] : -1;
    if (at >= 0) mlp_interp_tile(Ac, Zc, r0, rows, out_n, tape, tape_const, at, base, l);
#endif
}

inline void mlp_rows_tile(const int c, const int r0, const int w0, MLP_ROWS_PARAMS)
{
    const int in_pad = TN, dz_stride = TN;
    const uint base = af_candidate_base(seeds, c, pass);
    __global float* S = scratch + (size_t)c * rows_cap * TN + (size_t)w0 * TN;
    for (int l = 0; l < layers; l++) mlp_rows_layer(c, l, r0, w0, 1, 0, base, MLP_ROWS_ARGS);

    // The loss of each row and dZ of the logits (over the last layer's slopes, in place; through the scratch
    // rows where the last layer keeps Z).
    {
        __global const int* li = info + MLP_INFO * (layers - 1);
        const int slot = li[4];
        const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
        const bool slope = mlp_rows_slope(id, c, slot, slots, tape_at);
        const bool keeps_z = id >= 0 && !slope;
        const int np = mlp_slot_nparams(act_nparams, c, slots, slot, id);
        __global const float* prm = mlp_slot_params(params, pstride, c, aoff, slot);
        const int read_to = classes > VW ? TN : min(TN, VW);   // as cross_entropy_loss
        for (int m = 0; m < TM; m++) {
            const int r = r0 + m;
            __global const float* L = a_all + li[5] + (size_t)c * cstride + (size_t)(w0 + m) * TN;
            __global float* Z = z_all + li[5] + (size_t)c * cstride + (size_t)(w0 + m) * TN;
            __global float* G = keeps_z ? S + (size_t)m * TN : Z;
            float loss, hit;
            mlp_loss_row(L, Z, G, mlp_rows_partials(partials, part_cstride, c, li, r), r, rows, r < rows ? labels[(size_t)c * label_cstride + r] : 0,
                         classes, read_to, inv_rows, 1, id, slope, np, prm, base, layers - 1, &loss, &hit);
            if (keeps_z) for (int j = 0; j < read_to; j++) Z[j] = G[j];
            row_loss[(size_t)c * rows_cap + r] = loss;
            row_hit[(size_t)c * rows_cap + r] = hit;
        }
    }

    // dZ_{l-1} = (dZ_l . W_l) * act'(Z_{l-1}), into z_{l-1} over the slopes it held; zeros past the rows. A slot
    // that kept Z takes mlp_backward_data's epilogue (its parameter partials too) with dA in the scratch tile;
    // a layer-wise one its row backward on dA.
    for (int l = layers - 1; l > 0; l--) {
        __global const int* li = info + MLP_INFO * l;
        const int out_n = li[2];
        __global const float* D = z_all + li[5] + (size_t)c * cstride + (size_t)w0 * TN;
        __global const float* M = mirror + (size_t)c * mstride + li[3];
        MLP_DATA_TILE
        __global const int* lp = li - MLP_INFO;
        const int prev_slot = lp[4], in_n = li[1];
        const int id = prev_slot >= 0 ? act_id[c * slots + prev_slot] : MLP_IDENTITY;
        const bool slope = mlp_rows_slope(id, c, prev_slot, slots, tape_at);
        __global float* Gc = z_all + lp[5] + (size_t)c * cstride + (size_t)w0 * TN;
        MLP_PSUM_DECL
        if (id >= 0 && !slope) {
            {
                __global float* Gc = S;
                MLP_ROWS(BD_OUT)
            }
            mlp_backward_epilogue(Gc, S, TN, r0, 0, rows, in_n, id, mlp_slot_params(params, pstride, c, aoff, prev_slot), base, l - 1,
                                  psum, mlp_slot_nparams(act_nparams, c, slots, prev_slot, id), false);
            for (int j = 0; j < TM * TN; j++) Gc[j] = S[j];
        } else {
#define FU_SLOPE(m) if (slope) { \
            acc##m##_0 *= VLOAD(0, Gc + m * TN); MLP_V1(acc##m##_1 *= VLOAD(0, Gc + m * TN + VW);) \
            MLP_V23(acc##m##_2 *= VLOAD(0, Gc + m * TN + 2 * VW); acc##m##_3 *= VLOAD(0, Gc + m * TN + 3 * VW);) } \
        if (r0 + m >= rows) { acc##m##_0 = (vfloat)(0.0f); acc##m##_1 = acc##m##_0; acc##m##_2 = acc##m##_0; acc##m##_3 = acc##m##_0; }
            MLP_ROWS(FU_SLOPE)
            MLP_ROWS(BD_OUT)
            if (id <= MLP_LW_SOFTMAX) {
                __global const float* Ap = a_all + lp[5] + (size_t)c * cstride + (size_t)w0 * TN;
                for (int m = 0; m < TM && r0 + m < rows; m++)
                    mlp_layerwise_row_backward(id, Ap + (size_t)m * TN, Gc + (size_t)m * TN, in_n);
            }
        }
#if AF_KMAX > 0
        __global float* Pp = mlp_rows_partials(partials, part_cstride, c, lp, r0 / TM);
        if (Pp) for (int k = 0; k < AF_KMAX; k++) Pp[k] = psum[k];
#endif
    }
}

// One row tile per work-item. global: (rowsPad / TM, P).
__kernel void mlp_train_rows(
    MLP_ROWS_PARAMS, __global const int* status)
{
    const int c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    mlp_rows_tile(c, get_global_id(0) * TM, get_global_id(0) * TM, MLP_ROWS_ARGS);
}

// The evaluation passes (RowPass as the training step's; not in the interpreter's program, whose evaluation runs
// per layer): a block of a split's rows gathered into `input`, `row_offset` the block's first row in the split,
// `pass` the evaluation pass. Every layer's forward in evaluation mode (mlp_rows_layer: mlp_forward's and
// layerwise_forward's), then a row's loss and hit as cross_entropy_loss's (mlp_loss_row in evaluation mode) into
// row_loss and row_hit (zeros past the rows), summed as metrics_reduce sums them (mlp_metrics_add): the per-layer
// launches' bits. Candidates that skip_frozen skips (MLP_SKIPS) are not run, as there.
#ifndef AFI_SPAN
inline void mlp_rows_eval_loss(const int c, const int r0, const int w0, const uint base, MLP_ROWS_PARAMS)
{
    __global const int* li = info + MLP_INFO * (layers - 1);
    const int slot = li[4];
    const int id = slot >= 0 ? act_id[c * slots + slot] : MLP_IDENTITY;
    __global const float* prm = mlp_slot_params(params, pstride, c, aoff, slot);
    const int read_to = classes > VW ? TN : min(TN, VW);
    for (int m = 0; m < TM; m++) {
        const int r = r0 + m;
        __global float* L = a_all + li[5] + (size_t)c * cstride + (size_t)(w0 + m) * TN;
        float loss, hit;
        mlp_loss_row(L, L, L, 0, r, rows, r < rows ? labels[(size_t)c * label_cstride + r] : 0, classes, read_to, inv_rows, 0, id, false, 0, prm, base,
                     layers - 1, &loss, &hit);
        row_loss[(size_t)c * rows_cap + r] = loss;
        row_hit[(size_t)c * rows_cap + r] = hit;
    }
}

// Candidate c's rows in blocks of block_rows (a multiple of TM), each block layer by layer (a layer's weights
// stay in cache over the block's row tiles) in the first block_rows rows of its A slices, then the block's
// losses: mlp_eval_candidate's work-item, and mlp_train_candidate's after its step (`eval_rows`).
inline void mlp_eval_blocks(const int c, const int row_offset, const int block_rows, MLP_ROWS_PARAMS)
{
    const uint base = af_candidate_base(seeds, c, pass);
    for (int b0 = 0; b0 < rows; b0 += block_rows) {
        const int b_end = min(b0 + block_rows, rows);
        for (int l = 0; l < layers; l++)
            for (int r0 = b0; r0 < b_end; r0 += TM) mlp_rows_layer(c, l, r0, r0 - b0, 0, row_offset, base, MLP_ROWS_ARGS);
        for (int r0 = b0; r0 < b_end; r0 += TM) mlp_rows_eval_loss(c, r0, r0 - b0, base, MLP_ROWS_ARGS);
    }
}
#endif

// One candidate per work-item: its rows in blocks of block_rows (a multiple of TM), each block's row tiles
// and then that block's share of every layer's weight gradients (mlp_weight_tile continues the sums block
// by block, so the bits are those of weight_gradients over all rows), written into grads. A block's A and
// dZ rows are still in the core's cache when the weight gradients read them, and only the first block_rows
// rows of a candidate's A and Z slices are used.
// With `update` (Adam), the step's tail follows in the same work-item while the gradients are in cache:
// metrics_reduce's sums into metrics (a non-finite loss freezes the candidate as diverged), mlp_param_grads'
// sums, and adam_update's blocks over the candidate's parameters; the bits of those three launches, which the
// host runs instead without `update`. wparams and wmirror are params and mirror, written only there. With
// `eval_rows` (Adam's tail only), the epoch's evaluation pass follows in the work-item (mlp_eval_blocks on the
// split's rows gathered once into eval_input, its sums into eval_metrics): the bits of mlp_eval_candidate's
// launch, without the launch, its gathers of the split and of the training rows back, and its wait.
// global: (P), local: (1).
__kernel void mlp_train_candidate(
    MLP_ROWS_PARAMS, __global int* status, __global float* grads, const int block_rows, const int update,
    __global float* metrics, __global const int* part_layout, const int part_layouts, const int row_tiles,
    const int rows_pad, __global float* wparams, __global float* m1, __global float* m2, __global float* wmirror,
    __global const int* wlayout, const int wlayers, __global const float* step_args, const float b1, const float b2,
    const float eps, const int eval_rows, __global const float* eval_input, __global const int* eval_labels,
    const float eval_inv_rows, const uint eval_pass, __global float* eval_metrics)
{
    const int c = get_global_id(0);
    if (status[c] != MLP_ACTIVE) return;
    __global float* G = grads + (size_t)c * pstride;
    for (int b0 = 0; b0 < rows; b0 += block_rows) {
        const int b_end = min(b0 + block_rows, rows);
        for (int r0 = b0; r0 < b_end; r0 += TM)
            mlp_rows_tile(c, r0, r0 - b0, MLP_ROWS_ARGS);
        for (int l = 0; l < layers; l++) {
            __global const int* li = info + MLP_INFO * l;
            const int k_in = li[1], out_n = li[2];
            const int in_stride = l == 0 ? input_stride : TN;
            __global const float* A = l == 0 ? input + (size_t)c * input_cstride + (size_t)b0 * input_stride : a_all + li[5 - MLP_INFO] + (size_t)c * cstride;
            __global const float* D = z_all + li[5] + (size_t)c * cstride;
            for (int i0 = 0; i0 < k_in; i0 += TM)
                mlp_weight_tile(A + i0, in_stride, D, TN, out_n, 0, b_end - b0, G + li[0], i0, k_in, b0 == 0);
        }
    }
    if (!update) return;
    if (!isfinite(mlp_metrics_add(row_loss, row_hit, rows_cap, rows, metrics, c))) {
        status[c] = MLP_DIVERGED;
    } else {
#if AF_KMAX > 0
        for (int idx = 0; idx < slots * AF_KMAX; idx++)
            G[aoff + idx] = mlp_param_grad(partials, part_cstride, part_layout, part_layouts, row_tiles, rows_pad, c, idx);
#endif
        const float step_size = step_args[2 * c], c2sqrt = step_args[2 * c + 1];
        for (int p = 0; p < pstride; p += ADAM_BLOCK)
            adam_block(wparams, grads, m1, m2, wmirror, c, p, pstride, mstride, wlayout, wlayers, step_size,
                       c2sqrt, b1, b2, eps);
    }
#ifndef AFI_SPAN
    if (eval_rows > 0) {
        // mlp_eval_candidate over the split in eval_input (one gathered block: row_offset 0), as its launch
        // after this one would run it (a candidate that diverged in this step included, as MLP_SKIPS mode 2).
        __global const float* input = eval_input;
        __global const int* labels = eval_labels;
        const int input_cstride = 0, label_cstride = 0, rows = eval_rows;
        const float inv_rows = eval_inv_rows;
        const uint pass = eval_pass;
        mlp_eval_blocks(c, 0, block_rows, MLP_ROWS_ARGS);
        mlp_metrics_add(row_loss, row_hit, rows_cap, rows, eval_metrics, c);
    }
#endif
}

#ifndef AFI_SPAN
// One row tile per work-item; metrics_reduce sums the rows. global: (rowsPad / TM, P).
__kernel void mlp_eval_rows(
    MLP_ROWS_PARAMS, __global const int* status, const int skip_frozen, const int row_offset)
{
    const int c = get_global_id(1), r0 = get_global_id(0) * TM;
    if (MLP_SKIPS(skip_frozen, status[c])) return;
    const uint base = af_candidate_base(seeds, c, pass);
    for (int l = 0; l < layers; l++) mlp_rows_layer(c, l, r0, r0, 0, row_offset, base, MLP_ROWS_ARGS);
    mlp_rows_eval_loss(c, r0, r0, base, MLP_ROWS_ARGS);
}

// One candidate per work-item: its rows in blocks of block_rows (a multiple of TM), each block layer by layer
// (a layer's weights stay in cache over the block's row tiles) in the first block_rows rows of the candidate's
// A slices, then the block's losses; at the end the rows' sums are added to metrics[2c], [2c + 1].
// global: (P), local: (1).
__kernel void mlp_eval_candidate(
    MLP_ROWS_PARAMS, __global const int* status, const int skip_frozen, const int row_offset, __global float* metrics,
    const int block_rows)
{
    const int c = get_global_id(0);
    if (!MLP_SKIPS(skip_frozen, status[c])) mlp_eval_blocks(c, row_offset, block_rows, MLP_ROWS_ARGS);
    mlp_metrics_add(row_loss, row_hit, rows_cap, rows, metrics, c);
}
#endif
