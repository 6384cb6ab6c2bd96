// Matrix products whose every element is computed the same way for any
// thread count: the output is cut into fixed tiles (their size depends on the
// shape alone), each tile is one single-threaded sgemm over the whole inner
// dimension, and OpenMP threads take whole tiles. Threads never split the
// summed dimension and never share a tile, so changing the thread count
// changes who computes a tile, never how. (Different OpenBLAS core types may
// still round differently from each other; one kernel is self-consistent.)
#pragma once

#include <cstdint>
#include <vector>

namespace distclust {

/// One product C [m x n] = alpha op(A) op(B) + beta C, row-major.
/// ta: A is [k x m] (else [m x k]); tb: B is [n x k] (else [k x n]).
struct Gemm {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.f;
  float* c = nullptr;
  int64_t ldc = 0;
};

/// Output tile of a product of this shape: at most 256 rows, ~128k elements
/// (a multiple of 16 columns), products under 2^18 multiply-adds whole. A
/// function of (m, n, k) only.
struct TileShape {
  int64_t rows = 0, cols = 0;
};
TileShape gemm_tile_shape(int64_t m, int64_t n, int64_t k);

/// Runs independent products (their outputs must not overlap), all their
/// tiles in one parallel loop. Inside a parallel region it runs serially.
void tiled_gemm(const std::vector<Gemm>& ops);
void tiled_gemm(const Gemm& op);

}  // namespace distclust
