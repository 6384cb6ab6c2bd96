// Maximum-weight bipartite matching on a sparse table, for ACC when the dense
// clusters x classes cost matrix would not fit (10^4 x 10^4 doubles is 800 MB
// and O(10^12) Hungarian steps).
//
// Reduction: each row r gets a private dummy column of weight 0, and every
// weight w becomes the cost M - w (M = largest weight), so all costs are >= 0
// and every row can always be matched. A min-cost assignment of all rows in
// this graph is a max-weight matching of the original: a row on its dummy is
// left unmatched, which is what pairing it with a zero cell would give.
//
// Primal-dual (Hungarian) method in phases: each phase runs one Dijkstra over
// reduced costs from all free rows at once, moves the potentials so that
// every shortest augmenting path becomes tight, then augments along tight
// paths with Hopcroft-Karp until none is left. Adding rows one at a time
// instead (one Dijkstra per row) takes minutes on 20,000 near-random
// clusters, whose many equal small counts make every search sweep the whole
// graph; with phases, free rows' potentials rise by >= 1 per phase up to M,
// so there are at most min(rows, M + 1) phases. A greedy start (each row
// takes its heaviest cell's column if free) does most rows of a good
// clustering at once. Integer costs keep the optimum exact.
#include <algorithm>
#include <functional>
#include <limits>
#include <queue>

#include "distclust/error.h"
#include "eval/metrics.h"

namespace distclust {
namespace {

class SparseAssignment {
 public:
  SparseAssignment(const std::vector<ContingencyCell>& cells, int rows, int cols)
      : rows_(rows), cols_(cols), ncol_(cols + rows) {
    build_adjacency(cells);
    u_.assign(rows_, 0);
    v_.assign(ncol_, 0);
    row_dist_.assign(rows_, 0);
    dist_.assign(ncol_, kInf);
    col_of_.assign(rows_, -1);
    row_of_.assign(ncol_, -1);
    arc_.assign(rows_, 0);
  }

  std::vector<int> solve() {
    greedy_start();
    for (;;) {
      free_.clear();
      for (int r = 0; r < rows_; ++r)
        if (col_of_[r] < 0 && has_cells(r)) free_.push_back(r);
      if (free_.empty()) break;
      shortest_paths();
      int augmented = 0;
      while (const int found = augment_tight()) augmented += found;
      require(augmented > 0, "sparse_max_weight_matching: internal error, no tight augmenting path");
    }
    std::vector<int> col_of = col_of_;
    for (int& j : col_of)
      if (j >= cols_) j = -1;  // on its dummy: unmatched
    return col_of;
  }

 private:
  static constexpr int64_t kInf = std::numeric_limits<int64_t>::max();

  void build_adjacency(const std::vector<ContingencyCell>& cells) {
    // CSR by row: real columns 0..cols-1, then the row's dummy cols + r.
    start_.assign(rows_ + 1, 0);
    int64_t max_w = 0;
    for (const ContingencyCell& c : cells) {
      require(c.cls >= 0 && c.cls < rows_ && c.cluster >= 0 && c.cluster < cols_,
              "sparse_max_weight_matching: cell (", c.cls, ", ", c.cluster, ") outside ", rows_,
              " x ", cols_);
      require(c.count >= 0, "sparse_max_weight_matching: negative weight ", c.count, " at (",
              c.cls, ", ", c.cluster, ")");
      if (c.count == 0) continue;
      ++start_[c.cls + 1];
      max_w = std::max(max_w, c.count);
    }
    for (int r = 0; r < rows_; ++r) start_[r + 1] += start_[r] + 1;
    col_.resize(start_[rows_]);
    cost_.resize(start_[rows_]);
    std::vector<int64_t> fill(start_.begin(), start_.end() - 1);
    for (const ContingencyCell& c : cells) {
      if (c.count == 0) continue;
      col_[fill[c.cls]] = c.cluster;
      cost_[fill[c.cls]++] = max_w - c.count;
    }
    for (int r = 0; r < rows_; ++r) {
      col_[fill[r]] = cols_ + r;
      cost_[fill[r]] = max_w;
    }
  }

  bool has_cells(int r) const { return start_[r + 1] - start_[r] > 1; }
  int64_t reduced(int r, int64_t e) const { return cost_[e] - u_[r] - v_[col_[e]]; }

  void match(int r, int j) {
    col_of_[r] = j;
    row_of_[j] = r;
  }

  /// Row duals u = min cost, v = 0: every cost is >= its row's minimum, and
  /// each row's cheapest (heaviest) cells are tight. Rows then take a free
  /// tight column, heaviest rows first.
  void greedy_start() {
    std::vector<int> order;
    for (int r = 0; r < rows_; ++r) {
      if (!has_cells(r)) continue;
      int64_t best = kInf;
      for (int64_t e = start_[r]; e < start_[r + 1]; ++e) best = std::min(best, cost_[e]);
      u_[r] = best;
      order.push_back(r);
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return u_[a] < u_[b]; });
    for (int r : order)
      for (int64_t e = start_[r]; e < start_[r + 1]; ++e)
        if (reduced(r, e) == 0 && row_of_[col_[e]] < 0) {
          match(r, col_[e]);
          break;
        }
  }

