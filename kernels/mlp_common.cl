// mlp_common: shared helpers of the population MLP trainer. The host prepends, in this order:
//   #define TM, VW, TNV, AF_KMAX, AF_NEEDS_KEYS (optional)      (tile shape, parameter count, RNG use)
//   the generated activation code: af_act / af_dact / af_dparam(id, x, prm, key)
//   mlp_act_span / mlp_dact_span (PopulationProgram.spanHelpers: the id switch hoisted out of element loops)
// then this file, mlp_gemm.cl, mlp_rows.cl and adam_update.cl.
//
// Layouts (c = candidate, all row-major, every width padded to a multiple of TN = VW*TNV columns):
//   params  [c][pstride]: per layer l: WT_l (in_l x outPad_l), b_l (outPad_l); then slots x AF_KMAX
//           learnable activation parameters. Padded entries stay exactly 0 (their gradients are 0).
//   mirror  [c][mstride]: per layer W_l (out_l x inPad_l), PyTorch's out x in, for the backward GEMM.
//   Z_l, A_l[c][rowsPad][outPad_l]: pre-activation and activation; A_0 is the input batch: shared
//           (candidate stride 0), or one per candidate where a slot pool's candidates are at different
//           epochs of their mini-batch shuffles (mlp_gather_slots). Padded rows and columns of everything
//           the kernels write are exact zeros.
//   act_id  [c][slots]: >= 0 element-wise expression id, -1 identity, <= -2 a layer-wise op (MLP_LW_*).
//   status  [c]: 0 training, 1 stopped early, 2 diverged. Frozen candidates skip training work.

#define TN (VW * TNV)
#if VW == 16
typedef float16 vfloat;
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
typedef float8 vfloat;
#define VLOAD vload8
#define VSTORE vstore8
#elif VW == 4
typedef float4 vfloat;
#define VLOAD vload4
#define VSTORE vstore4
#else
typedef float vfloat;
#define VLOAD(o, p) (*(p))
#define VSTORE(v, o, p) (*(p) = (v))
#endif

// Folds of a float16's lanes (halves added lane by lane down to one) and its lane numbers.
#define MLP_LANES16 ((float16)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f, 14.0f, 15.0f))
#define MLP_FOLD16(v, OP) { const float8 h8 = OP(v.lo, v.hi); const float4 h4 = OP(h8.lo, h8.hi); \
                            const float2 h2 = OP(h4.lo, h4.hi); return OP(h2.x, h2.y); }
#define MLP_ADD(a, b) ((a) + (b))
inline float mlp_hmax16(float16 v) MLP_FOLD16(v, fmax)
inline float mlp_hmin16(float16 v) MLP_FOLD16(v, fmin)
inline float mlp_hsum16(float16 v) MLP_FOLD16(v, MLP_ADD)

#define MLP_IDENTITY (-1)
#define MLP_LW_SOFTMAX (-2)
#define MLP_LW_SOFTMIN (-3)
#define MLP_LW_LOG_SOFTMAX (-4)
#define MLP_LW_GUMBEL_SOFTMAX (-5)

#define MLP_ACTIVE 0
#define MLP_STOPPED 1
#define MLP_DIVERGED 2
// Whether a launch skips a candidate of status s. skip_frozen 0: none (a chunk's evaluation covers every
// member); 1: all but the active ones (training); 2: the stopped ones only (a slot pool's evaluation: empty
// slots are skipped, and a candidate that diverged in this step still has its epoch evaluated, so the pool
// needs no status round trip between its training step and its evaluation).
#define MLP_SKIPS(skip_frozen, s) ((skip_frozen) == 1 ? (s) != MLP_ACTIVE : (skip_frozen) == 2 && (s) == MLP_STOPPED)

