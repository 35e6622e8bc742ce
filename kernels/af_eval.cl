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

#ifdef AF_VECTOR_FUNCTIONS
// af_eval4: the float4 forms on n4 groups of 4 inputs (x padded to 4·n4); same layout as af_eval.
__kernel void af_eval4(const int n4, const uint key, __global const float* x, __global const float* prm,
                       const int prmStride, __global float* value, __global float* slope) {
    int i = get_global_id(0);
    int id = get_global_id(1);
    if (i >= n4) return;
    __global const float* p = prm + id * prmStride;
    float4 xv = vload4(i, x);
    uint4 k = (uint4)(key);
    vstore4(af_act4(id, xv, p, k), id * n4 + i, value);
    vstore4(af_dact4(id, xv, p, k), id * n4 + i, slope);
}
#endif
