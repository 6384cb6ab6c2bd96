#include "report/picks.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <unordered_set>
#include <utility>

#include "distclust/error.h"
#include "distclust/rng.h"

namespace distclust::report {

uint64_t member_key(uint64_t seed, int64_t cluster, int64_t row) {
  // Distinct from other keyed draws of the pipeline by the leading tag.
  return key_hash(seed, 0x7265706f7274ull /* "report" */, static_cast<uint64_t>(cluster), static_cast<uint64_t>(row));
}

namespace {

// Keeps the `cap` smallest items by `less`: a max-heap whose top is the worst kept.
template <class T, class Less>
void keep_smallest(std::vector<T>& heap, size_t cap, const T& v, Less less) {
  if (cap == 0) return;
  if (heap.size() < cap) {
    heap.push_back(v);
    std::push_heap(heap.begin(), heap.end(), less);
  } else if (less(v, heap.front())) {
    std::pop_heap(heap.begin(), heap.end(), less);
    heap.back() = v;
    std::push_heap(heap.begin(), heap.end(), less);
  }
}

}  // namespace

std::vector<ClusterPicks> pick_rows(const std::vector<int64_t>& assign, int64_t k, int p, int m, uint64_t seed,
                                    const PrototypeSource& src) {
  const int64_t n = static_cast<int64_t>(assign.size());
  require(k >= 0 && p >= 0 && m >= 0, "pick_rows: k, p, m must be >= 0");
  const bool given = src.given && src.given_per > 0;
  const bool by_conf = !given && src.confidence && !src.confidence->empty();
  if (by_conf)
    require(int64_t(src.confidence->size()) == n, "pick_rows: ", src.confidence->size(), " confidences for ", n,
            " rows");
  // (confidence, row): "smaller" = better = higher confidence, then lower row.
  using Proto = std::pair<float, int64_t>;
  auto better = [](const Proto& a, const Proto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  };
  using Member = std::pair<uint64_t, int64_t>;  // (key, row), smaller key first
  std::vector<std::vector<Proto>> protos(static_cast<size_t>(by_conf ? k : 0));
  std::vector<std::vector<Member>> members(static_cast<size_t>(k));
  // Members are drawn from p + m candidates so that m remain after the
  // prototypes among them are removed.
  const size_t cand = static_cast<size_t>(m) + static_cast<size_t>(given ? src.given_per : p);
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = assign[i];
    if (c < 0) continue;
    require(c < k, "row ", i, " is assigned to cluster ", c, " but there are only ", k, " clusters");
    if (by_conf) {
      float v = (*src.confidence)[i];
      if (std::isnan(v)) v = -std::numeric_limits<float>::infinity();
      keep_smallest(protos[c], static_cast<size_t>(p), Proto{v, i}, better);
    }
    keep_smallest(members[c], cand, Member{member_key(seed, c, i), i}, std::less<Member>());
  }
  std::vector<ClusterPicks> out(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) {
    auto& o = out[c];
    if (given) {
      int64_t rows = int64_t(src.given->size()) / src.given_per;
      for (int64_t j = 0; c < rows && j < src.given_per && int64_t(o.prototypes.size()) < p; ++j) {
        int64_t r = (*src.given)[c * src.given_per + j];
        if (r < 0) continue;
        require(r < n, "prototype ", j, " of cluster ", c, " is row ", r, " but there are ", n, " rows");
        o.prototypes.push_back(r);
      }
    } else if (by_conf) {
      std::sort(protos[c].begin(), protos[c].end(), better);
      for (const auto& e : protos[c]) o.prototypes.push_back(e.second);
    }
    std::unordered_set<int64_t> taken(o.prototypes.begin(), o.prototypes.end());
    std::sort(members[c].begin(), members[c].end());
    for (const auto& e : members[c]) {
      if (int64_t(o.members.size()) >= m) break;
      if (!taken.count(e.second)) o.members.push_back(e.second);
    }
  }
  return out;
}

std::vector<ClusterDoubts> pick_doubts(const std::vector<int64_t>& assign, int64_t k, int nl, int nd, uint64_t seed,
                                       const std::vector<float>& confidence, const std::vector<int64_t>& labels,
                                       const std::vector<int64_t>& majority, const std::vector<ClusterPicks>& exclude) {
  const int64_t n = static_cast<int64_t>(assign.size());
  require(k >= 0 && nl >= 0 && nd >= 0, "pick_doubts: k, nl, nd must be >= 0");
  const bool by_conf = !confidence.empty();
  const bool by_label = !labels.empty() && nd > 0;
  require(!by_conf || int64_t(confidence.size()) == n, "pick_doubts: ", confidence.size(), " confidences for ", n,
          " rows");
  require(!by_label || (int64_t(labels.size()) == n && int64_t(majority.size()) == k), "pick_doubts: ",
          labels.size(), " labels and ", majority.size(), " majorities for ", n, " rows and ", k, " clusters");
  // (score, row), "smaller" first: least = lowest confidence, mismatched = highest.
  using Item = std::pair<double, int64_t>;
  auto conf = [&](int64_t i) {
    float v = confidence[i];
    return std::isnan(v) ? -std::numeric_limits<double>::infinity() : double(v);
  };
  std::vector<std::vector<Item>> least(static_cast<size_t>(by_conf ? k : 0)), odd(static_cast<size_t>(k));
  auto excluded = [&](int64_t c) { return c < int64_t(exclude.size()) ? exclude[c].prototypes.size() : size_t(0); };
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = assign[i];
    if (c < 0) continue;
    require(c < k, "row ", i, " is assigned to cluster ", c, " but there are only ", k, " clusters");
    if (by_conf && nl > 0) keep_smallest(least[c], size_t(nl) + excluded(c), Item{conf(i), i}, std::less<Item>());
    if (by_label && labels[i] >= 0 && majority[c] >= 0 && labels[i] != majority[c]) {
      double s = by_conf ? -conf(i) : double(member_key(seed, c, i));
      keep_smallest(odd[c], size_t(nd), Item{s, i}, std::less<Item>());
    }
  }
  std::vector<ClusterDoubts> out(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) {
    if (by_conf) {
      std::unordered_set<int64_t> taken;
      if (c < int64_t(exclude.size())) taken.insert(exclude[c].prototypes.begin(), exclude[c].prototypes.end());
      std::sort(least[c].begin(), least[c].end());
      for (const auto& e : least[c])
        if (int64_t(out[c].least.size()) < nl && !taken.count(e.second)) out[c].least.push_back(e.second);
    }
    std::sort(odd[c].begin(), odd[c].end());
    for (const auto& e : odd[c]) out[c].mismatched.push_back(e.second);
  }
  return out;
}

}  // namespace distclust::report