// lowbias32 (C. Wellons); CounterRNG.mix32 on the host is the same function.
inline uint af_mix32(uint x) {
    x ^= x >> 16; x *= 0x7feb352du;
    x ^= x >> 15; x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// NoiseKey.passBase / elementKey on the host. A key is never 0 (0 = evaluation mode).
inline uint af_pass_base(uint seed32, uint pass) {
    return af_mix32(seed32 ^ af_mix32(pass * 0x9e3779b9u + 0x7f4a7c15u));
}
// seeds holds two words per candidate: its 32-bit seed and the pass at which it entered its slot
// (PopulationPool refills slots mid-run). A candidate keys its noise by its own step count, pass − entry, so
// it draws the same noise in any slot at any time as trained alone; the evaluation pass is left as it is.
inline uint af_candidate_base(__global const uint* seeds, int c, uint pass) {
    const uint own = pass == 0xffffffffu ? pass : pass - seeds[2 * c + 1];
    return af_pass_base(seeds[2 * c], own);
}
// A row's hash, then each column's key from it (af_element_key in two steps, for loops along a row).
inline __attribute__((always_inline)) uint af_row_hash(uint base, int layer, int row) {
    return af_mix32(af_mix32(base ^ ((uint)layer * 0x9e3779b9u)) + (uint)row * 0x85ebca6bu);
}
inline __attribute__((always_inline)) uint af_key_in_row(uint row_hash, int col) {
    return af_mix32(row_hash + (uint)col * 0xc2b2ae35u) | 1u;
}
inline __attribute__((always_inline)) uint af_element_key(uint base, int layer, int row, int col) {
    return af_key_in_row(af_row_hash(base, layer, row), col);
}
// Gumbel(0,1) from a key: u in (0,1) from 24 bits, exactly as CounterRNG.openUniform: (k + 0.5) · 2^-24 in
// float, where k + 0.5 rounds to even from k = 2^23 on, and the top draw (k = 2^24 − 1) rounds to 1.0, whose
// -log(-log u) is +inf: one element in 2^24, so a Gumbel-softmax layer of 64 units on 1,000 rows made its network
// diverge (NaN loss) within a few hundred epochs about one time in two. The min holds it at the largest float
// below 1. Both logs take positive normal floats, so mlp_fastmath.cl's straight-line log (which every trainer
// program includes) serves: PoCL's log is a scalar library call, and Gumbel-softmax rows spent most of their
// time in it. Forced inline, with the key's hashing: PoCL kept it a call (the two logs pass its inliner's
// threshold), and a call per element keeps mlp_layerwise_row's noise loop scalar.
inline __attribute__((always_inline)) float af_gumbel(uint key) {
    const float u = fmin(((float)(af_mix32(key ^ 0x68e31da4u) >> 8) + 0.5f) * 0x1p-24f, 0x1.fffffep-1f);
    return -af_fm_log(-af_fm_log(u));
}

// The key an element-wise activation sees: 0 in evaluation; in training a per-element key when some
// expression of the population is random (RReLU), else 1.
inline uint mlp_key(int training, uint base, int layer, int row, int col) {
#ifdef AF_NEEDS_KEYS
    return training ? af_element_key(base, layer, row, col) : 0u;
#else
    return training ? 1u : 0u;
#endif
}

#ifdef AF_NEEDS_KEYS
#define AF_KEYED 1
#else
#define AF_KEYED 0
#endif

// Slot `slot`'s learnable parameters in candidate c's block of `params` (AF_KMAX floats a slot, after `aoff`),
// and how many of them expression `id` has (0 for identity, layer-wise ops and programs without parameters).
inline __global const float* mlp_slot_params(__global const float* params, int pstride, int c, int aoff, int slot) {
    return params + (size_t)c * pstride + aoff + (slot >= 0 ? slot : 0) * AF_KMAX;
}
// psum: a work-item's sums of dA * d act / d p_k, one per learnable parameter (one unused float without).
#if AF_KMAX > 0
#define MLP_PSUM_DECL float psum[AF_KMAX]; for (int k = 0; k < AF_KMAX; k++) psum[k] = 0.0f;
#else
#define MLP_PSUM_DECL float psum[1];
#endif
inline int mlp_slot_nparams(__global const int* act_nparams, int c, int slots, int slot, int id) {
#if AF_KMAX > 0
    return id >= 0 ? act_nparams[c * slots + slot] : 0;
#else
    return 0;
#endif
}

inline float mlp_act(int id, float z, __global const float* prm, uint key) {
    return id >= 0 ? af_act(id, z, prm, key) : z;
}
inline float mlp_dact(int id, float z, __global const float* prm, uint key) {
    return id >= 0 ? af_dact(id, z, prm, key) : 1.0f;
}

// Row reductions (the layer-wise functions' rows, a tile's parameter partials), in one fixed order wherever they
// run (the fused passes and the per-layer launches call the same functions, so both give the same bits): eight
// running values (lane j mod 8) over whole groups of eight, folded pairwise, then the rest in order. A single
// running sum is one dependency chain of 64 additions per row, which kept these rows scalar; the float8 form
// vectorises.
#define MLP_FOLD8(v, OP) OP(OP(OP((v).s0, (v).s4), OP((v).s2, (v).s6)), OP(OP((v).s1, (v).s5), OP((v).s3, (v).s7)))
// The one order: OP over TERM8(j) (eight elements from j) into eight lanes, folded, then OP over TERM(j).
#define MLP_ROW_REDUCE(INIT, OP, TERM8, TERM) { \
    float8 acc = (float8)(INIT); \
    int j = 0; \
    for (; j + 8 <= n; j += 8) acc = OP(acc, TERM8); \
    float r = MLP_FOLD8(acc, OP); \
    for (; j < n; j++) r = OP(r, TERM); \
    return r; }
// A private array's sum in that order (mlp_backward_epilogue's parameter partials).
inline float mlp_private_sum(const float* t, int n) MLP_ROW_REDUCE(0.0f, MLP_ADD, vload8(0, t + j), t[j])
