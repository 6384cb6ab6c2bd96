// Tile kernel of the exact kNN search: queries against one block of rows.
#pragma once

#include <cstdint>
#include <functional>

#include "cluster/knn_topk.h"

namespace distclust {

/// One block of candidate rows as the kernel sees it.
struct KnnBlock {
  const float* x = nullptr;      ///< [n x d]
  const float* bias = nullptr;   ///< [n] added to the scaled inner product: 0 (cosine) or -||b||^2 (l2); -inf = never a neighbour
  int64_t n = 0;
  int64_t first_row = 0;         ///< global row of x[0]
};

/// For every query row q of x [nq x d] (global rows q0..), offers each block
/// row j with score alpha*<x_q, b_j> + bias_j to top.push(q, ., row), except
/// the query itself. Tiled: sgemm per (tile_rows x tile_cols) in each thread,
/// then a vectorised threshold test so most candidates cost one compare.
/// qids (optional, [nq]): global row of each query when they are not q0.. in order.
/// on_rows (optional): called by one thread now and then with the queries done so far (progress).
void knn_search_block(const float* x, int64_t nq, int64_t d, int64_t q0, const KnnBlock& b, float alpha,
                      int tile_rows, int tile_cols, TopK& top, const int64_t* qids = nullptr,
                      const std::function<void(int64_t)>& on_rows = {});

}  // namespace distclust
