// Kernels of `afsearch selftest` and the runtime tests: the smallest programs that prove a device
// computes, synchronises work-groups and reports timings.

// y[i] = a * x[i] + y[i]   (x, y: n floats; global size >= n, any local size)
__kernel void saxpy(const int n, const float a, __global const float* x, __global float* y) {
    int i = get_global_id(0);
    if (i < n) y[i] = a * x[i] + y[i];
}

// sums[g] = x[g * L] + ... + x[g * L + L - 1] for work-group g of size L (a power of two);
// scratch: L floats of __local memory. Tree reduction: exercises barriers and local memory.
__kernel void group_sum(__global const float* x, __global float* sums, __local float* scratch) {
    int l = get_local_id(0);
    scratch[l] = x[get_global_id(0)];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = get_local_size(0) / 2; stride > 0; stride /= 2) {
        if (l < stride) scratch[l] += scratch[l + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) sums[get_group_id(0)] = scratch[0];
}
