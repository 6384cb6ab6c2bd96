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

}  // namespace distclust
