#include "report/confusion.h"

#include <algorithm>
#include <unordered_map>

#include "distclust/error.h"

namespace distclust::report {

namespace {

std::vector<int64_t> sorted_unique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

size_t index_of(const std::vector<int64_t>& sorted, int64_t v) {
  return static_cast<size_t>(std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin());
}

}  // namespace

Confusion confusion_matrix(const std::vector<int64_t>& assign, const std::vector<int64_t>& labels, int64_t max_cells) {
  require(assign.size() == labels.size(), "confusion matrix: ", assign.size(), " assignments but ", labels.size(),
          " labels");
  Confusion m;
  std::vector<int64_t> cl, cs;
  for (size_t i = 0; i < assign.size(); ++i) {
    if (assign[i] < 0 || labels[i] < 0) continue;
    cl.push_back(assign[i]);
    cs.push_back(labels[i]);
  }
  m.n = static_cast<int64_t>(cl.size());
  m.clusters = sorted_unique(cl);
  m.classes = sorted_unique(cs);
  double cells = double(m.clusters.size()) * double(m.classes.size());
  if (m.n == 0 || cells > double(max_cells)) return m;
  m.counts.assign(m.clusters.size() * m.classes.size(), 0);
  for (size_t i = 0; i < cl.size(); ++i)
    ++m.counts[index_of(m.clusters, cl[i]) * m.classes.size() + index_of(m.classes, cs[i])];
  return m;
}

std::vector<Majority> majority_per_cluster(const std::vector<int64_t>& assign, const std::vector<int64_t>& labels,
                                           int64_t k) {
  require(assign.size() == labels.size(), "majority classes: ", assign.size(), " assignments but ", labels.size(),
          " labels");
  // One hash map per cluster holds only the classes present in it.
  std::vector<std::unordered_map<int64_t, int64_t>> per(static_cast<size_t>(std::max<int64_t>(k, 0)));
  for (size_t i = 0; i < assign.size(); ++i) {
    if (assign[i] < 0 || labels[i] < 0) continue;
    require(assign[i] < k, "row ", i, " is assigned to cluster ", assign[i], " but there are only ", k, " clusters");
    ++per[assign[i]][labels[i]];
  }
  std::vector<Majority> out(per.size());
  for (size_t c = 0; c < per.size(); ++c) {
    for (const auto& [cls, n] : per[c]) {
      out[c].labelled += n;
      if (n > out[c].count || (n == out[c].count && cls < out[c].cls)) {
        out[c].cls = cls;
        out[c].count = n;
      }
    }
  }
  return out;
}

}  // namespace distclust::report
