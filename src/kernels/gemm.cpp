#include "kernels/gemm.h"

#include <omp.h>

#include <algorithm>

#include "kernels/blas.h"

namespace distclust {

TileShape gemm_tile_shape(int64_t m, int64_t n, int64_t k) {
  if (m * n * k < (int64_t(1) << 18)) return {std::max<int64_t>(m, 1), std::max<int64_t>(n, 1)};
  const int64_t rows = std::min<int64_t>(m, 256);
  int64_t cols = std::max<int64_t>(64, ((int64_t(1) << 17) / rows + 15) / 16 * 16);
  return {rows, std::min(cols, n)};
}

namespace {

struct Tile {
  size_t op;
  int64_t i0, j0, mi, nj;
};

void run_tile(const Gemm& g, const Tile& t) {
  const float* a = g.ta ? g.a + t.i0 : g.a + t.i0 * g.lda;
  const float* b = g.tb ? g.b + t.j0 * g.ldb : g.b + t.j0;
  blas::sgemm(g.ta, g.tb, t.mi, t.nj, g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, g.c + t.i0 * g.ldc + t.j0, g.ldc);
}

}  // namespace

void tiled_gemm(const std::vector<Gemm>& ops) {
  blas::single_thread();
  std::vector<Tile> tiles;
  for (size_t o = 0; o < ops.size(); ++o) {
    const Gemm& g = ops[o];
    if (g.m <= 0 || g.n <= 0) continue;
    const TileShape s = gemm_tile_shape(g.m, g.n, g.k);
    for (int64_t i = 0; i < g.m; i += s.rows)
      for (int64_t j = 0; j < g.n; j += s.cols)
        tiles.push_back({o, i, j, std::min(s.rows, g.m - i), std::min(s.cols, g.n - j)});
  }
  const int64_t nt = int64_t(tiles.size());
  if (nt <= 1 || omp_in_parallel()) {
    for (const Tile& t : tiles) run_tile(ops[t.op], t);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < nt; ++t) run_tile(ops[tiles[t].op], tiles[t]);
}

void tiled_gemm(const Gemm& op) { tiled_gemm(std::vector<Gemm>{op}); }

}  // namespace distclust
