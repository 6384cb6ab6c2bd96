// assign's k-means part: the run's centroids applied to new rows exactly as
// the run's final assignment applied them (kmeans.cpp, Lloyd::result): its
// tiles, its normalisation, the search kernel with k = 1; and the margin
// confidence the report shows for the run's rows (kmeans_confidence.h).
#include "kernels/compute_target.h"
#include "assign/assign_parts.h"
#include "comm/local_comm.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "distclust/search.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"
#include "kmeans/kmeans.h"
#include "kmeans/kmeans_confidence.h"
#include "kmeans/kmeans_file.h"
#include "extract/row_centre.h"

namespace distclust::assign {

KMeansOut apply_kmeans(const std::string& kmeans_h5, const FeatureBlock& b) {
  KMeansModel km = read_kmeans_model(kmeans_h5);
  KMeansParams kp;
  {
    LocalCommunicator self;
    H5Reader r(kmeans_h5, self);
    if (r.has_attr("params"))
      stored_params(r).apply_yaml("kmeans", kp);
  }
  require(km.d == b.d, "assign: dimension mismatch: the new rows have D=", b.d, " but ", kmeans_h5, ": /centroids is ",
          km.k, " x ", km.d);
  const int64_t n = b.local_rows(), d = b.d, k = km.k;
  FeatureBlock x = b;  // as k-means saw its rows
  if (km.spherical) normalize_rows(x);
  centre_rows(x, km.centre);  // as the run centred them (extract/row_centre.h)
  subtract_centre(km.centroids.data(), k, d, km.centre);
  std::vector<float> norms(static_cast<size_t>(n));
  row_norms(x.x.data(), n, d, norms.data());
  KMeansOut o;
  o.assign.resize(size_t(n));
  o.distance.resize(size_t(n));
  auto kernel = make_search({kp.tile_rows, kp.tile_k});
  assign_nearest(*kernel, x, norms.data(), km.centroids.data(), k, km.spherical, o.assign.data(), o.distance.data());
  own_centroid_distances(x, km.centroids, o.assign, km.spherical, o.distance);  // as kmeans.h5's /distance
  std::vector<float>& c = km.centroids;
  if (km.spherical) normalize_rows(c.data(), k, d);
  std::vector<float> cn(static_cast<size_t>(k));
  row_norms(c.data(), k, d, cn.data());
  o.confidence.resize(size_t(n));
  kmeans_margins(x.x.data(), o.assign.data(), n, d, b.rows.begin, c.data(), cn.data(), k, o.confidence.data());
  return o;
}

}  // namespace distclust::assign
