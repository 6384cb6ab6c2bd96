#include "kmeans/assign.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "distclust/error.h"
#include "distclust/log.h"
#include "kernels/rows.h"
#include "knn/graph_value.h"  // exact_score

namespace distclust {

double l2_score_margin(double row_norm2, double centroid_norm2_max, int64_t d) {
  // Each score 2<x,c> - |c|^2 is two sums of d float products and one add:
  // within gamma_{d+2} (2|x||c| + |c|^2), gamma_n = n u / (1 - n u), for
  // any summation order (BLAS blocking, FMA, LibTorch). Two scores: twice.
  const double nu = double(d + 2) * 0x1p-24, gamma = nu / (1.0 - nu);
  const double cmax = std::sqrt(std::max(centroid_norm2_max, 0.0));
  return 2.0 * gamma * (2.0 * std::sqrt(std::max(row_norm2, 0.0)) * cmax + centroid_norm2_max);
}

namespace {

/// fn(r, dd) for each r < rows.size(), dd [k] = diff_rows of x's row
/// rows[r] and every row of c [k x d]: 256 rows at a time (k floats each).
template <class Fn>
void each_row_differences(const float* x, int64_t d, const std::vector<int64_t>& rows, const float* c, int64_t k,
                          Fn fn) {
  constexpr int64_t kChunk = 256;
  const int64_t nr = int64_t(rows.size());
#pragma omp parallel if (nr > 1)
  {
    std::vector<float> dd;
#pragma omp for schedule(dynamic, 1)
    for (int64_t r0 = 0; r0 < nr; r0 += kChunk) {
      const int64_t m = std::min(kChunk, nr - r0);
      dd.resize(size_t(m * k));
      diff_rows(x, d, rows.data() + r0, m, c, k, dd.data());
      for (int64_t r = 0; r < m; ++r) fn(r0 + r, dd.data() + r * k);
    }
  }
}

/// The rows `near` (their best two float scores within l2_score_margin of
/// each other) decided again from the differences: the kernel's best
/// kCandidates for them, every one whose score is within the margin of
/// the best measured by diff_row (all k by diff_rows when the candidates
/// run out inside the margin), the nearest taken, ties to the lower index.
/// A centroid nearer than the kernel's best is within the margin of it,
/// so it is among those measured. dist: diff_row's |x - c|^2.
void redecide_near_ties(SearchKernel& kernel, const FeatureBlock& b, const float* norms, const float* c, int64_t k,
                        double cmax2, const std::vector<int64_t>& near, int64_t* labels, float* dist) {
  constexpr int64_t kCandidates = 16;
  const int64_t d = b.d, m = int64_t(near.size()), cap = std::min(k, kCandidates);
  std::vector<float> xs(size_t(m * d));
  for (int64_t r = 0; r < m; ++r) std::copy_n(b.x.data() + near[size_t(r)] * d, d, xs.data() + r * d);
  TopK top(m, int(cap));
  SearchQueries q{xs.data(), m, d, 0, nullptr};
  q.aligned = false;  // gathered rows: the decision below does not rest on these scores' last bits
  kernel.search(q, SearchBase{c, k, 0, nullptr, nullptr, nullptr, false}, Metric::l2, top);
  std::vector<int64_t> all;  // rows whose candidates all lie within the margin
  std::vector<int64_t> ids(static_cast<size_t>(cap));
  std::vector<float> sc(static_cast<size_t>(cap));
  for (int64_t r = 0; r < m; ++r) {
    const int64_t i = near[size_t(r)];
    sorted_results(top, r, ids.data(), sc.data());
    const double floor = double(sc[0]) - l2_score_margin(norms[i], cmax2, d);
    if (cap < k && double(sc[size_t(cap - 1)]) >= floor) {
      all.push_back(i);
      continue;
    }
    for (int64_t j = 0; j < cap && ids[size_t(j)] >= 0 && double(sc[size_t(j)]) >= floor; ++j) {
      const float e = diff_row(b.x.data() + i * d, c + ids[size_t(j)] * d, d);
      if (e < dist[i] || (e == dist[i] && ids[size_t(j)] < labels[i])) dist[i] = e, labels[i] = ids[size_t(j)];
    }
  }
  each_row_differences(b.x.data(), d, all, c, k, [&](int64_t r, const float* dd) {
    const int64_t at = std::min_element(dd, dd + k) - dd;  // the first of equal minima
    labels[all[size_t(r)]] = at, dist[all[size_t(r)]] = dd[at];
  });
  log::debug("assign: ", m, " rows' best two scores lay within their rounding: decided again by differences (", all.size(),
             " against all ", k, " centroids)");
}

}  // namespace

void assign_nearest(SearchKernel& kernel, const FeatureBlock& b, const float* norms, const float* c, int64_t k,
                    bool spherical, int64_t* labels, float* dist) {
  const int64_t n = b.local_rows(), d = b.d;
  require(k >= 1 && d >= 1, "assign: k=", k, " d=", d);
  if (n == 0) return;  // a rank without rows (fewer rows than ranks): its norms are an empty vector's null data()
  require(spherical || norms != nullptr, "assign: L2 mode needs row norms");
  // L2: the best two, to see which rows' float scores cannot tell their
  // nearest centroid (the CPU kernel's k = 2 costs what k = 1 does).
  const bool two = !spherical && k >= 2;
  TopK top(n, two ? 2 : 1);
  SearchQueries q{b.x.data(), n, d, b.rows.begin, nullptr};
  SearchBase base{c, k, 0, nullptr, nullptr, nullptr, false};
  kernel.search(q, base, spherical ? Metric::inner_product : Metric::l2, top);
  double cmax2 = 0;
  for (int64_t j = 0; two && j < k; ++j) cmax2 = std::max(cmax2, exact_score(c + j * d, c + j * d, d, false));
  // A valid row with no nearest centroid (its scores NaN: NaN or Inf in the
  // row or the centroids) would index the sums with an empty slot's id.
  int64_t unassigned = INT64_MAX;
  std::vector<uint8_t> is_near(two ? size_t(n) : 0, 0);
#pragma omp parallel for schedule(static) reduction(min : unassigned) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = -1, dist[i] = 0.f;
    if (!b.valid[i]) continue;
    const float* s = top.scores(i);
    const int64_t* ix = top.indices(i);
    const int first = two && TopK::better(s[1], ix[1], s[0], ix[0]) ? 1 : 0;
    if (ix[first] < 0 || ix[first] >= k) {
      unassigned = std::min(unassigned, b.rows.begin + i);
      continue;
    }
    labels[i] = ix[first];
    if (spherical) {
      dist[i] = std::max(2.0f - 2.0f * s[first], 0.0f);  // unit rows; rounding can dip below zero for x == c
      continue;
    }
    // The distance from the differences (within ~d u of itself): |x|^2 -
    // score was ~100 off for rows near 1e4 in every column, and so was the
    // inertia that --tol compares.
    dist[i] = diff_row(b.x.data() + i * d, c + labels[i] * d, d);
    // The scores' rounding grows with |x| |c|, the distances need not:
    // two groups near 1e4 in every column, 0.05 wide and 3 apart, had
    // their rows split between the groups' centroids at random. Decided
    // again: rows whose best two lie within the rounding, where that is
    // over kMarginShare (1/16) of the row's distance (below it, the other centroid would
    // be nearer by under 1/8 of the distance at the very worst, ~sqrt(d)
    // times less in practice: the float ties any float32 k-means makes;
    // re-deciding those too cost 1.8x on tight clusters split by k = 10x
    // their number, where most rows are such ties).
    if (two && ix[1 - first] >= 0) {
      const double margin = l2_score_margin(norms[i], cmax2, d);
      if (double(s[first]) - double(s[1 - first]) <= margin && margin > kMarginShare * double(dist[i]))
        is_near[size_t(i)] = 1;
    }
  }
  require(unassigned == INT64_MAX, "assign: row ", unassigned,
          " has no nearest centroid: its scores are NaN (NaN or Inf in the row or the centroids)");
  std::vector<int64_t> near;
  for (int64_t i = 0; two && i < n; ++i)
    if (is_near[size_t(i)]) near.push_back(i);
  if (!near.empty()) redecide_near_ties(kernel, b, norms, c, k, cmax2, near, labels, dist);
}

void own_centroid_distances(const FeatureBlock& b, const std::vector<float>& c, const std::vector<int64_t>& lab,
                            bool spherical, std::vector<float>& dist) {
  const int64_t d = b.d, n = b.local_rows();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    if (lab[i] < 0) {
      dist[i] = 0;
      continue;
    }
    const double s = exact_score(b.x.data() + i * d, c.data() + lab[i] * d, d, !spherical);
    dist[i] = float(spherical ? std::max(0.0, 2.0 - 2.0 * s) : -s);
  }
}

}  // namespace distclust
