// adam_update: the optimiser step over every parameter of every active candidate in one launch, all
// layers fused (params, grads and the moment buffers share the per-candidate layout of mlp_common.cl).
// Each weight written is also copied into the out x in mirror the backward GEMM reads.
// wlayout: per layer 6 ints (woff, in_n, out_pad, moff, out_n, in_pad). global: (pstride, P).

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
__kernel void adam_update(
    __global float* params, __global const float* grads, __global float* m1, __global float* m2,
    __global float* mirror, const int pstride, const int mstride, __global const int* wlayout, const int layers,
    const float step_size, const float b1, const float b2, const float eps, const float c2sqrt,
    __global const int* status)
{
    const int p = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const size_t i = (size_t)c * pstride + p;
    const float g = grads[i];
    float m = m1[i];
    m = m + (1.0f - b1) * (g - m);
    const float v = m2[i] * b2 + (1.0f - b2) * g * g;
    m1[i] = m;
    m2[i] = v;
    const float w = params[i] - step_size * (m / (sqrt(v) / c2sqrt + eps));
    params[i] = w;
    mlp_mirror_store(mirror, c, mstride, p, wlayout, layers, w);
}

// torch.optim.SGD(momentum, dampening 0): b <- g on the first step, else momentum * b + g; p <- p - lr b.
__kernel void sgd_update(
    __global float* params, __global const float* grads, __global float* buf,
    __global float* mirror, const int pstride, const int mstride, __global const int* wlayout, const int layers,
    const float lr, const float momentum, const int first_step, __global const int* status)
{
    const int p = get_global_id(0), c = get_global_id(1);
    if (status[c] != MLP_ACTIVE) return;
    const size_t i = (size_t)c * pstride + p;
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
