// Per-query running top-k: a min-heap whose root is the worst kept candidate
// (lowest score; among equal scores the highest row index), so that ties are
// broken towards the lower row index. Storage for many queries in two flat
// arrays: [queries x cap] scores and indices. Lists of at most kSortedCap
// are kept sorted, worst first, which is a min-heap too: an insertion moves
// ~cap/2 entries behind one hard-to-predict branch, where the sift-down
// mispredicts on each level (IVF scan 1.04 -> 0.85 s at N=200k:
// bench/RESULTS.md, "Sorted top-k lists").
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

  /// Lists up to this long are kept sorted (see above).
  static constexpr int kSortedCap = 64;

  int cap() const { return cap_; }
  /// Score a candidate must reach to enter query q's list.
  float threshold(int64_t q) const { return val_[q * cap_]; }

  /// Offers (score v, row j) to query q; keeps it if better than the worst.
  void push(int64_t q, float v, int64_t j) {
    float* val = &val_[q * cap_];
    int64_t* idx = &idx_[q * cap_];
    if (!better(v, j, val[0], idx[0])) return;
    if (cap_ <= kSortedCap) {  // drop the worst, move the better ones down, insert
      int i = 0;
      for (; i + 1 < cap_ && better(v, j, val[i + 1], idx[i + 1]); ++i) val[i] = val[i + 1], idx[i] = idx[i + 1];
      val[i] = v;
      idx[i] = j;
      return;
    }
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
  /// After raw_scores() and raw_indices() were replaced by lists kept
  /// another way (a checkpoint written as heaps): puts each list in the
  /// order push() keeps.
  void normalize() {
    if (cap_ > kSortedCap) return;  // a heap either way
    std::vector<int> order(static_cast<size_t>(cap_));
    std::vector<float> v(order.size());
    std::vector<int64_t> ix(order.size());
    for (size_t q = 0; q < val_.size() / size_t(cap_); ++q) {
      float* val = &val_[q * size_t(cap_)];
      int64_t* idx = &idx_[q * size_t(cap_)];
      for (int c = 0; c < cap_; ++c) order[size_t(c)] = c;
      std::sort(order.begin(), order.end(), [&](int a, int b) { return better(val[b], idx[b], val[a], idx[a]); });
      for (int c = 0; c < cap_; ++c) v[size_t(c)] = val[order[size_t(c)]], ix[size_t(c)] = idx[order[size_t(c)]];
      std::copy(v.begin(), v.end(), val);
      std::copy(ix.begin(), ix.end(), idx);
    }
  }

  /// a ranks before b: higher score, or equal score and lower index.
  static bool better(float av, int64_t aj, float bv, int64_t bj) { return av > bv || (av == bv && aj < bj); }

 private:
  int cap_;
  std::vector<float> val_;
  std::vector<int64_t> idx_;
};

}  // namespace distclust
