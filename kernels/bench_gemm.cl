// bench_gemm: plain batched GEMM for measuring a device's achievable FP32 rate (`afsearch bench gemm`).
//
//   C[p] = A[p] · B[p]   for p in 0..<batch
//   A: batch × M × K, B: batch × K × N, C: batch × M × N, all row-major, contiguous per batch entry.
//
// Register tile: each work-item computes TILE_ROWS rows × (VEC_WIDTH · VECS_PER_ROW) columns of C, holding
// the tile in floatVEC_WIDTH accumulators; per k it loads one row slice of B as vectors and broadcasts one
// element of A per row. Global size: [N / (VEC_WIDTH · VECS_PER_ROW), M / TILE_ROWS, batch]; the host
// guarantees both divisions are exact. Compile-time parameters (-D): TILE_ROWS, VEC_WIDTH (2, 4, 8, 16),
// VECS_PER_ROW.
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VEC CAT(float, VEC_WIDTH)
#define VLOAD CAT(vload, VEC_WIDTH)
#define VSTORE CAT(vstore, VEC_WIDTH)
#define TILE_COLS (VEC_WIDTH * VECS_PER_ROW)

__kernel void gemm_tile(const int M, const int N, const int K,
                        __global const float* restrict A, __global const float* restrict B,
                        __global float* restrict C) {
    const int col0 = get_global_id(0) * TILE_COLS;
    const int row0 = get_global_id(1) * TILE_ROWS;
    const int p = get_global_id(2);
    A += (size_t)p * M * K + (size_t)row0 * K;
    B += (size_t)p * K * N + col0;
    C += (size_t)p * M * N + (size_t)row0 * N + col0;

    VEC acc[TILE_ROWS][VECS_PER_ROW];
    #pragma unroll
    for (int i = 0; i < TILE_ROWS; i++) {
        #pragma unroll
        for (int j = 0; j < VECS_PER_ROW; j++) acc[i][j] = (VEC)(0.0f);
    }
    for (int k = 0; k < K; k++) {
        VEC b[VECS_PER_ROW];
        #pragma unroll
        for (int j = 0; j < VECS_PER_ROW; j++) b[j] = VLOAD(j, B + (size_t)k * N);
        #pragma unroll
        for (int i = 0; i < TILE_ROWS; i++) {
            const VEC a = (VEC)(A[i * K + k]);
            #pragma unroll
            for (int j = 0; j < VECS_PER_ROW; j++) acc[i][j] = fma(a, b[j], acc[i][j]);
        }
    }
    #pragma unroll
    for (int i = 0; i < TILE_ROWS; i++) {
        #pragma unroll
        for (int j = 0; j < VECS_PER_ROW; j++) VSTORE(acc[i][j], j, C + (size_t)i * N);
    }
}
