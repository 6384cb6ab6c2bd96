#include "kmeans/kmeans_file.h"

#include "comm/local_comm.h"
#include "io/finite.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "extract/row_centre.h"

namespace distclust {

void write_kmeans(const std::string& path, Communicator& comm, const FeatureBlock& b, const RowsIdentity& rows,
                  const KMeansResult& r,
                  const std::string& params_yaml, const std::string& params_hash, const KMeansSweep* sweep) {
  H5Writer w(path, comm);
  w.write_all<float>("/centroids", {r.k, r.d}, (r.file_centroids.empty() ? r.centroids : r.file_centroids).data());
  if (!b.centre.empty()) w.write_all<float>("/centre", {r.d}, b.centre.data());
  w.create<int64_t>("/assign", {b.n_total});
  w.write_rows("/assign", b.rows, r.assign.data());
  w.create<float>("/distance", {b.n_total});
  w.write_rows("/distance", b.rows, r.distance.data());
  w.write_vector("/inertia", r.inertia);
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("kmeans"));
  w.attr("params", params_yaml);
  w.attr("config_hash", params_hash);
  write_rows_identity(w, rows);  // whose rows /assign's are (io/rows_identity.h)
  w.attr("k", r.k);
  w.attr("spherical", int64_t(r.spherical ? 1 : 0));
  w.attr("iterations", int64_t(r.iterations));
  w.attr("best_restart", int64_t(r.best_restart));
  w.attr("empty_splits", r.empty_splits);
  w.attr("final_inertia", r.final_inertia);
  if (sweep) {
    w.write_vector("/sweep_k", sweep->k);
    w.write_vector("/sweep_inertia", sweep->inertia);
    w.write_vector("/sweep_silhouette", sweep->silhouette);
    w.attr("suggested_k", sweep->suggested_k);
    w.attr("sweep_sample", sweep->sample);
    w.attr("sweep_valid_rows", sweep->valid_rows);
  }
  w.commit();
}

KMeansSweep read_kmeans_sweep(const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  KMeansSweep s;
  if (!r.has("/sweep_k")) return s;
  s.k = r.read_all<int64_t>("/sweep_k");
  s.inertia = r.read_all<double>("/sweep_inertia");
  s.silhouette = r.read_all<double>("/sweep_silhouette");
  require(s.inertia.size() == s.k.size() && s.silhouette.size() == s.k.size(), path,
          ": /sweep_k, /sweep_inertia and /sweep_silhouette differ in length");
  s.suggested_k = r.has_attr("suggested_k") ? int64_t(r.attr_double("suggested_k")) : 0;
  s.sample = r.has_attr("sweep_sample") ? int64_t(r.attr_double("sweep_sample")) : 0;
  s.valid_rows = r.has_attr("sweep_valid_rows") ? int64_t(r.attr_double("sweep_valid_rows")) : 0;
  return s;
}

KMeansModel read_kmeans_model(const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  const DatasetInfo ci = r.info("/centroids");
  require(ci.shape.size() == 2 && ci.shape[0] >= 1 && ci.shape[1] >= 1, path, ": /centroids is ", ci.describe(),
          ", expected [k x D]");
  KMeansModel m;
  m.k = ci.shape[0];
  m.d = ci.shape[1];
  m.spherical = r.has_attr("spherical") && r.attr_double("spherical") != 0;
  m.centroids = r.read_all<float>("/centroids");
  require_finite_rows(m.centroids.data(), m.k, m.d, path + ": /centroids");
  if (r.has("/centre")) {
    const DatasetInfo ce = r.info("/centre");
    require(ce.shape == std::vector<int64_t>{m.d}, path, ": /centre is ", ce.describe(), ", expected [", m.d, "]");
    m.centre = r.read_all<float>("/centre");
    require_finite_rows(m.centre.data(), 1, m.d, path + ": /centre");
  }
  return m;
}

}  // namespace distclust
