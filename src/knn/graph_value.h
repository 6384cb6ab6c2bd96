// The value a kNN graph stores for one edge (knn.h5 /values).
#pragma once

#include <algorithm>

namespace distclust {

/// The stored value of an edge from its score (higher is better):
/// cosine: the similarity, clamped to [-1, 1], because unit rows rounded to
/// float can give <q,q> = 1.0000001 and a similarity above 1 is no
/// similarity; l2: the squared distance -score, at least +0 (never -0.0,
/// which `-score` gives for identical rows).
inline float graph_value(double score, bool l2) {
  if (l2) return float(std::max(0.0, 0.0 - score));
  return float(std::clamp(score, -1.0, 1.0));
}

}  // namespace distclust
