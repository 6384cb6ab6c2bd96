// Model values read from a file (centroids, a mixture, a head) before they
// are used: NaN or Inf in one of them would not fail anywhere later, only
// give wrong clusters (a NaN centroid emptied its cluster; a NaN in a head
// made every confidence NaN) or index memory with a NaN score's empty slot.
#pragma once

#include <cstdint>
#include <string>

namespace distclust {

/// Throws naming `what` (e.g. "km.h5: /centroids") and the first of its rows
/// x [n x d] (row-major) that holds NaN or Inf, or whose squared norm passes
/// 2.5e36 (float32 distances to it would overflow, as check_finite refuses
/// for features). Every rank reads the same values: not collective.
void require_finite_rows(const float* x, int64_t n, int64_t d, const std::string& what);
void require_finite_rows(const double* x, int64_t n, int64_t d, const std::string& what);

}  // namespace distclust
