// The exact-sum grids of one k-means step (kernels/exact_sum.h). Sum (c, j)
// (centroid c, column j) takes terms x_ij of the rows assigned to c, so
// |x_ij| <= min(M_j, m_c): M_j the column's largest |value| over all rows
// (a-priori, once per run), m_c the largest |value| of c's rows (each
// step's, from every row's largest |value|, kept). Its grid comes from that
// bound: shift(min(M_j, m_c)) = max(col_shift_j, cluster_shift_c), so a
// step needs k + 1 maxima (and the inertia's grid the step's largest
// distance), and the hot loop one scale per column, in L1, and one per row.
// Why: with one grid for all sums, one far-out value (1e17 among rows of
// spread 1) set the step to N x 1e17 x 2^-62 ~ 100, every other value
// rounded to 0 and the centroids collapsed onto the origin; the inertia's
// a-priori bound (4.1 max|x|^2 = 4e34) did the same to it, SplitGrid's
// second limb notwithstanding. Now a far value coarsens only the sums of
// its own column in its own cluster (as float64 sums lose the small terms
// there too); a column in other units only its own. A grid per (c, j) from
// per-(c, j) maxima was tried first: its [k x d] scales doubled the
// accumulation's memory traffic (+25-30% a step at 3072-D, k = 10..100).
// The maxima are maxed over ranks before the grids are made, so the grids,
// and the sums, are the same for any rank and thread count. Used by the CPU
// step (kmeans.cpp) and the device step (lloyd_torch.cpp): header-only, as
// the plugin does not link distclust_core.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/exact_sum.h"

namespace distclust {

/// The grids of one step, the same on every rank: col_max [d] (each
/// column's largest |x_ij| over all valid rows), maxima [k + 1] (each
/// centroid's largest |x_ij| over its valid rows this step, 0: none; then
/// the step's largest distance), n_valid (valid rows on all ranks: the most
/// terms a sum can have, so a sum's bound is n_valid x its term bound).
struct LloydGrids {
  int64_t k = 0, d = 0;
  std::vector<double> col_scale;      ///< [d]: 2^shift of column j's bound
  std::vector<double> cluster_scale;  ///< [k]: 2^shift of centroid c's bound
  SplitGrid dist;                     ///< the inertia (two limbs)
  LloydGrids() = default;
  LloydGrids(const float* col_max, const float* maxima, int64_t k_, int64_t d_, int64_t n_valid)
      : k(k_), d(d_), col_scale(static_cast<size_t>(d_)), cluster_scale(static_cast<size_t>(k_)) {
    const double n = double(std::max<int64_t>(n_valid, 1));
    for (int64_t j = 0; j < d; ++j) col_scale[size_t(j)] = scale_for(col_max[j], n);
    for (int64_t c = 0; c < k; ++c) cluster_scale[size_t(c)] = scale_for(maxima[c], n);
    dist = SplitGrid(maxima[k], n * double(maxima[k]), n);
  }
  /// Sum (c, j)'s scale: the finer of the two bounds' grids.
  double scale(int64_t c, int64_t j) const { return std::max(col_scale[size_t(j)], cluster_scale[size_t(c)]); }
  /// acc [d] += row x [d] on centroid c's grids.
  void add(int64_t* acc, int64_t c, const float* x) const {
    const double sc = cluster_scale[size_t(c)];
    const double* s = col_scale.data();
    for (int64_t j = 0; j < d; ++j) acc[j] += FixedGrid::round_scaled(double(x[j]) * std::max(s[j], sc));
  }
  /// Sum (c, j) in grid units -> its value (a power-of-two scale: exact).
  double to_double(int64_t q, int64_t c, int64_t j) const { return double(q) / scale(c, j); }
  /// 2^FixedGrid::shift_for(t, n t): k + d of them a step.
  static double scale_for(float bound, double n) {
    return std::ldexp(1.0, FixedGrid::shift_for(double(bound), n * double(bound)));
  }
};

/// Each row's largest |x_ij|: x [n x d] -> out [n].
inline void row_abs_max(const float* x, int64_t n, int64_t d, float* out) {
#pragma omp parallel for schedule(static) if (n > 4096)
  for (int64_t i = 0; i < n; ++i) {
    float m = 0;
    for (int64_t j = 0; j < d; ++j) m = std::max(m, std::fabs(x[i * d + j]));
    out[i] = m;
  }
}

/// This rank's step maxima [k + 1] (LloydGrids) before the allreduce_max:
/// row_max [n] (row_abs_max), labels lab [n] (-1: left out), distances
/// dist [n]. O(n): the rows themselves are not read again.
inline void lloyd_maxima(const float* row_max, const int64_t* lab, const float* dist, int64_t n, int64_t k,
                         float* maxima) {
  std::fill(maxima, maxima + k + 1, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    if (lab[i] < 0) continue;
    maxima[lab[i]] = std::max(maxima[lab[i]], row_max[i]);
    maxima[k] = std::max(maxima[k], dist[i]);
  }
}

}  // namespace distclust
