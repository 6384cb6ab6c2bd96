#include "io/h5store.h"
#include "io/output_identity.h"
#include "knn/knn.h"

namespace distclust {

void write_knn(const std::string& path, Communicator& comm, const FeatureBlock& b, const KnnGraph& g,
               const KnnParams& p, const std::string& params_yaml, const std::string& params_hash) {
  // Lets `scan` check that a knn.h5 belongs to its features.h5 (a features
  // file not written by distclust is known by its size and mtime).
  std::string features_hash;
  if (comm.rank() == 0) features_hash = file_identity(p.features);
  comm.broadcast(features_hash, 0);
  H5Writer w(path, comm);
  w.create<int64_t>("/indices", {b.n_total, g.k});
  w.write_rows("/indices", b.rows, g.indices.data());
  w.create<float>("/similarities", {b.n_total, g.k});
  w.write_rows("/similarities", b.rows, g.values.data());
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("knn"));
  w.attr("metric", p.metric);
  w.attr("values", std::string(p.metric == "l2" ? "squared L2 distance, ascending" : "cosine similarity, descending"));
  w.attr("mode", p.mode);
  w.attr("k", int64_t(g.k));
  w.attr("features", p.features);
  w.attr("params", params_yaml);
  w.attr("config_hash", params_hash);
  if (!features_hash.empty()) w.attr("features_config_hash", features_hash);
  if (g.recall >= 0) w.attr("recall_at_k", g.recall);
  if (g.nprobe > 0) {
    w.attr("nlist", g.nlist);
    w.attr("nprobe", int64_t(g.nprobe));
  }
  w.commit();
}

}  // namespace distclust
