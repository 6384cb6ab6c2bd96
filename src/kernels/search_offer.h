// The selection half of the CPU search kernel, shared by search() and
// search_self(): scores of a GEMM tile offered to per-query heaps while the
// tile is in cache. Internal to src/kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "distclust/search.h"
#include "distclust/topk.h"
#include "kernels/rows.h"
#include "kernels/score_mask.h"

namespace distclust {
namespace search_detail {

constexpr int kLanes = 16;  // base tiles are at least this wide
constexpr float kNever = -std::numeric_limits<float>::infinity();

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/// Best column of g[j] + bias[j], j < n (ties to the lower j), or -1 when all
/// are -inf. Two passes: the maximum of each block of 64 (a vectorised max),
/// then the first column holding the row's maximum, looked for from its
/// block on: 5x faster than carrying an index per lane (0.14 against 0.68
/// ns per score here). Earlier blocks hold only smaller values, so the
/// column found is the lowest one with the maximum.
inline int64_t argmax_row(const float* g, const float* bias, int64_t n, float& best) {
  constexpr int64_t kBlock = 64;
  float m = kNever;
  int64_t at = -1;
  int64_t j0 = 0;
  for (; j0 + kBlock <= n; j0 += kBlock) {
    float bm = kNever;
#pragma omp simd reduction(max : bm)
    for (int64_t l = 0; l < kBlock; ++l) bm = std::max(bm, g[j0 + l] + bias[j0 + l]);
    if (bm > m) m = bm, at = j0;
  }
  for (int64_t j = j0; j < n; ++j)
    if (g[j] + bias[j] > m) m = g[j] + bias[j], at = j;
  best = m;
  if (at < 0) return -1;
  for (int64_t j = at; j < n; ++j)
    if (g[j] + bias[j] == m) return j;
  return -1;
}

/// The best two columns of g[j] + bias[j], j < n: j1 and j2 with values v1
/// >= v2 (ties to the lower j; -1 and -inf where there are fewer than two
/// finite ones). argmax_row's passes: the maximum of each block of 64,
/// keeping the best block and the best of the others; the best block's
/// first maximum, and the best of its other columns by a masked max; then
/// the column of the second, from whichever block holds it (1.6x argmax_row's
/// time at n = 200 here, where a scalar pass over the best block took 2.6x).
inline void argmax2_row(const float* g, const float* bias, int64_t n, int64_t& j1, float& v1, int64_t& j2, float& v2) {
  constexpr int64_t kBlock = 64;
  float m1 = kNever, m2 = kNever;
  int64_t b1 = -1, b2 = -1;
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t len = std::min(kBlock, n - j0);
    float bm = kNever;
#pragma omp simd reduction(max : bm)
    for (int64_t l = 0; l < len; ++l) bm = std::max(bm, g[j0 + l] + bias[j0 + l]);
    if (bm > m1) {
      m2 = m1, b2 = b1, m1 = bm, b1 = j0;
    } else if (bm > m2) {
      m2 = bm, b2 = j0;
    }
  }
  j1 = j2 = -1, v1 = v2 = kNever;
  if (b1 < 0) return;
  const int64_t e1 = std::min(b1 + kBlock, n);
  for (j1 = b1; g[j1] + bias[j1] != m1;) ++j1;  // the block holds m1
  v1 = m1;
  float sb = kNever;  // the best of the block's other columns: below m1, or m1 again
  int ties = 0;
#pragma omp simd reduction(max : sb) reduction(+ : ties)
  for (int64_t l = b1; l < e1; ++l) {
    const float v = g[l] + bias[l];
    sb = std::max(sb, v < m1 ? v : kNever);
    ties += v == m1;
  }
  if (ties > 1) sb = m1;
  // Equal values: the lower column (b1 is the first block to reach m1).
  int64_t from = -1;
  float want = kNever;
  if (m2 > sb || (m2 == sb && m2 != kNever && b2 < b1)) {
    from = b2, want = m2;
  } else if (sb != kNever) {
    from = b1, want = sb;
  }
  if (from < 0) return;
  for (int64_t l = from; l < std::min(from + kBlock, n); ++l)
    if (l != j1 && g[l] + bias[l] == want) {
      j2 = l, v2 = want;
      return;
    }
}

/// Offers scores g[j] + bias[j] of base ids id(j) to query q of top. Each
/// block of 64 (and the partial last one) is one vectorised compare with the query's current threshold
/// (score_mask.h); only the candidates whose bit is set are offered, each
/// re-tested against the threshold as it rises. Once the heap is warm almost
/// no block has a bit set.
template <class Id>
inline void offer_row(const float* g, const float* bias, int64_t n, Id id, int64_t self, int64_t q, TopK& top) {
  constexpr int64_t kBlock = 64;
  float thr = top.threshold(q);
  auto offer = [&](int64_t j) {
    const float v = g[j] + bias[j];
    if (v >= thr && v != kNever) {
      const int64_t i = id(j);
      if (i == self) return;
      top.push(q, v, i);
      thr = top.threshold(q);
    }
  };
  int64_t j = 0;
  for (; j + kBlock <= n; j += kBlock)
    for (uint64_t m = ge_mask64(g + j, bias + j, thr); m;) offer(j + pop_lowest(m));
  if (j < n)
    for (uint64_t m = ge_mask64_tail(g + j, bias + j, thr, n - j); m;) offer(j + pop_lowest(m));
}

/// Per base row: -|b|^2 (l2) or 0, and -inf for rows never to return.
inline std::vector<float> base_bias(const SearchBase& b, int64_t d, bool l2) {
  std::vector<float> bias(static_cast<size_t>(b.n), 0.f);
  if (l2) {
    if (b.norms)
      std::copy(b.norms, b.norms + b.n, bias.begin());
    else
      row_norms(b.x, b.n, d, bias.data());
    for (auto& v : bias) v = -v;
  }
  if (b.valid)
    for (int64_t j = 0; j < b.n; ++j)
      if (!b.valid[j]) bias[j] = kNever;
  return bias;
}

/// The joins on the CPU (search_join_cpu.cpp): SearchKernel::search_self
/// and search_pair.
void cpu_search_self(const SearchTiling& t, const SearchQueries& q, const uint8_t* valid, Metric m, TopK& top,
                     const std::function<void(int64_t)>& on_rows);
void cpu_search_pair(const SearchTiling& t, const SearchQueries& qa, const uint8_t* valid_a, const SearchQueries& qb,
                     const uint8_t* valid_b, Metric m, TopK& top_a, TopK& top_b,
                     const std::function<void(int64_t)>& on_rows);

}  // namespace search_detail
}  // namespace distclust
