#include "kernels/rows.h"

#include <cmath>

namespace distclust {

void row_norms(const float* x, int64_t n, int64_t d, float* out) {
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x + i * d;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; ++j) s += r[j] * r[j];
    out[i] = s;
  }
}

void normalize_rows(float* x, int64_t n, int64_t d, const uint8_t* valid) {
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (int64_t i = 0; i < n; ++i) {
    if (valid && !valid[i]) continue;
    float* r = x + i * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(r[j]) * r[j];
    if (s <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (int64_t j = 0; j < d; ++j) r[j] *= inv;
  }
}

}  // namespace distclust
