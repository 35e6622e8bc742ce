// bench_fma: the device's FP32 FMA throughput, the arithmetic ceiling that `afsearch bench gemm` reports the
// GEMM peak against (a measured figure, where OpenCL reports no lane or pipe counts to compute one from).
//
// Each work-item runs `iterations` rounds of CHAINS independent chains acc = fma(acc, scale, shift) on
// floatVEC_WIDTH values (VEC_WIDTH 1: float), enough independent chains to cover the FMA latency, and writes the
// sum of its final values, which the host checks against the recurrence's closed form. Compile-time parameters
// (-D): VEC_WIDTH (1, 2, 4, 8, 16), CHAINS.
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VEC_WIDTH == 1
#define VEC float
#else
#define VEC CAT(float, VEC_WIDTH)
#endif

__kernel void fma_peak(const int iterations, const float scale, const float shift, __global float* restrict out) {
    const int gid = get_global_id(0);
    VEC acc[CHAINS];
    #pragma unroll
    for (int c = 0; c < CHAINS; c++) acc[c] = (VEC)((float)(gid % 8) * 0.125f + (float)c * 0.0625f);
    for (int i = 0; i < iterations; i++) {
        #pragma unroll
        for (int c = 0; c < CHAINS; c++) acc[c] = fma(acc[c], (VEC)(scale), (VEC)(shift));
    }
    VEC sum = acc[0];
    #pragma unroll
    for (int c = 1; c < CHAINS; c++) sum += acc[c];
#if VEC_WIDTH == 1
    out[gid] = sum;
#else
    float lanes[VEC_WIDTH];
    CAT(vstore, VEC_WIDTH)(sum, 0, lanes);
    float total = 0.0f;
    for (int l = 0; l < VEC_WIDTH; l++) total += lanes[l];
    out[gid] = total;
#endif
}
