// bench_spans: the activation work of one 4 x 64 tile of the fused training pass, alone (appended to a trainer
// program, whose span helpers it calls; `afsearch bench activations`). Each work-item owns `n` elements of
// `work` and `aux`; `reps` times it copies `src` in (shifted by a rep-dependent amount, so nothing is
// invariant across reps) and runs one pass over them:
//   mode 0: the copy alone (what the other modes' times have subtracted);
//   mode 1: training forward, an expression with slopes: act(Z) in place and act'(Z) into aux
//           (mlp_act_slope_span; the backward's multiply by the slope is a register-level FMA, not counted);
//   mode 2: evaluation forward: act(Z) in place (mlp_act_span, key 0);
//   mode 3: training, an expression without slopes (learnable parameters, noise): act(Z) in place, then the
//           backward's dA * act'(Z) with the parameter partials (mlp_backward_epilogue on aux as dA);
//   mode 4: a layer-wise function (softmax family), training: each 64-wide row forward in place, then its
//           backward on aux as dA (mlp_layerwise_row, mlp_layerwise_row_backward);
//   mode 5: a layer-wise function, evaluation: the rows forward.
// `np`: the expression's parameter count. n: TM * TN. One float per work-item goes to `sink`, so the compiler keeps the work. global: (work-items), local: (1).
__kernel void bench_spans(const int mode, const int id, const int np, const int n, const int reps, __global const float* src,
                          __global float* work, __global float* aux, __global const float* prm, __global float* sink)
{
    const int g = get_global_id(0);
    __global float* p = work + (size_t)g * n;
    __global float* q = aux + (size_t)g * n;
    float acc = 0.0f;
    for (int r = 0; r < reps; r++) {
        const float shift = (float)(r & 7) * 0.0009765625f;
        for (int j = 0; j < n; j++) { p[j] = src[j] + shift; q[j] = src[n - 1 - j]; }
        if (mode == 1) {
            mlp_act_slope_span(id, p, q, n, prm, 1u);
        } else if (mode == 2) {
            mlp_act_span(id, p, n, prm, 0u);
        } else if (mode == 3) {
            // Z in q (as the forward keeps it), A = act(Z) in p, dA in p afterwards.
            for (int j = 0; j < n; j++) q[j] = p[j];
            mlp_forward_epilogue(q, p, TN, 0, 0, TM, TN, id, prm, 1, (uint)g, 0, 0, false);
            MLP_PSUM_DECL
            mlp_backward_epilogue(q, p, TN, 0, 0, TM, TN, id, prm, (uint)g, 0, psum, np, false);
#if AF_KMAX > 0
            acc += psum[0];
#endif
        } else if (mode >= 4) {
            for (int m = 0; m < n / TN; m++) {
                mlp_layerwise_row(id, p + m * TN, p + m * TN, TN, (uint)g, 0, r * 4 + m);
                if (mode == 4) mlp_layerwise_row_backward(id, p + m * TN, q + m * TN, TN);
            }
        }
        acc += p[r % n] + q[(r * 7) % n];
    }
    sink[g] = acc;
}
