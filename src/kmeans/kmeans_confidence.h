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

/// Collective. Reads each rank's row block of features (in pieces, so a
/// rank's memory stays bounded) and the centroids and assignment of a
/// kmeans.h5, and returns the margin confidence of all N rows on rank 0
/// (empty elsewhere). For spherical (cosine) k-means, rows and centroids are
/// L2-normalised first, as it clustered them. Rows with assign < 0 get 0.
std::vector<float> kmeans_margin_confidence(const std::string& features, const std::string& kmeans,
                                            Communicator& comm);

}  // namespace distclust
