// The score of a kNN edge in double and the value knn.h5 stores for it.
// Both modes rescore their picks this way: exact from its second ring pass,
// IVF where the candidate's list lives.
#pragma once

#include <algorithm>
#include <cstdint>

namespace distclust {

/// Exact score in double: cosine <q,b>; l2 -||q-b||^2 (higher is better).
/// Eight partial sums over the dimensions t mod 8, added pairwise at the
/// end: one running sum waited on each FMA's latency (4 cycles a
/// dimension), and IVF's rescoring of 24 candidates per query took 27% of
/// its search rounds. The order is fixed here, so every rank, mode and rank
/// count gets the same value.
inline double exact_score(const float* q, const float* b, int64_t d, bool l2) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t t = 0;
  if (l2) {
    for (; t + 8 <= d; t += 8)
      for (int j = 0; j < 8; ++j) {
        const double u = double(q[t + j]) - double(b[t + j]);
        acc[j] -= u * u;
      }
    for (; t < d; ++t) {
      const double u = double(q[t]) - double(b[t]);
      acc[t & 7] -= u * u;
    }
  } else {
    for (; t + 8 <= d; t += 8)
      for (int j = 0; j < 8; ++j) acc[j] += double(q[t + j]) * double(b[t + j]);
    for (; t < d; ++t) acc[t & 7] += double(q[t]) * double(b[t]);
  }
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
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
