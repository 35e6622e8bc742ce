// fma_peak.c: the CPU's FP32 FMA throughput from native AVX-512 code, a cross-check of the OpenCL FMA peak that
// `afsearch bench gemm` measures through PoCL (kernels/bench_fma.cl). One process per core, each running 12
// independent chains of 512-bit FMAs (enough to cover the FMA latency on two pipes); prints GFLOP/s per process.
//
//   gcc -O3 -march=native -o /tmp/fma_peak bench/native/fma_peak.c
//   for i in $(seq $(nproc)); do /tmp/fma_peak & done; wait      # sum the lines: the whole CPU
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    enum { CHAINS = 12 };
    __m512 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(1.0f + c * 1e-3f);
    const __m512 scale = _mm512_set1_ps(0.999f), shift = _mm512_set1_ps(0.001f);
    const long iterations = 200000000L;
    const double start = now();
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], scale, shift);
    const double seconds = now() - start;
    float sum = 0.0f;
    for (int c = 0; c < CHAINS; c++) sum += _mm512_reduce_add_ps(acc[c]);
    // 16 lanes, 2 FLOP an FMA. The sum keeps the loop alive (and is about 16 x CHAINS: the chains converge to 1).
    printf("%.1f GFLOP/s (sum %.1f)\n", iterations * CHAINS * 16.0 * 2 / seconds / 1e9, sum);
    return 0;
}
