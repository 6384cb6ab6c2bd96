#include "kmeans/assign.h"

#include <algorithm>

#include "distclust/error.h"
#include "knn/graph_value.h"  // exact_score

namespace distclust {

void assign_nearest(SearchKernel& kernel, const FeatureBlock& b, const float* norms, const float* c, int64_t k,
                    bool spherical, int64_t* labels, float* dist) {
  const int64_t n = b.local_rows(), d = b.d;
  require(k >= 1 && d >= 1, "assign: k=", k, " d=", d);
  if (n == 0) return;  // a rank without rows (fewer rows than ranks): its norms are an empty vector's null data()
  require(spherical || norms != nullptr, "assign: L2 mode needs row norms");
  TopK top(n, 1);
  SearchQueries q{b.x.data(), n, d, b.rows.begin, nullptr};
  SearchBase base{c, k, 0, nullptr, nullptr, nullptr, false};
  kernel.search(q, base, spherical ? Metric::inner_product : Metric::l2, top);
  // A valid row with no nearest centroid (its scores NaN: NaN or Inf in the
  // row or the centroids) would index the sums with an empty slot's id.
  int64_t unassigned = INT64_MAX;
#pragma omp parallel for schedule(static) reduction(min : unassigned) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    if (!b.valid[i]) {
      labels[i] = -1;
      dist[i] = 0.f;
      continue;
    }
    const float s = top.scores(i)[0];
    // L2: |x|^2 - (2<x,c> - |c|^2); spherical: 2 - 2<x,c> for unit rows.
    // Rounding can dip below zero for x == c.
    labels[i] = top.indices(i)[0];
    dist[i] = std::max(spherical ? 2.0f - 2.0f * s : norms[i] - s, 0.0f);
    if (labels[i] < 0 || labels[i] >= k) {
      unassigned = std::min(unassigned, b.rows.begin + i);
      labels[i] = -1, dist[i] = 0.f;
    }
  }
  require(unassigned == INT64_MAX, "assign: row ", unassigned,
          " has no nearest centroid: its scores are NaN (NaN or Inf in the row or the centroids)");
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
