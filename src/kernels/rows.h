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

}  // namespace distclust
