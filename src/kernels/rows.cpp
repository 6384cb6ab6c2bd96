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

void dot_rows(const float* x, int64_t d, const int64_t* rows, int64_t nr, const float* c, int64_t t, float* out) {
#pragma omp parallel for schedule(static) if (nr * t * d > 65536)
  for (int64_t r = 0; r < nr; ++r) {
    const float* xr = x + rows[r] * d;
    int64_t j = 0;
    // Four columns at a time: each value of the row is loaded once for four
    // products. The summation order of a product depends on d and on whether
    // its column falls in a group of four (fixed by j and t), nothing else.
    for (; j + 4 <= t; j += 4) {
      const float *c0 = c + j * d, *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int64_t q = 0; q < d; ++q) {
        const float v = xr[q];
        s0 += v * c0[q];
        s1 += v * c1[q];
        s2 += v * c2[q];
        s3 += v * c3[q];
      }
      out[r * t + j] = s0, out[r * t + j + 1] = s1, out[r * t + j + 2] = s2, out[r * t + j + 3] = s3;
    }
    for (; j < t; ++j) {
      const float* cj = c + j * d;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t q = 0; q < d; ++q) s += xr[q] * cj[q];
      out[r * t + j] = s;
    }
  }
}

}  // namespace distclust
