// Choosing K: k-means at each K of a list, with the inertia and a sampled
// silhouette score per K; the K with the best silhouette is suggested (ties:
// the smaller K) and its fit is what kmeans.h5 holds. `distclust kmeans
// --k 5,10,20,50` (or --k A:B[:STEP]) sets kmeans.sweep.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

/// The K values of a sweep: "5,10,20,50" or "A:B" (every K) or "A:B:STEP",
/// sorted, without repeats. Throws naming `where` when a value is not an
/// integer >= 2, a range is empty, or there are more than 64 values.
std::vector<int> parse_sweep(const std::string& where, const std::string& text);

/// Mean silhouette of the assignment `assign` ([local rows], -1 = invalid)
/// over a keyed sample of about `sample` valid rows (the same rows for any
/// rank count): for a sampled row, a = mean distance to the other sampled
/// rows of its cluster, b = the lowest mean distance to the sampled rows of
/// another cluster, s = (b - a) / max(a, b) (0 when its cluster has no
/// other sampled row). Euclidean distance on the rows as they are (unit rows
/// for spherical k-means, where it orders as the cosine). O(sample^2 D),
/// the sampled rows gathered on every rank and the work split between them
/// (collective). Returns 0 when fewer than 2 clusters are sampled.
double sampled_silhouette(const FeatureBlock& b, const std::vector<int64_t>& assign, int64_t sample, uint64_t seed,
                          Communicator& comm);

/// One sweep's results, as kmeans.h5 stores them (/sweep_k, /sweep_inertia,
/// /sweep_silhouette, attribute suggested_k).
struct KMeansSweep {
  std::vector<int64_t> k;
  std::vector<double> inertia, silhouette;
  int64_t suggested_k = 0;
  int64_t sample = 0;      ///< kmeans.sweep_sample: rows drawn for each silhouette
  int64_t valid_rows = 0;  ///< valid rows of the features (0: not recorded, an older file)
};

/// The rows a sweep's silhouettes were computed on, as the log and the
/// report say it: "all N rows" when there were no more than the sample,
/// else "about S sampled rows" (rows are kept with probability S / N).
inline std::string sweep_rows_text(int64_t sample, int64_t valid_rows) {
  if (valid_rows > 0 && valid_rows <= sample) return "all " + std::to_string(valid_rows) + " rows";
  return "about " + std::to_string(sample) + " sampled rows";
}

}  // namespace distclust
