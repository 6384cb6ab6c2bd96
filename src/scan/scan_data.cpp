// SCAN's inputs: features.h5 and knn.h5, checked to belong together, the
// neighbour lists of this rank's rows, and the feature rows placed so that
// any neighbour can be read (replicated, or fetched each epoch).
#include <algorithm>

#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/runtime.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "scan/scan_run.h"

namespace distclust {
namespace {

/// knn.h5's shape and identities; the features' hash; checks that they match.
void check_inputs(const ScanParams& p, Communicator& comm, ScanData& s) {
  int64_t n_knn = 0;
  std::string knn_features_hash;
  {
    H5Reader kr(p.knn, comm);
    require(kr.has("/indices"), "scan: ", p.knn, " has no /indices dataset: --knn takes the knn.h5 written by `distclust knn`");
    DatasetInfo ki = kr.info("/indices");
    require(ki.shape.size() == 2 && ki.shape[1] >= 1 && ki.integer(), p.knn, ": /indices is ", ki.describe(),
            ", expected [N x k] integers (a knn.h5 from `distclust knn`)");
    n_knn = ki.shape[0];
    s.k_file = ki.shape[1];
    if (kr.has_attr("config_hash")) s.inputs.knn_hash = kr.attr_string("config_hash");
    if (kr.has_attr("features_config_hash")) knn_features_hash = kr.attr_string("features_config_hash");
  }
  if (comm.rank() == 0) s.inputs.features_hash = file_identity(p.features);
  comm.broadcast(s.inputs.features_hash, 0);
  auto [n_feat, d_feat] = features_shape(p.features, comm);
  (void)d_feat;
  require(n_feat == n_knn, "scan: ", p.features, " has ", n_feat, " rows but ", p.knn, " has ", n_knn,
          " rows: the kNN graph was not built from these features");
  // An embedding (embed.h5) goes with the graph of the features it embeds.
  std::string embedded_from;
  {
    H5Reader fr(p.features, comm);
    if (fr.has_attr("source_features_config_hash")) embedded_from = fr.attr_string("source_features_config_hash");
  }
  require(knn_features_hash.empty() || s.inputs.features_hash.empty() || knn_features_hash == s.inputs.features_hash ||
              knn_features_hash == embedded_from,
          "scan: ", p.knn, " was built from features ", knn_features_hash, " but ", p.features, " is now ",
          s.inputs.features_hash, ": the files do not belong together (rebuild ", p.knn, ")");
}

/// Neighbour lists of this rank's rows: valid, in range, not the row itself.
void read_neighbours(const ScanParams& p, Communicator& comm, const std::vector<uint8_t>& valid,
                     const FeatureBlock& blk, ScanData& s) {
  const int64_t nloc = blk.local_rows();
  s.kuse = p.neighbours > 0 ? std::min<int64_t>(p.neighbours, s.k_file) : s.k_file;
  if (p.neighbours > s.k_file && comm.rank() == 0)  // said, not silently lowered
    log::warn("scan.neighbours=", p.neighbours, " lowered to ", s.k_file, ": ", p.knn, " holds ", s.k_file,
              " neighbours per row (rebuild it with a larger knn.k for more)");
  s.nbr.assign(size_t(nloc * s.kuse), 0);
  s.nbr_count.assign(size_t(nloc), 0);
  H5Reader kr(p.knn, comm);
  std::vector<int64_t> idx = kr.read_rows<int64_t>("/indices", s.own);
  for (int64_t i = 0; i < nloc; ++i) {
    const int64_t g = s.own.begin + i;
    for (int64_t j = 0; j < s.kuse; ++j) {
      const int64_t v = idx[i * s.k_file + j];
      require(v >= -1 && v < s.n, p.knn, ": /indices row ", g, " column ", j, " holds ", v, ", outside [-1, ", s.n,
              ")");
      if (v < 0 || v == g || !valid[v] || !blk.valid[i]) continue;
      s.nbr[i * s.kuse + s.nbr_count[i]++] = v;
    }
  }
  for (int64_t i = 0; i < nloc; ++i)
    if (blk.valid[i]) s.my_rows.push_back(i);
  int64_t lonely = 0;
  for (int64_t i : s.my_rows) lonely += s.nbr_count[i] == 0;
  s.lonely = comm.sum(lonely);
  if (s.lonely > 0 && comm.rank() == 0)
    log::warn("scan: ", s.lonely, " valid rows have no valid neighbour in ", p.knn, " (first ", s.kuse,
              " columns); they are paired with themselves");
}

void log_placement(const ScanParams& p, Communicator& comm, const ScanData& s) {
  const double bytes = double(s.n) * double(s.d) * sizeof(float);
  log::info("scan: ", p.features, ": ", s.n, " x ", s.d, " (", s.n_valid, " valid), knn ", p.knn, ": k=", s.k_file,
            " (drawing from ", s.kuse, "), C=", p.clusters, ", ", p.heads, " ", p.head, " heads",
            p.head == "mlp" ? fmt(" (hidden ", p.hidden, ")") : std::string(), ", lr ", p.lr, ", weight decay ",
            p.effective_weight_decay(), p.weight_decay < 0 ? " (auto: 1e-3 / C)" : "", ", ", comm.size(), " ranks x ",
            compute_threads(), " threads");
  log::info("scan: neighbour features: ",
            s.replicate ? fmt("replicated on every rank (N*D*4 = ", bytes / double(1ull << 20), " MiB",
                              comm.size() == 1 ? ", one rank" : fmt(" <= memory_budget ", p.memory_budget, " GiB"), ")")
                        : fmt("exchanged each epoch (N*D*4 = ", bytes / double(1ull << 20), " MiB",
                              p.neighbour_features == "exchange" ? ", as asked"
                                                                 : fmt(" > memory_budget ", p.memory_budget, " GiB"),
                              ")"));
}

}  // namespace

ScanData load_scan_data(const ScanParams& p, Communicator& comm) {
  require(!p.features.empty(), "scan: no features given (--features features.h5)");
  require(!p.knn.empty(), "scan: no neighbour graph given (--knn knn.h5)");
  check_input_file(p.features, "features file");
  check_input_file(p.knn, "knn file");
  ScanData s;
  check_inputs(p, comm, s);
  FeatureBlock blk = read_features(p.features, comm);
  check_finite(blk, p.features, comm);
  s.n = blk.n_total;
  s.d = blk.d;
  s.own = blk.rows;
  if (p.normalize) normalize_rows(blk);
  // Global validity (every rank: neighbours may be anywhere).
  std::vector<uint8_t> valid = comm.allgather(blk.valid);
  require(int64_t(valid.size()) == s.n, "scan: internal error: gathered ", valid.size(), " validity flags for ", s.n,
          " rows");
  for (auto v : valid) s.n_valid += v ? 1 : 0;
  require(s.n_valid >= 1, "scan: ", p.features, ": all ", s.n, " rows are invalid (/valid = 0), nothing to cluster");
  require(p.clusters <= s.n_valid, "scan: clusters=", p.clusters, " exceeds the number of valid rows (", s.n_valid,
          " of ", s.n, " in ", p.features, ")");
  read_neighbours(p, comm, valid, blk, s);
  // Replicate all features on every rank, or fetch the drawn neighbours each epoch.
  const double bytes = double(s.n) * double(s.d) * sizeof(float);
  s.replicate = p.neighbour_features == "replicate" ||
                (p.neighbour_features == "auto" && bytes <= p.memory_budget * double(1ull << 30));
  if (comm.size() == 1) s.replicate = true;  // one rank holds every row anyway
  s.rows = ScanRows(std::move(blk), s.replicate && comm.size() > 1, comm);
  log_placement(p, comm, s);
  return s;
}

}  // namespace distclust
