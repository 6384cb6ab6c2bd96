// The self-labelling neighbour gate (scan_gate.h) for rows assign sees: a
// move from SCAN cluster a to b is kept when at least as many of the row's
// neighbours in the run have SCAN cluster b as a. A row of the run (its
// id, an image path or an integer, and bit-identical features) has its neighbours in knn.h5, so
// the run's own rows are judged exactly as the run judged them; a new row's
// neighbours are its nearest valid rows of the run's features by the graph's
// metric (exact search, the graph's k or scan.neighbours of them).
#include <unordered_map>

#include "kernels/compute_target.h"
#include "assign/assign_parts.h"
#include "comm/local_comm.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "distclust/search.h"
#include "io/h5_strings.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "io/row_columns.h"
#include "kernels/rows.h"
#include "knn/knn.h"
#include "scan/scan_file.h"

namespace distclust::assign {
namespace {

/// What the gate reads from the run, on this process alone.
struct RunGraph {
  int64_t n = 0, d = 0, k_file = 0, kuse = 0;
  bool cosine = true;
  std::vector<uint8_t> valid;         ///< [N] the run's /valid
  std::vector<int64_t> scan_assign;   ///< [N] the run's SCAN clusters (/assign_scan)
};

RunGraph read_run_graph(const Inputs& in, const ScanParams& sp, LocalCommunicator& self) {
  RunGraph g;
  H5Reader f(in.reference, self), k(in.knn, self), s(in.scan, self);
  const DatasetInfo fi = f.info("/features"), ki = k.info("/indices");
  g.n = fi.shape[0];
  g.d = fi.shape[1];
  require(ki.shape.size() == 2 && ki.shape[0] == g.n, "assign: ", in.knn, ": /indices is ", ki.describe(), " but ",
          in.reference, " has ", g.n, " rows: not the run's graph");
  g.k_file = ki.shape[1];
  g.kuse = sp.neighbours > 0 ? std::min<int64_t>(sp.neighbours, g.k_file) : g.k_file;
  KnnParams kp;
  if (k.has_attr("params"))
    stored_params(k).apply_yaml("knn", kp);
  g.cosine = kp.metric == "cosine";
  g.valid = read_valid(f, RowRange{0, g.n}, g.n);
  require(s.has("/assign_scan"), "assign: ", in.scan, " has no /assign_scan (the SCAN clusters the gate compares)");
  g.scan_assign = s.read_all<int64_t>("/assign_scan");
  return g;
}

/// The /ids of `rows` (null: all n rows) of a features file as keys: a path
/// as it is, an integer id as "#id" (never equal to a path's key); none
/// without /ids.
std::vector<std::string> id_keys(const std::string& file, const std::vector<int64_t>* rows, int64_t n) {
  H5Strings s(file);
  if (s.row_strings("/ids", n)) return rows ? s.read("/ids", *rows) : s.read_range("/ids", RowRange{0, n});
  LocalCommunicator self;
  H5Reader r(file, self);
  if (!r.has("/ids") || r.info("/ids").shape != std::vector<int64_t>{n}) return {};
  const std::vector<int64_t> ids = r.read_all<int64_t>("/ids");
  std::vector<std::string> out;
  for (int64_t i = 0; i < (rows ? int64_t(rows->size()) : n); ++i)
    out.push_back("#" + std::to_string(ids[size_t(rows ? (*rows)[size_t(i)] : i)]));
  return out;
}

/// The run's neighbours of its row r: valid, not r, first kuse columns (scan_data.cpp).
std::vector<int64_t> graph_neighbours(const H5Reader& k, const RunGraph& g, int64_t r) {
  std::vector<int64_t> idx = k.read_rows<int64_t>("/indices", RowRange{r, r + 1}), out;
  for (int64_t j = 0; j < g.kuse; ++j) {
    const int64_t v = idx[size_t(j)];
    if (v >= 0 && v < g.n && v != r && g.valid[size_t(v)]) out.push_back(v);
  }
  return out;
}

/// Nearest valid rows of the run for each of the rows q [m x d] (global ids),
/// the run's features read in pieces of about 64 MiB.
std::vector<std::vector<int64_t>> search_run(const H5Reader& f, const RunGraph& g, std::vector<float> q, int64_t m) {
  if (g.cosine) normalize_rows(q.data(), m, g.d);
  TopK top(m, int(g.kuse));
  auto kernel = make_search();
  const int64_t piece = std::max<int64_t>(1024, (int64_t(1) << 24) / std::max<int64_t>(g.d, 1));
  for (int64_t r0 = 0; r0 < g.n; r0 += piece) {
    const RowRange r{r0, std::min(g.n, r0 + piece)};
    std::vector<float> x = f.read_rows<float>("/features", r);
    if (g.cosine) normalize_rows(x.data(), r.size(), g.d);
    SearchBase base{x.data(), r.size(), r0, nullptr, nullptr, g.valid.data() + r0, false};
    kernel->search(SearchQueries{q.data(), m, g.d, 0, nullptr, nullptr, false}, base,
                   g.cosine ? Metric::inner_product : Metric::l2, top);
  }
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i)
    for (int s = 0; s < top.cap(); ++s)
      if (top.indices(i)[s] != std::numeric_limits<int64_t>::max()) out[size_t(i)].push_back(top.indices(i)[s]);
  return out;
}

}  // namespace

