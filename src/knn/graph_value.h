// The score of a kNN edge in double and the value knn.h5 stores for it.
// Both modes rescore their picks this way: exact from its second ring pass,
// IVF where the candidate's list lives.
#pragma once

#include <algorithm>
#include <cstdint>

namespace distclust {

/// Exact score in double: cosine <q,b>; l2 -||q-b||^2 (higher is better).
inline double exact_score(const float* q, const float* b, int64_t d, bool l2) {
  double s = 0;
  if (l2) {
    for (int64_t t = 0; t < d; ++t) {
      double u = double(q[t]) - double(b[t]);
      s -= u * u;
    }
  } else {
    for (int64_t t = 0; t < d; ++t) s += double(q[t]) * double(b[t]);
  }
  return s;
}

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
