// Model values read from a file (centroids, a mixture, a head) before they
// are used: NaN or Inf in one of them would not fail anywhere later, only
// give wrong clusters (a NaN centroid emptied its cluster; a NaN in a head
// made every confidence NaN) or index memory with a NaN score's empty slot.
#pragma once

#include <cstdint>
#include <string>

namespace distclust {

/// The squared norm past which float32 distances to a row would overflow
/// (sums of d squares, up to 4x a squared norm: 1e37 / 4).
constexpr double kMaxRowNorm2 = 1e37 / 4;
/// The squared norm under which, for the largest row of a data set, L2
/// distances are lost: a squared distance is below 4x it, and products of
/// values of that size fall under float32's smallest normal number (1.2e-38)
/// and are flushed to 0 (FTZ), every row then as near as any other.
/// 2^-100 (7.9e-31) leaves seven orders of magnitude above that.
constexpr double kMinL2Norm2 = 7.888609052210118e-31;

/// The squared row norm under which a denormal value in the row (below
/// float32's smallest normal number 2^-126 = 1.2e-38) is not negligible: a
/// norm under 2^-102 (2e-31) puts such a value above float32's rounding of
/// the row (2^-24 of its norm), so flushing it to 0 changes the row. Above
/// it a flushed denormal is lost in that rounding anyway.
constexpr double kDenormalsMatter2 = 0x1p-204;

/// Rows of x [n x d] (row-major) that hold NaN or Inf, finite rows whose
/// squared norm passes kMaxRowNorm2, and rows of denormal values only:
/// counts and the first of each (-1: none),
/// counting only rows with valid[i] != 0 (valid may be null: all).
struct RowScan {
  int64_t bad = 0, first_bad = -1, huge = 0, first_huge = -1;
  /// Rows whose denormal values count (their squared norm below
  /// kDenormalsMatter2): the kernels flush denormals to 0 (FTZ/DAZ), which
  /// changes such a row (one of denormals only reads as a zero row).
  int64_t denormal = 0, first_denormal = -1;
  double max_norm2 = 0;  ///< largest squared norm among the finite rows counted (denormals by their value)
};
RowScan scan_rows(const float* x, int64_t n, int64_t d, const uint8_t* valid = nullptr);
RowScan scan_rows(const double* x, int64_t n, int64_t d, const uint8_t* valid = nullptr);

/// Throws naming `what` (e.g. "km.h5: /centroids") and the first of its rows
/// x [n x d] (row-major) that holds NaN or Inf, or whose squared norm passes
/// 2.5e36 (float32 distances to it would overflow, as check_finite refuses
/// for features). Every rank reads the same values: not collective.
void require_finite_rows(const float* x, int64_t n, int64_t d, const std::string& what);
void require_finite_rows(const double* x, int64_t n, int64_t d, const std::string& what);

}  // namespace distclust
