#include "kmeans/assign.h"

#include <algorithm>
#include <cmath>

#include "distclust/error.h"
#include "distclust/log.h"
#include "kernels/rows.h"
#include "kernels/score_rounding.h"
#include "knn/graph_value.h"  // exact_score

namespace distclust {

namespace {

/// What assign_nearest knows of the centroids to bound their scores' rounding.
struct CentroidNorms {
  std::vector<double> norm;  ///< |c_j| [k], from exact sums
  double max = 0;            ///< the largest
  CentroidNorms(const float* c, int64_t k, int64_t d) : norm(static_cast<size_t>(k)) {
    for (int64_t j = 0; j < k; ++j) max = std::max(max, norm[size_t(j)] = std::sqrt(exact_score(c + j * d, c + j * d, d, false)));
  }
};

/// Row i, whose best two float scores could not tell its nearest centroid,
/// measured by diff_row against every centroid whose norm lies within its
/// window (l2_norm_window): the nearest taken, ties to the lower index.
void redecide(const FeatureBlock& b, const float* norms, const float* c, int64_t k, const CentroidNorms& cn, int64_t i,
              int64_t* labels, float* dist) {
  const int64_t d = b.d;
  const float* x = b.x.data() + i * d;
  dist[i] = diff_row(x, c + labels[i] * d, d);  // (already, where the float form's rounding mattered)
  const double r = std::sqrt(std::max(double(norms[i]), 0.0)), w = l2_norm_window(r, dist[i], d);
  for (int64_t j = 0; j < k; ++j) {
    if (j == labels[i] || std::fabs(cn.norm[size_t(j)] - r) > w) continue;
    const float e = diff_row(x, c + j * d, d);
    if (e < dist[i] || (e == dist[i] && j < labels[i])) dist[i] = e, labels[i] = j;
  }
}

}  // namespace

int64_t assign_nearest(SearchKernel& kernel, const FeatureBlock& b, const float* norms, const float* c, int64_t k,
                       bool spherical, int64_t* labels, float* dist) {
  const int64_t n = b.local_rows(), d = b.d;
  require(k >= 1 && d >= 1, "assign: k=", k, " d=", d);
  if (n == 0) return 0;  // a rank without rows (fewer rows than ranks): its norms are an empty vector's null data()
  require(spherical || norms != nullptr, "assign: L2 mode needs row norms");
  // L2: the best two, to see which rows' float scores cannot tell their
  // nearest centroid (the CPU kernel's k = 2 is a vectorised pass, as k = 1).
  const bool two = !spherical && k >= 2;
  TopK top(n, two ? 2 : 1);
  SearchQueries q{b.x.data(), n, d, b.rows.begin, nullptr};
  SearchBase base{c, k, 0, nullptr, nullptr, nullptr, false};
  kernel.search(q, base, spherical ? Metric::inner_product : Metric::l2, top);
  const CentroidNorms cn(c, spherical ? 0 : k, d);
  // A valid row with no nearest centroid (its scores NaN: NaN or Inf in the
  // row or the centroids) would index the sums with an empty slot's id.
  int64_t unassigned = INT64_MAX, redecided = 0;
#pragma omp parallel for schedule(dynamic, 1024) reduction(min : unassigned) reduction(+ : redecided) if (n > 65536)
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
    // |x|^2 - score, unless its rounding (the score's and |x|^2's) may be
    // over kFloatDistanceShare = 2^-8 of it (worst case; ~sqrt(d) times less in practice): then
    // from the differences (within ~d u of itself). Unit rows 0.3 from their
    // centroids at d = 128 are within 2^-11 (the per-row diff_row cost 4%).
    // The float form was ~100 off for rows near 1e4 in every column whose
    // distances are ~0.1, and so was the inertia that --tol compares.
    const double r = std::sqrt(std::max(double(norms[i]), 0.0));
    const float approx = std::max(norms[i] - s[first], 0.0f);
    dist[i] = l2_float_distance_unsure(r, cn.norm[size_t(labels[i])], approx, d)
                  ? diff_row(b.x.data() + i * d, c + labels[i] * d, d)
                  : approx;
    if (!two || ix[1 - first] < 0) continue;
    // The scores' rounding grows with |x| |c|, the distances need not: two
    // groups near 1e4 in every column, 0.05 wide and 3 apart, had their
    // rows split between the groups' centroids at random.
    if (l2_choice_unsure(s[first], s[1 - first], cn.norm[size_t(labels[i])], cn.max, r, dist[i], d)) {
      redecide(b, norms, c, k, cn, i, labels, dist);
      ++redecided;
    }
  }
  require(unassigned == INT64_MAX, "assign: row ", unassigned,
          " has no nearest centroid: its scores are NaN (NaN or Inf in the row or the centroids)");
  if (redecided)
    log::debug("assign: ", redecided, " rows' best two float scores lay within their rounding: decided again by differences");
  return redecided;
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
