#include "cluster/knn_kernel.h"

#include <cblas.h>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

namespace distclust {

namespace {

/// Offers row tile g [cols] (+ bias) to query q; only lanes at or above the
/// current threshold reach the heap.
inline void offer_row(const float* g, const float* bias, int64_t cols, int64_t row0, int64_t self, int64_t q,
                      TopK& top) {
  float thr = top.threshold(q);
  int64_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    int hit = 0;
#pragma omp simd reduction(| : hit)
    for (int l = 0; l < 16; ++l) hit |= (g[j + l] + bias[j + l] >= thr);
    if (!hit) continue;
    for (int l = 0; l < 16; ++l) {
      float v = g[j + l] + bias[j + l];
      if (v >= thr && v != -INFINITY && row0 + j + l != self) {
        top.push(q, v, row0 + j + l);
        thr = top.threshold(q);
      }
    }
  }
  for (; j < cols; ++j) {
    float v = g[j] + bias[j];
    if (v >= thr && v != -INFINITY && row0 + j != self) {
      top.push(q, v, row0 + j);
      thr = top.threshold(q);
    }
  }
}

}  // namespace

void knn_search_block(const float* x, int64_t nq, int64_t d, int64_t q0, const KnnBlock& b, float alpha,
                      int tile_rows, int tile_cols, TopK& top, const int64_t* qids,
                      const std::function<void(int64_t)>& on_rows) {
  const int64_t tr = std::max(1, tile_rows), tc = std::max(16, tile_cols);
  const int64_t tiles = (nq + tr - 1) / tr;
  std::atomic<int64_t> done{0};
#pragma omp parallel
  {
    std::vector<float> g(static_cast<size_t>(tr * tc));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t r0 = t * tr, rn = std::min(tr, nq - r0);
      for (int64_t c0 = 0; c0 < b.n; c0 += tc) {
        const int64_t cn = std::min(tc, b.n - c0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rn), int(cn), int(d), alpha, x + r0 * d, int(d),
                    b.x + c0 * d, int(d), 0.0f, g.data(), int(cn));
        for (int64_t i = 0; i < rn; ++i)
          offer_row(g.data() + i * cn, b.bias + c0, cn, b.first_row + c0, qids ? qids[r0 + i] : q0 + r0 + i, r0 + i,
                    top);
      }
      const int64_t now = done += rn;
      if (on_rows && omp_get_thread_num() == 0) on_rows(now);
    }
  }
}

}  // namespace distclust
