// CPU search kernel: per thread, a tile of queries times a tile of base rows
// by one single-threaded sgemm (kernels/blas.h), then, while the scores are
// in cache, the selection: a vectorised arg-max for k = 1, otherwise a
// 64-lane threshold mask (score_mask.h) so that most candidates cost one compare before the
// per-query heap (topk.h). Threads take whole query tiles and never
// synchronise inside a call.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "distclust/error.h"
#include "kernels/blas.h"
#include "kernels/rows.h"
#include "distclust/search.h"
#include "distclust/runtime.h"
#include "kernels/search_offer.h"

namespace distclust {
namespace {
using namespace search_detail;

class CpuSearch final : public SearchKernel {
 public:
  explicit CpuSearch(const SearchTiling& t) : t_(t) {}
  std::string name() const override { return "cpu-openblas"; }

  void search(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
              const std::function<void(int64_t)>& on_rows) override {
    require(q.d >= 1 && (q.n == 0 || q.x) && (b.n == 0 || b.x), "search: bad shapes (", q.n, " x ", q.d,
            " queries, ", b.n, " base rows)");
    if (q.n == 0 || b.n == 0) return;
    blas::single_thread();
    const int64_t d = q.d, T = std::max(1, t_.tile_rows), C = std::min<int64_t>(b.n, std::max(kLanes, t_.tile_cols));
    const bool l2 = m == Metric::l2;
    std::vector<float> bias = base_bias(b, d, l2);
    const float alpha = l2 ? 2.f : 1.f;
    // Query tiles: aligned to multiples of T in the global row numbering
    // (or from x[0] when not aligned).
    const int64_t origin = q.aligned ? q.first_row : 0;
    const int64_t t_first = floor_div(origin, T), t_last = floor_div(origin + q.n - 1, T);
    const int64_t tiles = t_last - t_first + 1;
    const int64_t tile_m = q.aligned ? T : std::min(T, q.n);
    const bool fast1 = top.cap() == 1 && !(b.exclude_self && b.ids);
    const bool fast2 = top.cap() == 2 && !(b.exclude_self && b.ids);  // k-means' near-tie check (kmeans/assign.h)
    std::atomic<int64_t> done{0};
#pragma omp parallel if (tiles > 1 && !omp_in_parallel())
    {
      std::vector<float> g(static_cast<size_t>(tile_m * C)), pad;
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t g0 = (t_first + t) * T;
        const int64_t lo = std::max(origin, g0) - origin, hi = std::min(origin + q.n, g0 + T) - origin;
        const int64_t off = origin + lo - g0;  // tile position of local query lo
        int64_t m = hi - lo;
        const float* a = q.x + lo * d;
        if (q.aligned && m < T) {  // partial tile: the same sgemm shape and positions as a whole one
          pad.assign(static_cast<size_t>(T * d), 0.f);
          std::copy(q.x + lo * d, q.x + hi * d, pad.begin() + off * d);
          a = pad.data();
          m = T;
        }
        for (int64_t c0 = 0; c0 < b.n; c0 += C) {
          const int64_t cn = std::min(C, b.n - c0);
          blas::sgemm(false, true, m, cn, d, alpha, a, d, b.x + c0 * d, d, 0.f, g.data(), cn);
          for (int64_t i = lo; i < hi; ++i) {
            float* gi = g.data() + (off + i - lo) * cn;
            const int64_t self = !b.exclude_self ? -1 : q.ids ? q.ids[i] : q.first_row + i;
            const int64_t row = q.top_rows ? q.top_rows[i] : i;
            if (fast1 || fast2) {
              offer_best(gi, bias.data() + c0, cn, b, c0, self, row, top);
            } else if (b.ids) {
              offer_row(gi, bias.data() + c0, cn, [&](int64_t j) { return b.ids[c0 + j]; }, self, row, top);
            } else {
              const int64_t id0 = b.first_id + c0;
              offer_row(gi, bias.data() + c0, cn, [id0](int64_t j) { return id0 + j; }, self, row, top);
            }
          }
        }
        const int64_t now = done += hi - lo;
        if (on_rows && omp_get_thread_num() == 0) on_rows(now);
      }
    }
  }

 private:
  /// k = 1 or 2: the best one or two columns of the tile row (vectorised),
  /// then one or two compares with the kept ones.
  static void offer_best(float* g, const float* bias, int64_t cn, const SearchBase& b, int64_t c0, int64_t self,
                         int64_t q, TopK& top) {
    const int64_t self_col = self - b.first_id - c0;
    float saved = 0;
    if (self >= 0 && self_col >= 0 && self_col < cn) saved = g[self_col], g[self_col] = kNever;
    float v[2] = {kNever, kNever};
    int64_t j[2] = {-1, -1};
    if (top.cap() == 1)
      j[0] = argmax_row(g, bias, cn, v[0]);
    else
      argmax2_row(g, bias, cn, j[0], v[0], j[1], v[1]);
    if (self >= 0 && self_col >= 0 && self_col < cn) g[self_col] = saved;
    for (int r = 0; r < 2 && j[r] >= 0; ++r) top.push(q, v[r], b.ids ? b.ids[c0 + j[r]] : b.first_id + c0 + j[r]);
  }

  bool joins_pairs_once() const override { return true; }
  void search_self(const SearchQueries& q, const uint8_t* valid, Metric m, TopK& top,
                   const std::function<void(int64_t)>& on_rows) override {
    cpu_search_self(t_, q, valid, m, top, on_rows);
  }
  void search_pair(const SearchQueries& a, const uint8_t* valid_a, const SearchQueries& b, const uint8_t* valid_b,
                   Metric m, TopK& top_a, TopK& top_b, const std::function<void(int64_t)>& on_rows) override {
    cpu_search_pair(t_, a, valid_a, b, valid_b, m, top_a, top_b, on_rows);
  }

  SearchTiling t_;
};

}  // namespace

std::unique_ptr<SearchKernel> make_cpu_search(const SearchTiling& t) { return std::make_unique<CpuSearch>(t); }

void sorted_results(const TopK& top, int64_t q, int64_t* ids, float* scores) {
  const int cap = top.cap();
  std::vector<int> order(static_cast<size_t>(cap));
  std::iota(order.begin(), order.end(), 0);
  const float* s = top.scores(q);
  const int64_t* ix = top.indices(q);
  std::sort(order.begin(), order.end(), [&](int a, int c) { return TopK::better(s[a], ix[a], s[c], ix[c]); });
  for (int j = 0; j < cap; ++j) ids[j] = ix[order[j]], scores[j] = s[order[j]];
}

double cpu_search_bytes(const SearchTiling& t, int64_t d, int64_t base_rows, bool joins) {
  const double T = std::max(1, t.tile_rows), C = double(std::min<int64_t>(base_rows, std::max(16, t.tile_cols)));
  // search_join_cpu.cpp: square tiles of tile_rows (at least 16) per thread.
  const double J = std::max(16, t.tile_rows);
  return double(compute_threads()) * 4.0 * std::max(T * (C + double(d)), joins ? J * (J + 1) : 0.0);
}

}  // namespace distclust
