// Internal to src/knn: the pieces of IVF kNN search that the search
// itself (knn_ivf.cpp) and the choice of nprobe (ivf_tune.cpp) share.
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"
#include "extract/row_sample.h"  // keyed_sample, gather_rows
#include "knn/knn.h"

namespace distclust::ivf {

/// The `np` best lists of each row of x [n x d] (global rows first_row..)
/// against centroids c [nl x d], best first (score <x,c> for cosine,
/// 2<x,c> - |c|^2 for l2; ties to the lower list), through the search
/// kernel. Returns [n x np].
std::vector<int32_t> nearest_lists(const float* x, int64_t n, int64_t d, int64_t first_row, const std::vector<float>& c,
                                   int64_t nl, int np, bool l2);

/// Local queries per search round: a query travels to each rank owning one
/// of its lists (up to min(nprobe, ranks)) and every rank receives from
/// all, so the round is divided by both: its buffers per rank are about one
/// rank's whatever the rank count (2^21 / nprobe alone made them grow with
/// it: 268, 273, 327 MiB per rank on 1, 2, 4 ranks at N=80k, nprobe 80).
int64_t round_queries(int np, int ranks);

/// The rank [n x nl] of every list for each row of x (0 = its nearest list),
/// in nearest_lists' order.
std::vector<int32_t> list_ranks(const float* x, int64_t n, int64_t d, const std::vector<float>& c, int64_t nl,
                                bool l2);

/// Exact k nearest valid rows of each sample row (self excluded), as global
/// rows [m x k], best first (collective; replicated). qx: [m x d] the sample's vectors.
std::vector<int64_t> exact_sample_topk(const FeatureBlock& b, const std::vector<int64_t>& rows,
                                       const std::vector<float>& qx, const KnnParams& p, Communicator& comm);

/// The smallest nprobe at which a keyed sample of p.tune_sample rows would
/// find a fraction >= p.target_recall of its exact k neighbours (collective).
/// Exact for IVF: a true neighbour is found iff its list (its nearest
/// centroid, computed here for the neighbours only, so that the home pass
/// can keep as many lists as the chosen nprobe) is probed. Also returns that
/// predicted recall. cent: the nl coarse centroids [nl x d].
struct Tuned {
  int nprobe = 1;
  double predicted_recall = 0;
  int64_t sample_rows = 0;  ///< rows of the tuning sample (valid rows only)
};
Tuned tune_nprobe(const FeatureBlock& b, const std::vector<float>& cent, int64_t nl, const KnnParams& p,
                  Communicator& comm);

}  // namespace distclust::ivf
