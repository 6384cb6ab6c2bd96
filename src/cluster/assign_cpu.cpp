// CPU assignment kernel. Per thread: a tile of rows is multiplied against a
// tile of centroids by single-threaded sgemm (alpha = -2), and while the
// product is still in cache, ||c||^2 is added and the running argmin updated.
// Threads never synchronise inside a call; the only shared write is each
// thread's own output rows.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "distclust/assign.h"
#include "distclust/error.h"

namespace distclust {
namespace {

constexpr int kLanes = 16;

/// Argmin over j in [0, k) of g[j] + cn[j], starting from (best, best_j);
/// lanes keep their own minimum so the compiler vectorises; ties -> lowest j.
inline void argmin_row(const float* g, const float* cn, int64_t k, int64_t j0, float& best,
                       int64_t& best_j) {
  float bv[kLanes];
  int32_t bi[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    bv[l] = std::numeric_limits<float>::infinity();
    bi[l] = 0;
  }
  int64_t j = 0;
  for (; j + kLanes <= k; j += kLanes) {
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) {
      float v = g[j + l] + cn[j + l];
      bool lt = v < bv[l];
      bv[l] = lt ? v : bv[l];
      bi[l] = lt ? static_cast<int32_t>(j + l) : bi[l];
    }
  }
  for (; j < k; ++j) {
    float v = g[j] + cn[j];
    if (v < bv[0] || (v == bv[0] && j < bi[0])) {
      bv[0] = v;
      bi[0] = static_cast<int32_t>(j);
    }
  }
  for (int l = 0; l < kLanes; ++l) {
    if (bv[l] == std::numeric_limits<float>::infinity()) continue;
    int64_t cand = j0 + bi[l];
    if (bv[l] < best || (bv[l] == best && cand < best_j)) {
      best = bv[l];
      best_j = cand;
    }
  }
}

class CpuAssigner final : public Assigner {
 public:
  explicit CpuAssigner(const AssignTiling& t) : tiling_(t) {}
  std::string name() const override { return "cpu-openblas"; }

  double assign(const float* x, const float* x_norms, const uint8_t* valid, int64_t n, int64_t d,
                const float* c, int64_t k, bool ip, int64_t* labels, float* dist) override {
    require(k >= 1 && d >= 1, "assign: k=", k, " d=", d);
    require(ip || x_norms != nullptr, "assign: L2 mode needs row norms");
    // Per-centroid term: ||c||^2 for L2; 0 for inner product (argmin of -2<x,c>).
    std::vector<float> cn(k, 0.0f);
    if (!ip) row_norms(c, k, d, cn.data());
    const int64_t tr = std::max(1, tiling_.tile_rows);
    const int64_t tk = std::min<int64_t>(k, std::max(kLanes, tiling_.tile_k));
    const int64_t tiles = (n + tr - 1) / tr;
    double total = 0;
#pragma omp parallel reduction(+ : total)
    {
      std::vector<float> g(static_cast<size_t>(tr * tk));
      std::vector<float> best(tr);
      std::vector<int64_t> best_j(tr);
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * tr, rn = std::min(tr, n - r0);
        std::fill(best.begin(), best.begin() + rn, std::numeric_limits<float>::infinity());
        std::fill(best_j.begin(), best_j.begin() + rn, int64_t(0));
        for (int64_t k0 = 0; k0 < k; k0 += tk) {
          const int64_t kn = std::min(tk, k - k0);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rn), static_cast<int>(kn),
                      static_cast<int>(d), -2.0f, x + r0 * d, static_cast<int>(d), c + k0 * d,
                      static_cast<int>(d), 0.0f, g.data(), static_cast<int>(kn));
          for (int64_t i = 0; i < rn; ++i) argmin_row(g.data() + i * kn, cn.data() + k0, kn, k0, best[i], best_j[i]);
        }
        for (int64_t i = 0; i < rn; ++i) {
          const int64_t row = r0 + i;
          if (valid && !valid[row]) {
            labels[row] = -1;
            dist[row] = 0.0f;
            continue;
          }
          // L2: ||x||^2 + min(||c||^2 - 2<x,c>); IP: 2 + min(-2<x,c>) for unit rows.
          float dv = (ip ? 2.0f : x_norms[row]) + best[i];
          dv = std::max(dv, 0.0f);  // rounding can dip below zero for x == c
          labels[row] = best_j[i];
          dist[row] = dv;
          total += dv;
        }
      }
    }
    return total;
  }

 private:
  AssignTiling tiling_;
};

}  // namespace

void row_norms(const float* x, int64_t n, int64_t d, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x + i * d;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; ++j) s += r[j] * r[j];
    out[i] = s;
  }
}

std::unique_ptr<Assigner> make_cpu_assigner(const AssignTiling& tiling) {
  return std::make_unique<CpuAssigner>(tiling);
}

}  // namespace distclust
