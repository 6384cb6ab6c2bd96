// Near-duplicates: thresholded kNN edges -> connected components.
#include "knn/near_duplicates.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "comm/root.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "io/h5store.h"

namespace distclust {

std::string DuplicateRule::describe() const {
  return metric == "l2" ? "squared L2 distance <= " + to_text(threshold) : "cosine similarity >= " + to_text(threshold);
}

DuplicateRule duplicate_rule(const std::string& metric, double t, const std::string& where,
                             const std::string& graph) {
  require(std::isfinite(t), where, " is ", to_text(t), ": expected a finite number");
  if (metric == "cosine") {
    require(t >= -1 && t <= 1, where, " is ", to_text(t), ", outside [-1, 1]: ", graph,
            " is a cosine kNN graph, whose values are similarities (near-duplicates are close to 1, e.g. 0.95)");
  } else if (metric == "l2") {
    require(t >= 0, where, " is ", to_text(t), ", below 0: ", graph,
            " is an l2 kNN graph, whose values are squared distances (near-duplicates are close to 0)");
  } else {
    throw Error(fmt(where, ": ", graph, " has metric '", metric, "' (expected cosine or l2)"));
  }
  return DuplicateRule{metric, t, static_cast<float>(t)};
}

std::vector<DupEdge> passing_edges(const int64_t* indices, const float* values, RowRange rows, int64_t k, int64_t n,
                                   const DuplicateRule& rule, const std::string& file) {
  std::vector<DupEdge> out;
  for (int64_t i = 0; i < rows.size(); ++i) {
    const int64_t g = rows.begin + i;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t v = indices[i * k + j];
      require(v >= -1 && v < n, file, ": /indices row ", g, " column ", j, " holds ", v, ", outside [-1, ", n, ")");
      if (v < 0 || v == g || !rule.passes(values[i * k + j])) continue;
      out.push_back(DupEdge{std::min(g, v), std::max(g, v)});
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

/// Union-find over the rows the edges touch (not over all N rows), so its
/// memory follows the edges kept.
class RowSets {
 public:
  explicit RowSets(const std::vector<DupEdge>& edges) {
    rows_.reserve(edges.size() * 2);
    for (const auto& e : edges) rows_.push_back(e.a), rows_.push_back(e.b);
    std::sort(rows_.begin(), rows_.end());
    rows_.erase(std::unique(rows_.begin(), rows_.end()), rows_.end());
    parent_.resize(rows_.size());
    std::iota(parent_.begin(), parent_.end(), size_t(0));
  }
  size_t slot(int64_t row) const { return size_t(std::lower_bound(rows_.begin(), rows_.end(), row) - rows_.begin()); }
  size_t find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];  // path halving
    return x;
  }
  /// Joins the sets of a and b; false when they were one already. The smaller
  /// slot becomes the root, so a set's root is its smallest row.
  bool unite(int64_t a, int64_t b) {
    size_t x = find(slot(a)), y = find(slot(b));
    if (x == y) return false;
    if (y < x) std::swap(x, y);
    parent_[y] = x;
    return true;
  }
  const std::vector<int64_t>& rows() const { return rows_; }

 private:
  std::vector<int64_t> rows_;  ///< sorted rows touched by an edge
  std::vector<size_t> parent_;
};

}  // namespace

std::vector<DupEdge> spanning_forest(const std::vector<DupEdge>& edges) {
  RowSets sets(edges);
  std::vector<DupEdge> out;
  for (const auto& e : edges)
    if (sets.unite(e.a, e.b)) out.push_back(e);
  return out;
}

std::vector<std::vector<int64_t>> duplicate_groups(const std::vector<DupEdge>& edges) {
  RowSets sets(edges);
  for (const auto& e : edges) sets.unite(e.a, e.b);
  const auto& rows = sets.rows();
  std::vector<std::vector<int64_t>> by_root(rows.size());
  for (size_t s = 0; s < rows.size(); ++s) by_root[sets.find(s)].push_back(rows[s]);  // ascending: rows are sorted
  std::vector<std::vector<int64_t>> groups;
  for (auto& g : by_root)
    if (g.size() >= 2) groups.push_back(std::move(g));
  // Already ordered by smallest row (roots are smallest rows); now by size.
  std::stable_sort(groups.begin(), groups.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  return groups;
}

int64_t NearDuplicates::rows_in_groups() const {
  int64_t r = 0;
  for (const auto& g : groups) r += int64_t(g.size());
  return r;
}

namespace {

/// knn.h5's shape and metric (every rank reads them: the same checks fail
/// the same way everywhere).
NearDuplicates open_graph(const H5Reader& r, const std::string& knn, double threshold, const std::string& where) {
  require(r.has("/indices") && r.has("/similarities"), knn,
          " has no /indices and /similarities: give the knn.h5 written by `distclust knn`");
  DatasetInfo ii = r.info("/indices"), si = r.info("/similarities");
  require(ii.shape.size() == 2 && ii.shape[1] >= 1 && ii.integer(), knn, ": /indices is ", ii.describe(),
          ", expected [N x k] integers");
  require(si.shape == ii.shape, knn, ": /similarities is ", si.describe(), " but /indices is ", ii.describe());
  require(r.has_attr("metric"), knn, " has no `metric` attribute: give the knn.h5 written by `distclust knn`");
  NearDuplicates d;
  d.knn = knn;
  d.n = ii.shape[0];
  d.k = ii.shape[1];
  d.rule = duplicate_rule(r.attr_string("metric"), threshold, where, knn);
  return d;
}

}  // namespace

NearDuplicates find_near_duplicates(const std::string& knn, double threshold, const std::string& where,
                                    Communicator& comm) {
  check_input_file(knn, "kNN graph");
  H5Reader r(knn, comm);
  NearDuplicates d = open_graph(r, knn, threshold, where);
  const RowRange mine = row_block(d.n, comm.rank(), comm.size());
  std::vector<DupEdge> edges;
  const int64_t block = 65536;  // rows read at a time: memory per rank stays a few MiB x k
  for (int64_t b = mine.begin; b < mine.end; b += block) {
    RowRange rr{b, std::min(mine.end, b + block)};
    std::vector<int64_t> idx = r.read_rows<int64_t>("/indices", rr);
    std::vector<float> val = r.read_rows<float>("/similarities", rr);
    std::vector<DupEdge> e = passing_edges(idx.data(), val.data(), rr, d.k, d.n, d.rule, knn);
    edges.insert(edges.end(), e.begin(), e.end());
  }
  // Why union-find on rank 0 is bounded: each rank first reduces its passing
  // edges to a spanning forest (the same components, fewer edges than the
  // rows they touch), so rank 0 receives at most P x (rows in groups) edges,
  // 16 bytes each, and its union-find spans only those rows, never all N.
  // Even a threshold that passes every edge sends at most min(N x k, P x N)
  // edges, no more than knn.h5's /indices. Distributed label propagation
  // would instead need as many collective rounds over all rows as the
  // longest chain of duplicates is long.
  std::vector<DupEdge> forest = gather_to_root(comm, spanning_forest(edges));
  if (comm.rank() == 0) d.groups = duplicate_groups(forest);
  return d;
}

}  // namespace distclust
