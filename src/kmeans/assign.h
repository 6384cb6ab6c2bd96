// k-means assignment: the nearest centroid of every row, through the one
// search kernel (include/distclust/search.h) with k = 1. Query tiles align to
// global rows, so a row's distances, and with them the assignment, are the
// same for any rank and thread count.
#pragma once

#include <cstdint>

#include "distclust/search.h"
#include "extract/features_file.h"

namespace distclust {

/// For each local row i of b: the nearest of the centroids c [k x d] in
/// squared L2 (spherical: the largest inner product of unit rows, distance
/// 2 - 2 cos), ties to the lower index. labels [local rows]: -1 for invalid
/// rows; dist [local rows]: the squared distance, 0 for invalid rows. norms
/// [local rows]: |x_i|^2 (L2 only; may be null when spherical).
void assign_nearest(SearchKernel& kernel, const FeatureBlock& b, const float* norms, const float* c, int64_t k,
                    bool spherical, int64_t* labels, float* dist);

}  // namespace distclust