  void relax(int r, int64_t d) {
    for (int64_t e = start_[r]; e < start_[r + 1]; ++e) {
      const int j = col_[e];
      const int64_t nd = d + reduced(r, e);
      if (nd < dist_[j]) {
        if (dist_[j] == kInf) touched_.push_back(j);
        dist_[j] = nd;
        heap_.push({nd, j});
      }
    }
  }

  /// Dijkstra from a virtual source joined to every free row r at distance
  /// u[r] - min u (free rows' duals differ after the greedy start), up to the
  /// nearest free column at distance D. Then every settled node moves by its
  /// slack D - d: reduced costs stay >= 0 and all shortest paths get tight.
  void shortest_paths() {
    int64_t u_min = kInf;
    for (int r : free_) u_min = std::min(u_min, u_[r]);
    visited_rows_.clear();
    for (int r : free_) {
      row_dist_[r] = u_[r] - u_min;
      visited_rows_.push_back(r);
      relax(r, row_dist_[r]);
    }
    int64_t total = kInf;
    settled_.clear();
    while (!heap_.empty()) {
      const auto [d, j] = heap_.top();
      heap_.pop();
      if (d != dist_[j] || d >= total) continue;
      if (row_of_[j] < 0) {
        total = d;  // nearest free column; nothing closer is left
        break;
      }
      settled_.push_back(j);
      const int r = row_of_[j];  // matched pair is tight: r is at distance d
      row_dist_[r] = d;
      visited_rows_.push_back(r);
      relax(r, d);
    }
    // Free rows' own dummies are always reachable, so total is finite.
    for (int r : visited_rows_) u_[r] += std::max<int64_t>(0, total - row_dist_[r]);
    for (int j : settled_) v_[j] -= total - dist_[j];
    tight_u_ = u_min + total;  // free rows with this dual start tight paths
    for (int j : touched_) dist_[j] = kInf;
    touched_.clear();
    heap_ = decltype(heap_)();
  }

  /// Hopcroft-Karp on the tight (zero reduced cost) edges: a breadth-first
  /// search layers the rows from the tight free rows up to the first layer
  /// that reaches a free column, then depth-first searches along the layers
  /// augment a maximal set of shortest tight paths, each arc tried once.
  /// Returns the number of paths; 0 when no tight augmenting path is left.
  int augment_tight() {
    constexpr int kNone = std::numeric_limits<int>::max();
    layer_.assign(rows_, kNone);
    queue_.clear();
    for (int r : free_)
      if (col_of_[r] < 0 && u_[r] == tight_u_) {
        layer_[r] = 0;
        queue_.push_back(r);
      }
    int limit = kNone;  // layer of the rows that reach a free column, + 1
    for (size_t q = 0; q < queue_.size(); ++q) {
      const int r = queue_[q];
      if (layer_[r] >= limit) break;
      for (int64_t e = start_[r]; e < start_[r + 1]; ++e) {
        if (reduced(r, e) != 0) continue;
        const int next = row_of_[col_[e]];
        if (next < 0) {
          limit = layer_[r] + 1;
        } else if (layer_[next] == kNone) {
          layer_[next] = layer_[r] + 1;
          queue_.push_back(next);
        }
      }
    }
    if (limit == kNone) return 0;
    for (int r : queue_) arc_[r] = start_[r];
    int found = 0;
    for (int r : free_)
      if (col_of_[r] < 0 && layer_[r] == 0 && augment_from(r, limit)) ++found;
    return found;
  }

  /// Depth-first search of augment_tight from free row s; flips the path.
  bool augment_from(int s, int limit) {
    path_.assign(1, s);
    while (!path_.empty()) {
      const int r = path_.back();
      if (arc_[r] == start_[r + 1]) {  // dead end: no row reaches it again
        layer_[r] = std::numeric_limits<int>::max();
        path_.pop_back();
        if (!path_.empty()) ++arc_[path_.back()];
        continue;
      }
      const int64_t e = arc_[r];
      const int j = col_[e];
      const int next = row_of_[j];
      if (reduced(r, e) == 0 && next < 0) {
        for (int pr : path_) match(pr, col_[arc_[pr]]);  // each row takes its arc's column
        return true;
      }
      if (reduced(r, e) == 0 && next >= 0 && layer_[next] == layer_[r] + 1 && layer_[next] < limit)
        path_.push_back(next);
      else
        ++arc_[r];
    }
    return false;
  }

  const int rows_, cols_, ncol_;
  std::vector<int64_t> start_, cost_;  // CSR: [rows + 1], [edges]
  std::vector<int> col_;               // [edges]
  std::vector<int64_t> u_, v_;         // duals: cost - u[r] - v[j] >= 0, 0 when matched
  std::vector<int64_t> row_dist_, dist_;
  std::vector<int> col_of_, row_of_;
  std::vector<int> free_, touched_, settled_, visited_rows_;
  std::vector<int> layer_, queue_, path_;  // augment_tight's search state
  std::vector<int64_t> arc_;                // [rows] next edge to try
  int64_t tight_u_ = 0;
  std::priority_queue<std::pair<int64_t, int>, std::vector<std::pair<int64_t, int>>,
                      std::greater<std::pair<int64_t, int>>>
      heap_;
};

}  // namespace

std::vector<int> sparse_max_weight_matching(const std::vector<ContingencyCell>& cells,
                                            int rows, int cols) {
  require(rows >= 0 && cols >= 0, "sparse_max_weight_matching: negative shape ", rows, " x ", cols);
  return SparseAssignment(cells, rows, cols).solve();
}

}  // namespace distclust
