// The exact-sum grids of one k-means step (kernels/exact_sum.h), sized by
// what that step's rows hold rather than by bounds over all rows: each
// centroid sum (c, j) by the largest |x_ij| among the rows assigned to c,
// the inertia by the largest distance of the step. Why: with one grid for
// all sums, one far-out value (1e17 among rows of spread 1) set the step to
// N x 1e17 x 2^-62 ~ 100, every other value rounded to 0 and the centroids
// collapsed onto the origin; the inertia's a-priori bound (4.1 max|x|^2 =
// 4e34) did the same to it, SplitGrid's second limb notwithstanding. Now a
// far value coarsens only the one sum it is a term of (where float64 sums
// lose the small terms too), and the inertia's grid follows the distances
// there are. The maxima are maxed over ranks before the grids are made, so
// the grids, and the sums, are the same for any rank and thread count. Used
// by the CPU step (kmeans.cpp) and the device step (lloyd_torch.cpp):
// header-only, as the plugin does not link distclust_core.
#pragma once

#include <algorithm>
#include <cmath>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/exact_sum.h"

namespace distclust {

/// The grids of one step from its maxima [k x d + 1], the same on every
/// rank: the largest |x_ij| over the valid rows of centroid c at c * d + j
/// (0: none), then the largest distance. n_valid: valid rows on all ranks
/// (the most terms a sum can have, so a sum's bound: n_valid x its term
/// bound).
struct LloydGrids {
  int64_t d = 0;
  std::vector<double> scale;  ///< [k x d]: sum (c, j)'s grid scale, 2^FixedGrid::shift_for
  SplitGrid dist;             ///< the inertia (two limbs)
  LloydGrids() = default;
  LloydGrids(const float* maxima, int64_t k, int64_t d_, int64_t n_valid) : d(d_), scale(static_cast<size_t>(k * d_)) {
    const double n = double(std::max<int64_t>(n_valid, 1));
    // FixedGrid::shift_for and ldexp through the exponent bits: frexp and
    // ldexp calls took 0.26 s a step at k x d = 1.7e7 (a device step's
    // budget is milliseconds). Float maxima and their products with n are
    // normal doubles, and the shifts stay well inside double's exponents.
#pragma omp parallel for schedule(static) if (k * d_ > 65536)
    for (int64_t i = 0; i < k * d; ++i) {
      const double t = maxima[i];
      const int shift = t > 0 ? std::min(51 - frexp_exponent(t), 62 - frexp_exponent(n * t)) : 50;
      scale[size_t(i)] = pow2(shift);
    }
    dist = SplitGrid(maxima[k * d], n * double(maxima[k * d]), n);
  }
  /// frexp's exponent of a positive normal double (v = m 2^e, m in [0.5, 1)).
  static int frexp_exponent(double v) {
    uint64_t b;
    std::memcpy(&b, &v, 8);
    return int((b >> 52) & 0x7ff) - 1022;
  }
  /// 2^e for e in [-1022, 1023].
  static double pow2(int e) {
    const uint64_t b = uint64_t(e + 1023) << 52;
    double v;
    std::memcpy(&v, &b, 8);
    return v;
  }
  /// acc [d] += row x [d] on centroid c's grids.
  void add(int64_t* acc, int64_t c, const float* x) const {
    const double* s = scale.data() + c * d;
    for (int64_t j = 0; j < d; ++j) acc[j] += FixedGrid::round_scaled(double(x[j]) * s[j]);
  }
  /// Sum at [c * d + j] in grid units -> its value (a power-of-two scale: exact).
  double to_double(int64_t q, int64_t at) const { return double(q) / scale[size_t(at)]; }
};

/// This rank's maxima [k x d + 1] (LloydGrids) before the allreduce_max:
/// rows x [n x d], labels lab [n] (-1: left out), distances dist [n]. Small
/// k x d: per-thread maxima over rows in order (a streaming pass). Large:
/// rows go to their centroid by a counting sort and each centroid's rows to
/// one thread, not a [k x d] copy per thread.
inline void lloyd_maxima(const float* x, int64_t n, int64_t d, const int64_t* lab, const float* dist, int64_t k,
                         float* maxima) {
  if (k * d * int64_t(omp_get_max_threads()) <= (int64_t(1) << 22)) {
    std::fill(maxima, maxima + k * d + 1, 0.0f);
#pragma omp parallel if (n > 4096)
    {
      std::vector<float> m(static_cast<size_t>(k * d + 1), 0.0f);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        if (lab[i] < 0) continue;
        float* mc = m.data() + lab[i] * d;
        const float* xi = x + i * d;
        for (int64_t j = 0; j < d; ++j) mc[j] = std::max(mc[j], std::fabs(xi[j]));
        m[size_t(k * d)] = std::max(m[size_t(k * d)], dist[i]);
      }
#pragma omp critical
      for (int64_t j = 0; j <= k * d; ++j) maxima[j] = std::max(maxima[j], m[size_t(j)]);
    }
    return;
  }
  std::vector<int64_t> start(static_cast<size_t>(k + 1), 0), order(static_cast<size_t>(n));
  float top = 0;
  for (int64_t i = 0; i < n; ++i)
    if (lab[i] >= 0) ++start[size_t(lab[i] + 1)], top = std::max(top, dist[i]);
  for (int64_t c = 0; c < k; ++c) start[size_t(c + 1)] += start[size_t(c)];
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (int64_t i = 0; i < n; ++i)
    if (lab[i] >= 0) order[size_t(next[size_t(lab[i])]++)] = i;
#pragma omp parallel for schedule(dynamic, 1) if (n > 4096)
  for (int64_t c = 0; c < k; ++c) {
    float* m = maxima + c * d;
    std::fill(m, m + d, 0.0f);
    for (int64_t r = start[size_t(c)]; r < start[size_t(c + 1)]; ++r) {
      const float* xi = x + order[size_t(r)] * d;
      for (int64_t j = 0; j < d; ++j) m[j] = std::max(m[j], std::fabs(xi[j]));
    }
  }
  maxima[k * d] = top;
}

}  // namespace distclust
