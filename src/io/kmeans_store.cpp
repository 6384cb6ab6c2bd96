#include "distclust/h5store.h"
#include "distclust/kmeans.h"

namespace distclust {

void write_kmeans(const std::string& path, Communicator& comm, const FeatureBlock& b, const KMeansResult& r,
                  const std::string& params_yaml, const std::string& params_hash) {
  H5Writer w(path, comm);
  w.write_all<float>("/centroids", {r.k, r.d}, r.centroids.data());
  w.create<int64_t>("/assign", {b.n_total});
  w.write_rows("/assign", b.rows, r.assign.data());
  w.create<float>("/distance", {b.n_total});
  w.write_rows("/distance", b.rows, r.distance.data());
  w.write_vector("/inertia", r.inertia);
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("kmeans"));
  w.attr("params", params_yaml);
  w.attr("config_hash", params_hash);
  w.attr("k", r.k);
  w.attr("iterations", int64_t(r.iterations));
  w.attr("best_restart", int64_t(r.best_restart));
  w.attr("empty_splits", r.empty_splits);
  w.attr("final_inertia", r.final_inertia);
  w.commit();
}

}  // namespace distclust
