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
#include <cstdint>
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
    for (int64_t i = 0; i < k * d; ++i) scale[size_t(i)] = std::ldexp(1.0, FixedGrid::shift_for(maxima[i], n * maxima[i]));
    dist = SplitGrid(maxima[k * d], n * double(maxima[k * d]), n);
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
/// rows x [n x d], labels lab [n] (-1: left out), distances dist [n]. Rows
/// go to their centroid by a counting sort and each centroid's rows to one
/// thread: no per-thread [k x d] copies.
inline void lloyd_maxima(const float* x, int64_t n, int64_t d, const int64_t* lab, const float* dist, int64_t k,
                         float* maxima) {
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
