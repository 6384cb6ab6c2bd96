// The confidence of a k-means assignment, which
// kmeans.h5 does not store (scan.h5 has its own /confidence).
//
// Margin confidence: with d1 the squared distance of a row to its assigned
// centroid and d2 the squared distance to the nearest other centroid,
//     confidence = 1 - sqrt(d1 / d2), clamped to [0, 1].
// 1 for a row on its centroid, 0 for a row halfway between two centroids (on
// the boundary, where a small change would move it). Using distances rather
// than d1 alone makes it comparable across clusters of different spread, and
// the square root makes it the ratio of Euclidean distances.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// The margin above. d2 = +inf (a single centroid) gives 1; d1 = d2 = 0
/// (duplicate centroids) gives 0; d1 > d2 (a stale assignment) gives 0.
float margin_confidence(float d1, float d2);

/// One line for the report naming the definition.
extern const char* const kMarginDefinition;

/// Margins of rows x [n x d] (global rows first_row.., for the search
/// kernel's tiles) assigned to `assign` [n] (-1: margin 0) against centroids
/// c [k x d] with norms cn [k]: the two nearest centroids by the search
/// kernel (k = 2). When the assigned centroid is not one of them, d1 > d2 and
/// the margin is 0. Rows and centroids as k-means saw them (spherical: unit).
void kmeans_margins(const float* x, const int64_t* assign, int64_t n, int64_t d, int64_t first_row, const float* c,
                    const float* cn, int64_t k, float* out);

/// Collective. Reads each rank's row block of features (in pieces, so a
/// rank's memory stays bounded) and the centroids and assignment of a
/// kmeans.h5, and returns the margin confidence of all N rows on rank 0
/// (empty elsewhere). For spherical (cosine) k-means, rows and centroids are
/// L2-normalised first, as it clustered them. Rows with assign < 0 get 0.
std::vector<float> kmeans_margin_confidence(const std::string& features, const std::string& kmeans,
                                            Communicator& comm);

}  // namespace distclust
