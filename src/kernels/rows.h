// Row-wise helpers on row-major float matrices [n x d], written once.
#pragma once

#include <cstdint>

namespace distclust {

/// out[i] = |x_i|^2 for each row of x [n x d] (float sums, threaded).
void row_norms(const float* x, int64_t n, int64_t d, float* out);

/// Scales each row of x [n x d] to unit L2 norm in place (the norm summed in
/// double, one float multiply per value); zero rows, and rows with
/// valid[i] == 0 (valid may be null), are left as they are.
void normalize_rows(float* x, int64_t n, int64_t d, const uint8_t* valid = nullptr);

/// out[r * t + j] = <x_{rows[r]}, c_j> for the selected rows of x [.. x d]
/// (rows: nr indices) and the t rows of c [t x d]. Each product is summed in
/// one fixed order (no BLAS), so a row's values do not depend on which other
/// rows are selected, nor on the thread count; for a few columns (k-means++
/// candidates) it reads each row once instead of packing it for a GEMM.
void dot_rows(const float* x, int64_t d, const int64_t* rows, int64_t nr, const float* c, int64_t t, float* out);

/// out[r * t + j] = |x_{rows[r]} - c_j|^2, summed from the differences in the
/// same fixed forms as dot_rows. Unlike |x|^2 - 2<x,c> + |c|^2 in float,
/// which is off by up to ~2(d + 4) u (|x|^2 + |c|^2), this is within ~d u of
/// the distance itself: rows far from the origin in every column (1e4 in 16
/// columns: errors of ~100) may lie 0.1 apart.
void diff_rows(const float* x, int64_t d, const int64_t* rows, int64_t nr, const float* c, int64_t t, float* out);

/// |x - c|^2 of one row x [d] and one vector c [d], summed from the
/// differences as diff_rows sums them (within ~d u of the distance; its
/// four-column form may differ in the last bits), without diff_rows' call
/// and threading set-up per row.
float diff_row(const float* x, const float* c, int64_t d);

}  // namespace distclust
