// af_eval: evaluates generated activation functions on a grid (append after ActivationCodegen's source).
// Shapes: x[n] inputs; prm[count * prmStride] parameters, one block per expression id;
// value, slope, dparam: [count * n], row id holds expression id's results at x[0..n).
// Global size: (n rounded up, count). key 0 = evaluation mode, otherwise training-mode RReLU noise.
__kernel void af_eval(const int n, const uint key, __global const float* x, __global const float* prm,
                      const int prmStride, __global float* value, __global float* slope) {
    int i = get_global_id(0);
    int id = get_global_id(1);
    if (i >= n) return;
    __global const float* p = prm + id * prmStride;
    value[id * n + i] = af_act(id, x[i], p, key);
    slope[id * n + i] = af_dact(id, x[i], p, key);
}

// d f / d (parameter k) for every expression id (0 where an expression has fewer than k + 1 parameters).
__kernel void af_eval_dparam(const int n, const uint key, const int k, __global const float* x,
                             __global const float* prm, const int prmStride, __global float* dparam) {
    int i = get_global_id(0);
    int id = get_global_id(1);
    if (i >= n) return;
    dparam[id * n + i] = af_dparam(id, k, x[i], prm + id * prmStride, key);
}
