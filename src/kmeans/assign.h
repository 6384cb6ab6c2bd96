// k-means assignment: the nearest centroid of every row, through the one
// search kernel (include/distclust/search.h) with k = 2 (L2; spherical
// k = 1). Query tiles align to
// global rows, so a row's distances, and with them the assignment, are the
// same for any rank and thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/search.h"
#include "extract/features_file.h"

namespace distclust {

/// For each local row i of b: the nearest of the centroids c [k x d] in
/// squared L2 (spherical: the largest inner product of unit rows, distance
/// 2 - 2 cos), ties to the lower index. L2: the kernel's best two scores;
/// a row whose two lie within their rounding (kernels/score_rounding.h's
/// l2_choice_unsure) is decided again by diff_row
/// (kernels/rows.h) against each centroid whose norm could make it nearer.
/// dist is |x|^2 - score, or diff_row's |x - c|^2 (within ~d u of itself)
/// where the former's rounding may exceed 2^-8 of it: rows far from the
/// origin compared with their distances are assigned as rows near it are.
/// labels [local rows]: -1 for invalid rows; dist [local rows]: the squared
/// distance, 0 for invalid rows. norms [local rows]: |x_i|^2 (L2 only; may
/// be null when spherical). Returns how many rows were decided again.
int64_t assign_nearest(SearchKernel& kernel, const FeatureBlock& b, const float* norms, const float* c, int64_t k,
                       bool spherical, int64_t* labels, float* dist);

/// Each valid row's squared distance to its own centroid, scored exactly in
/// double (knn/graph_value.h's exact_score; spherical: 2 - 2 x.c) instead of
/// through the kernel's |x|^2 - 2 x.c + |c|^2. Restarts that reach one
/// partition hold the same centroids (exact sums) in another order; the
/// kernel's rounding can depend on a centroid's position (OpenBLAS' Prescott
/// kernels do), so their inertias differed in the last bits and the noise
/// chose the restart: the same data gave other cluster numbers per BLAS core
/// type and kernel. Here a row's distance depends on its values only, the
/// restarts tie, and the first is kept. Costs n x d per restart.
/// c [k x d]; lab, dist [local rows] (dist 0 where lab < 0). Also
/// kmeans.h5's /distance and assign's /kmeans_distance: the float form is
/// ~100 off for rows near 1e4 in every column.
void own_centroid_distances(const FeatureBlock& b, const std::vector<float>& c, const std::vector<int64_t>& lab,
                            bool spherical, std::vector<float>& dist);

}  // namespace distclust