std::vector<uint8_t> gate_new_rows(const Inputs& in, const FeatureBlock& b, const std::vector<int64_t>& moved,
                                   const std::vector<int64_t>& before, const std::vector<int64_t>& after) {
  std::vector<uint8_t> keep(moved.size(), 1);
  if (moved.empty()) return keep;
  LocalCommunicator self;
  const ScanParams sp = read_scan_model(in.scan).params;
  const RunGraph g = read_run_graph(in, sp, self);
  H5Reader f(in.reference, self), k(in.knn, self);
  // Which moved rows the run holds: the same id (an image path, or the
  // integer source index of synthetic or converted features) and the same
  // stored features.
  std::vector<int64_t> rows;
  for (int64_t i : moved) rows.push_back(b.rows.begin + i);
  const std::vector<std::string> paths = id_keys(in.new_features, &rows, b.n_total);
  std::unordered_map<std::string, int64_t> run_row;
  if (!paths.empty()) {
    const std::vector<std::string> ids = id_keys(in.reference, nullptr, g.n);
    for (int64_t r = 0; r < int64_t(ids.size()); ++r) run_row.emplace(ids[size_t(r)], r);
  }
  std::vector<std::vector<int64_t>> nbrs(moved.size());
  std::vector<size_t> unknown;
  std::vector<float> q;
  for (size_t j = 0; j < moved.size(); ++j) {
    const float* row = b.x.data() + moved[j] * b.d;
    auto it = paths.empty() ? run_row.end() : run_row.find(paths[j]);
    if (it != run_row.end()) {
      const std::vector<float> stored = f.read_rows<float>("/features", RowRange{it->second, it->second + 1});
      if (std::equal(stored.begin(), stored.end(), row)) {
        nbrs[j] = graph_neighbours(k, g, it->second);
        continue;
      }
    }
    unknown.push_back(j);
    q.insert(q.end(), row, row + b.d);
  }
  if (!unknown.empty()) {
    std::vector<std::vector<int64_t>> found = search_run(f, g, std::move(q), int64_t(unknown.size()));
    for (size_t u = 0; u < unknown.size(); ++u) nbrs[unknown[u]] = std::move(found[u]);
  }
  for (size_t j = 0; j < moved.size(); ++j) {
    int64_t for_old = 0, for_new = 0;
    for (int64_t v : nbrs[j]) {
      for_old += g.scan_assign[size_t(v)] == before[moved[j]];
      for_new += g.scan_assign[size_t(v)] == after[moved[j]];
    }
    keep[j] = for_new >= for_old;
  }
  return keep;
}

}  // namespace distclust::assign
