// Contingency table of two labelings in O(n) time and at most ~4 bytes per
// row of scratch memory: labels are renumbered compactly, then (class,
// cluster) pairs are counted in a dense table when it is small next to n and
// by bucketing rows by class otherwise, so 20,000 x 20,000 labels never
// allocate 4*10^8 cells just to hold a few million nonzeros.
#include <algorithm>
#include <limits>

#include "int64_map.h"
#include "distclust/error.h"
#include "eval/metrics.h"

namespace distclust {
namespace {

bool valid(int64_t t, int64_t p) { return t >= 0 && p >= 0; }

/// Maps the labels of the valid rows to 0..count-1 in increasing label order.
class LabelIndex {
 public:
  LabelIndex(const std::vector<int64_t>& labels, const std::vector<int64_t>& other) {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1, n = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
      if (!valid(labels[i], other[i])) continue;
      lo = std::min(lo, labels[i]);
      hi = std::max(hi, labels[i]);
      ++n;
    }
    if (n == 0) return;
    lo_ = lo;
    // A lookup table is fastest; use it when it is no bigger than the input.
    direct_ = static_cast<uint64_t>(hi - lo) < static_cast<uint64_t>(2 * n + 65536);
    if (direct_) {
      table_.assign(static_cast<size_t>(hi - lo + 1), -1);
      for (size_t i = 0; i < labels.size(); ++i)
        if (valid(labels[i], other[i])) table_[labels[i] - lo] = 0;
      for (int32_t& id : table_)
        if (id == 0) id = count_++;
      return;
    }
    for (size_t i = 0; i < labels.size(); ++i)
      if (valid(labels[i], other[i])) hashed_[labels[i]] = 0;
    std::vector<int64_t> distinct;
    distinct.reserve(hashed_.size());
    hashed_.for_each([&](int64_t key, int64_t) { distinct.push_back(key); });
    std::sort(distinct.begin(), distinct.end());
    require(distinct.size() <= static_cast<size_t>(std::numeric_limits<int>::max()),
            "metrics: ", distinct.size(), " distinct labels, more than an int can number");
    for (int64_t label : distinct) hashed_[label] = count_++;
  }

  int count() const { return count_; }

  /// Compact id of a label seen on a valid row.
  int id(int64_t label) const {
    return direct_ ? table_[label - lo_] : static_cast<int>(hashed_.find(label));
  }

 private:
  bool direct_ = true;
  int64_t lo_ = 0;
  std::vector<int32_t> table_;  // [hi - lo + 1] id, -1 for absent labels
  detail::Int64Map hashed_;
  int count_ = 0;
};

/// Sparse counts for tables too big to hold densely: rows are bucketed by
/// class (4 bytes per row, a counting sort), then each class's clusters are
/// counted in one reused [clusters] array. A hash map of (class, cluster)
/// pairs would take up to 32 bytes per row for near-random labelings and
/// miss the cache on every row.
void count_by_class(const std::vector<int64_t>& truth, const std::vector<int64_t>& pred,
                    const LabelIndex& classes, const LabelIndex& clusters, Contingency& t) {
  std::vector<int64_t> next(classes.count() + 1, 0);  // bucket starts, then fill positions
  for (size_t i = 0; i < truth.size(); ++i)
    if (valid(truth[i], pred[i])) ++next[classes.id(truth[i]) + 1];
  for (int c = 0; c < classes.count(); ++c) next[c + 1] += next[c];
  std::vector<int32_t> bucket(static_cast<size_t>(t.n));
  for (size_t i = 0; i < truth.size(); ++i)
    if (valid(truth[i], pred[i])) bucket[next[classes.id(truth[i])]++] = clusters.id(pred[i]);
  // next[c] is now the end of class c's bucket, i.e. the start of c + 1's.
  std::vector<int64_t> count(clusters.count(), 0);
  std::vector<int32_t> seen;
  int64_t begin = 0;
  for (int c = 0; c < classes.count(); ++c) {
    for (int64_t k = begin; k < next[c]; ++k)
      if (count[bucket[k]]++ == 0) seen.push_back(bucket[k]);
    begin = next[c];
    std::sort(seen.begin(), seen.end());
    for (int32_t j : seen) {
      t.cells.push_back({c, j, count[j]});
      count[j] = 0;
    }
    seen.clear();
  }
}

}  // namespace

Contingency contingency_table(const std::vector<int64_t>& truth,
                              const std::vector<int64_t>& pred) {
  require(truth.size() == pred.size(), "metrics: truth has ", truth.size(),
          " labels but pred has ", pred.size());
  const LabelIndex classes(truth, pred), clusters(pred, truth);
  Contingency t;
  t.class_sizes.assign(classes.count(), 0);
  t.cluster_sizes.assign(clusters.count(), 0);
  for (size_t i = 0; i < truth.size(); ++i) t.n += valid(truth[i], pred[i]);
  require(t.n > 0, "metrics: no row to score among ", truth.size(),
          " (every row has truth < 0 or pred < 0)");

  const int64_t kc = clusters.count();
  const int64_t cells = classes.count() * kc;
  if (cells <= std::max<int64_t>(int64_t(1) << 20, t.n / 2)) {
    // Dense counts: one pass, memory at most 4 bytes per row.
    std::vector<int64_t> dense(static_cast<size_t>(cells), 0);
    for (size_t i = 0; i < truth.size(); ++i)
      if (valid(truth[i], pred[i])) ++dense[classes.id(truth[i]) * kc + clusters.id(pred[i])];
    for (int64_t c = 0; c < cells; ++c)
      if (dense[c] > 0) t.cells.push_back({int(c / kc), int(c % kc), dense[c]});
  } else {
    count_by_class(truth, pred, classes, clusters, t);
  }
  for (const ContingencyCell& c : t.cells) {
    t.class_sizes[c.cls] += c.count;
    t.cluster_sizes[c.cluster] += c.count;
  }
  return t;
}

}  // namespace distclust
