// kmeans.h5, the output of `distclust kmeans`: written and read here only.
//   /centroids [k x D] float32   final centroids
//   /assign    [N] int64         cluster of each row, -1 for invalid rows
//   /distance  [N] float32       squared L2 distance to its centroid (spherical: 2 - 2 cos)
//   /inertia   [iterations] float64  sum of distances per Lloyd iteration of the kept restart
//   /centre    [D] float32       only when the rows were centred (extract/row_centre.h): the
//                                centre subtracted from rows and centroids before distances
//   /sweep_k, /sweep_inertia, /sweep_silhouette [K values]  a K sweep (kmeans_sweep.h),
//     with attributes suggested_k and sweep_sample; the datasets above are the fit at suggested_k
// Attributes: k, spherical (1 = cosine k-means: rows and centroids are unit
// vectors), iterations, best_restart, empty_splits, final_inertia, and the
// stage attributes of every output (created_by, stage, params, config_hash).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/rows_identity.h"
#include "distclust/comm.h"
#include "extract/features_file.h"
#include "kmeans/kmeans.h"
#include "kmeans/kmeans_sweep.h"

namespace distclust {

/// Writes kmeans.h5 (collective).
void write_kmeans(const std::string& path, Communicator& comm, const FeatureBlock& data, const RowsIdentity& rows, const KMeansResult& r,
                  const std::string& params_yaml, const std::string& params_hash, const KMeansSweep* sweep = nullptr);

/// A kmeans.h5's sweep (empty k when it has none), on this process alone.
KMeansSweep read_kmeans_sweep(const std::string& path);

/// The model part of a kmeans.h5: what assigning new rows needs.
struct KMeansModel {
  int64_t k = 0, d = 0;
  bool spherical = false;
  std::vector<float> centroids;  ///< [k x d]
  std::vector<float> centre;     ///< [d] /centre: subtract from rows and centroids first (empty: none)
};

/// Reads the model of a kmeans.h5 on this process alone. Throws naming the
/// file when /centroids is not [k x D].
KMeansModel read_kmeans_model(const std::string& path);

}  // namespace distclust
