// Per-query running top-k: a min-heap whose root is the worst kept candidate
// (lowest score; among equal scores the highest row index), so that ties are
// broken towards the lower row index. Storage for many queries in two flat
// arrays: [queries x cap] scores and indices.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace distclust {

class TopK {
 public:
  TopK(int64_t queries, int cap)
      : cap_(cap), val_(static_cast<size_t>(queries * cap), -std::numeric_limits<float>::infinity()),
        idx_(static_cast<size_t>(queries * cap), std::numeric_limits<int64_t>::max()) {}

  int cap() const { return cap_; }
  /// Score a candidate must reach to enter query q's list.
  float threshold(int64_t q) const { return val_[q * cap_]; }

  /// Offers (score v, row j) to query q; keeps it if better than the worst.
  void push(int64_t q, float v, int64_t j) {
    float* val = &val_[q * cap_];
    int64_t* idx = &idx_[q * cap_];
    if (!better(v, j, val[0], idx[0])) return;
    // Replace the root and sift down (children of i: 2i+1, 2i+2).
    int i = 0;
    for (;;) {
      int l = 2 * i + 1, r = l + 1, w = i;
      float wv = v;
      int64_t wj = j;
      if (l < cap_ && better(wv, wj, val[l], idx[l])) w = l, wv = val[l], wj = idx[l];
      if (r < cap_ && better(wv, wj, val[r], idx[r])) w = r;
      if (w == i) break;
      val[i] = val[w];
      idx[i] = idx[w];
      i = w;
    }
    val[i] = v;
    idx[i] = j;
  }

  /// Query q's candidates (unordered); unfilled slots have index INT64_MAX.
  const int64_t* indices(int64_t q) const { return &idx_[q * cap_]; }
  const float* scores(int64_t q) const { return &val_[q * cap_]; }
  float* scores_mut(int64_t q) { return &val_[q * cap_]; }
  int64_t* indices_mut(int64_t q) { return &idx_[q * cap_]; }
  std::vector<float>& raw_scores() { return val_; }
  std::vector<int64_t>& raw_indices() { return idx_; }

  /// a ranks before b: higher score, or equal score and lower index.
  static bool better(float av, int64_t aj, float bv, int64_t bj) { return av > bv || (av == bv && aj < bj); }

 private:
  int cap_;
  std::vector<float> val_;
  std::vector<int64_t> idx_;
};

}  // namespace distclust
