#include "kernels/rows.h"

#include <algorithm>
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

namespace {

// The products of one row with four columns, and of two rows with the same
// four: each sum has the same form (one accumulator per product, the same
// simd reduction over q), so a row's values are the same bits whether it is
// paired or not. Two rows share each column load: 6 loads per 8 products
// instead of 5 per 4, which is what bounds this loop (rows gathered from
// memory, few columns).
inline void dot1x4(const float* x, const float* c, int64_t d, float* out) {
  const float *c0 = c, *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t q = 0; q < d; ++q) {
    const float v = x[q];
    s0 += v * c0[q];
    s1 += v * c1[q];
    s2 += v * c2[q];
    s3 += v * c3[q];
  }
  out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

inline void dot2x4(const float* x, const float* y, const float* c, int64_t d, float* ox, float* oy) {
  const float *c0 = c, *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, u0 = 0, u1 = 0, u2 = 0, u3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, u0, u1, u2, u3)
  for (int64_t q = 0; q < d; ++q) {
    const float v = x[q], w = y[q];
    s0 += v * c0[q];
    s1 += v * c1[q];
    s2 += v * c2[q];
    s3 += v * c3[q];
    u0 += w * c0[q];
    u1 += w * c1[q];
    u2 += w * c2[q];
    u3 += w * c3[q];
  }
  ox[0] = s0, ox[1] = s1, ox[2] = s2, ox[3] = s3;
  oy[0] = u0, oy[1] = u1, oy[2] = u2, oy[3] = u3;
}

inline float dot1(const float* x, const float* c, int64_t d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t q = 0; q < d; ++q) s += x[q] * c[q];
  return s;
}

// The same shapes for squared distances: each term is a difference
// squared, so the sums lose nothing to cancellation (diff_rows).
inline void diff1x4(const float* x, const float* c, int64_t d, float* out) {
  const float *c0 = c, *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t q = 0; q < d; ++q) {
    const float v = x[q];
    const float e0 = v - c0[q], e1 = v - c1[q], e2 = v - c2[q], e3 = v - c3[q];
    s0 += e0 * e0;
    s1 += e1 * e1;
    s2 += e2 * e2;
    s3 += e3 * e3;
  }
  out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

inline void diff2x4(const float* x, const float* y, const float* c, int64_t d, float* ox, float* oy) {
  const float *c0 = c, *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, u0 = 0, u1 = 0, u2 = 0, u3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, u0, u1, u2, u3)
  for (int64_t q = 0; q < d; ++q) {
    const float v = x[q], w = y[q];
    const float e0 = v - c0[q], e1 = v - c1[q], e2 = v - c2[q], e3 = v - c3[q];
    const float f0 = w - c0[q], f1 = w - c1[q], f2 = w - c2[q], f3 = w - c3[q];
    s0 += e0 * e0;
    s1 += e1 * e1;
    s2 += e2 * e2;
    s3 += e3 * e3;
    u0 += f0 * f0;
    u1 += f1 * f1;
    u2 += f2 * f2;
    u3 += f3 * f3;
  }
  ox[0] = s0, ox[1] = s1, ox[2] = s2, ox[3] = s3;
  oy[0] = u0, oy[1] = u1, oy[2] = u2, oy[3] = u3;
}

inline float diff1(const float* x, const float* c, int64_t d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t q = 0; q < d; ++q) s += (x[q] - c[q]) * (x[q] - c[q]);
  return s;
}

/// Rows in pairs, each against the t columns four at a time (dot_rows and
/// diff_rows): the form of a value depends on d and its column alone.
template <class One, class OneX4, class TwoX4>
void pair_rows(const float* x, int64_t d, const int64_t* rows, int64_t nr, const float* c, int64_t t, float* out,
               One one, OneX4 one_x4, TwoX4 two_x4) {
  const int64_t pairs = nr / 2;
#pragma omp parallel for schedule(static) if (nr * t * d > 65536)
  for (int64_t p = 0; p <= pairs; ++p) {
    const int64_t r = 2 * p;
    if (r >= nr) continue;
    const bool two = r + 1 < nr;
    const float* xr = x + rows[r] * d;
    const float* yr = two ? x + rows[r + 1] * d : nullptr;
    float *ox = out + r * t, *oy = out + (r + 1) * t;
    // The selected rows are scattered: ask for the next pair's lines now,
    // so they arrive while this pair is multiplied (the loop waits on
    // memory, not on arithmetic).
    for (int64_t n = r + 2; n < std::min(r + 4, nr); ++n)
      for (int64_t q = 0; q < d; q += 16) __builtin_prefetch(x + rows[n] * d + q);
    int64_t j = 0;
    for (; j + 4 <= t; j += 4)
      if (two)
        two_x4(xr, yr, c + j * d, d, ox + j, oy + j);
      else
        one_x4(xr, c + j * d, d, ox + j);
    for (; j < t; ++j) {
      ox[j] = one(xr, c + j * d, d);
      if (two) oy[j] = one(yr, c + j * d, d);
    }
  }
}

}  // namespace

void diff_rows(const float* x, int64_t d, const int64_t* rows, int64_t nr, const float* c, int64_t t, float* out) {
  pair_rows(x, d, rows, nr, c, t, out, diff1, diff1x4, diff2x4);
}

float diff_row(const float* x, const float* c, int64_t d) { return diff1(x, c, d); }

void dot_rows(const float* x, int64_t d, const int64_t* rows, int64_t nr, const float* c, int64_t t, float* out) {
  pair_rows(x, d, rows, nr, c, t, out, dot1, dot1x4, dot2x4);
}

}  // namespace distclust
