// adam_update: the optimiser step over every parameter of every active candidate in one launch, all
// layers fused (params, grads and the moment buffers share the per-candidate layout of mlp_common.cl).
// Each weight written is also copied into the out x in mirror the backward GEMM reads.
// wlayout: per layer 6 ints (woff, in_n, out_pad, moff, out_n, in_pad): UpdateLayerRow writes them. global: (pstride, P).

inline void mlp_mirror_store(__global float* mirror, const int c, const int mstride, const int p,
                             __global const int* wlayout, const int layers, const float w)
{
    for (int l = 0; l < layers; l++) {
        const int woff = wlayout[6 * l], in_n = wlayout[6 * l + 1], out_pad = wlayout[6 * l + 2];
        if (p < woff || p >= woff + in_n * out_pad) continue;
        const int q = p - woff, i = q / out_pad, o = q % out_pad;
        if (o < wlayout[6 * l + 4])
            mirror[(size_t)c * mstride + wlayout[6 * l + 3] + (size_t)o * wlayout[6 * l + 5] + i] = w;
        return;
    }
}

// torch.optim.Adam: m <- lerp(m, g, 1-b1); v <- b2 v + (1-b2) g^2;
// p <- p - step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps), step_size = lr / (1 - b1^t) (host, double).
// step_args: per candidate (step_size, sqrt(1 - b2^t)) at its own step t (Optimizer.stepArguments): a slot
// refilled mid-run starts its bias correction from t = 1.
// When every layer boundary is a multiple of 16 floats (TN a multiple of 16, as with float16 tiles), work-item
// p = 16j updates parameters 16j..16j+15 as one float16 and the other fifteen return: the per-element mirror
// search made PoCL run the whole kernel one scalar work-item at a time (5.6 ms per study-1 step, 0.5 ms
// without the mirror); a block lies inside one layer's WT row or bias, so it needs one search and one
// division. The arithmetic per element is the same as the scalar path's.
inline float adam_step(const float g, float* m, float* v, const float p, const float step_size, const float b1,
                       const float b2, const float eps, const float c2sqrt)
{
    *m = *m + (1.0f - b1) * (g - *m);
    *v = *v * b2 + (1.0f - b2) * g * g;
    return p - step_size * (*m / (sqrt(*v) / c2sqrt + eps));
}

#if TN % 16 == 0
#define ADAM_BLOCK 16
#else
#define ADAM_BLOCK 1
#endif

// Candidate c's parameters p .. p + ADAM_BLOCK - 1 (p a multiple of ADAM_BLOCK) at its step's (step_size,
// c2sqrt): adam_update's work-item p, and mlp_train_candidate's optimiser tail (kernels/mlp_fused.cl) block by
// block, so both give the same bits.
inline void adam_block(__global float* params, __global const float* grads, __global float* m1, __global float* m2,
                       __global float* mirror, const int c, const int p, const int pstride, const int mstride,
                       __global const int* wlayout, const int layers, const float step_size, const float c2sqrt,
                       const float b1, const float b2, const float eps)
{
    const size_t i = (size_t)c * pstride + p;
#if ADAM_BLOCK == 16
    const float16 g = vload16(0, grads + i);
    float16 m = vload16(0, m1 + i);
    m = m + (1.0f - b1) * (g - m);
    const float16 v = vload16(0, m2 + i) * b2 + (1.0f - b2) * g * g;
    vstore16(m, 0, m1 + i);
    vstore16(v, 0, m2 + i);
    const float16 w = vload16(0, params + i) - step_size * (m / (sqrt(v) / c2sqrt + eps));
    vstore16(w, 0, params + i);
    for (int l = 0; l < layers; l++) {
        const int woff = wlayout[6 * l], in_n = wlayout[6 * l + 1], out_pad = wlayout[6 * l + 2];
        if (p < woff || p >= woff + in_n * out_pad) continue;
        const int q = p - woff, row = q / out_pad, o0 = q % out_pad, out_n = wlayout[6 * l + 4];
        __global float* M = mirror + (size_t)c * mstride + wlayout[6 * l + 3] + row;
        const int in_pad = wlayout[6 * l + 5];
        const float lanes[16] = {w.s0, w.s1, w.s2, w.s3, w.s4, w.s5, w.s6, w.s7,
                                 w.s8, w.s9, w.sa, w.sb, w.sc, w.sd, w.se, w.sf};
        for (int j = 0; j < 16 && o0 + j < out_n; j++) M[(size_t)(o0 + j) * in_pad] = lanes[j];
        return;
    }
#else
    float m = m1[i], v = m2[i];
    const float w = adam_step(grads[i], &m, &v, params[i], step_size, b1, b2, eps, c2sqrt);
    m1[i] = m;
    m2[i] = v;
    params[i] = w;
    mlp_mirror_store(mirror, c, mstride, p, wlayout, layers, w);
#endif
}

__kernel void adam_update(
    __global float* params, __global const float* grads, __global float* m1, __global float* m2,
    __global float* mirror, const int pstride, const int mstride, __global const int* wlayout, const int layers,
    __global const float* step_args, const float b1, const float b2, const float eps, __global const int* status)
{
    const int p = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE || p % ADAM_BLOCK != 0) return;
    adam_block(params, grads, m1, m2, mirror, c, p, pstride, mstride, wlayout, layers, step_args[2 * c], step_args[2 * c + 1],
               b1, b2, eps);
}

// torch.optim.SGD(momentum, dampening 0): b <- g on the first step, else momentum * b + g; p <- p - lr b.
// step_args: per candidate (lr, 1 on its own first step else 0).
__kernel void sgd_update(
    __global float* params, __global const float* grads, __global float* buf,
    __global float* mirror, const int pstride, const int mstride, __global const int* wlayout, const int layers,
    __global const float* step_args, const float momentum, __global const int* status)
{
    const int p = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const size_t i = (size_t)c * pstride + p;
    const float lr = step_args[2 * c];
    const int first_step = step_args[2 * c + 1] != 0.0f;
    const float g = grads[i];
    float b = g;
    if (momentum != 0.0f) {
        b = first_step ? g : buf[i] * momentum + g;
        buf[i] = b;
    }
    const float w = params[i] - lr * b;
    params[i] = w;
    mlp_mirror_store(mirror, c, mstride, p, wlayout, layers, w);
}
