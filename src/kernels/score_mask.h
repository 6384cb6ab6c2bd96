// 64-lane threshold masks for the CPU search kernel's selection
// (search_offer.h): which of 64 scores reach a threshold, as the bits of one
// word, so that the candidates of a block are visited by their set bits
// instead of one compare each. Once a query's heap is warm, most blocks of
// a tile have no bit set; while it warms (the first tiles of a join, or the
// columns of a tile offered to 64 different queries) a block typically has a
// few, and visiting those few replaces a scalar pass over all 64 (measured
// in bench/RESULTS.md, "kNN selection").
//
// Each score is g[l] + bias in single precision and compared with >=
// exactly as the scalar code does: a NaN or a score below the threshold
// never sets its bit. AVX-512 and AVX2 paths where the build targets them
// (DISTCLUST_NATIVE), a portable loop otherwise; the three give the same
// bits (tests/unit/test_score_mask.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DISTCLUST_X86_MASKS 1
#endif

namespace distclust {
namespace search_detail {

/// Portable reference: bit l set where g[l] + bias[l] >= thr, l < 64.
inline uint64_t ge_mask64_scalar(const float* g, const float* bias, float thr) {
  uint64_t m = 0;
  for (int l = 0; l < 64; ++l) m |= uint64_t(g[l] + bias[l] >= thr) << l;
  return m;
}

/// Portable reference: bit l set where g[l] + b >= thr[l], l < 64.
inline uint64_t ge_mask64_cols_scalar(const float* g, float b, const float* thr) {
  uint64_t m = 0;
  for (int l = 0; l < 64; ++l) m |= uint64_t(g[l] + b >= thr[l]) << l;
  return m;
}

#if DISTCLUST_X86_MASKS
// The vector paths are compiled for their instruction sets whatever the
// build targets (so that the unit tests check each one on a CPU that has
// it); ge_mask64 / ge_mask64_cols below call the widest one the build
// targets.
__attribute__((target("avx512f"))) inline uint64_t ge_mask64_avx512(const float* g, const float* bias, float thr) {
  const __m512 t = _mm512_set1_ps(thr);
  uint64_t m = 0;
  for (int q = 0; q < 4; ++q) {
    const __m512 v = _mm512_add_ps(_mm512_loadu_ps(g + 16 * q), _mm512_loadu_ps(bias + 16 * q));
    m |= uint64_t(_mm512_cmp_ps_mask(v, t, _CMP_GE_OQ)) << (16 * q);
  }
  return m;
}

__attribute__((target("avx512f"))) inline uint64_t ge_mask64_cols_avx512(const float* g, float b, const float* thr) {
  const __m512 bb = _mm512_set1_ps(b);
  uint64_t m = 0;
  for (int q = 0; q < 4; ++q) {
    const __m512 v = _mm512_add_ps(_mm512_loadu_ps(g + 16 * q), bb);
    m |= uint64_t(_mm512_cmp_ps_mask(v, _mm512_loadu_ps(thr + 16 * q), _CMP_GE_OQ)) << (16 * q);
  }
  return m;
}

__attribute__((target("avx2"))) inline uint64_t ge_mask64_avx2(const float* g, const float* bias, float thr) {
  const __m256 t = _mm256_set1_ps(thr);
  uint64_t m = 0;
  for (int q = 0; q < 8; ++q) {
    const __m256 v = _mm256_add_ps(_mm256_loadu_ps(g + 8 * q), _mm256_loadu_ps(bias + 8 * q));
    m |= uint64_t(unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, t, _CMP_GE_OQ)))) << (8 * q);
  }
  return m;
}

__attribute__((target("avx2"))) inline uint64_t ge_mask64_cols_avx2(const float* g, float b, const float* thr) {
  const __m256 bb = _mm256_set1_ps(b);
  uint64_t m = 0;
  for (int q = 0; q < 8; ++q) {
    const __m256 v = _mm256_add_ps(_mm256_loadu_ps(g + 8 * q), bb);
    m |= uint64_t(unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_loadu_ps(thr + 8 * q), _CMP_GE_OQ))))
         << (8 * q);
  }
  return m;
}
#endif

/// Bit l set where g[l] + bias[l] >= thr, l < 64 (one query, 64 candidates).
inline uint64_t ge_mask64(const float* g, const float* bias, float thr) {
#if DISTCLUST_X86_MASKS && defined(__AVX512F__)
  return ge_mask64_avx512(g, bias, thr);
#elif DISTCLUST_X86_MASKS && defined(__AVX2__)
  return ge_mask64_avx2(g, bias, thr);
#else
  // Without the vector paths (not x86): a vectorisable max first, so that a
  // block below the threshold (most, once a heap is warm) costs no mask. A
  // NaN maximum falls through to the exact lanes.
  float top = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : top)
  for (int l = 0; l < 64; ++l) top = std::max(top, g[l] + bias[l]);
  if (top < thr) return 0;
  return ge_mask64_scalar(g, bias, thr);
#endif
}

/// Bit l set where g[l] + b >= thr[l], l < 64 (one candidate, 64 queries).
inline uint64_t ge_mask64_cols(const float* g, float b, const float* thr) {
#if DISTCLUST_X86_MASKS && defined(__AVX512F__)
  return ge_mask64_cols_avx512(g, b, thr);
#elif DISTCLUST_X86_MASKS && defined(__AVX2__)
  return ge_mask64_cols_avx2(g, b, thr);
#else
  return ge_mask64_cols_scalar(g, b, thr);
#endif
}

/// Bit l set where g[l] + bias[l] >= thr for l < n, 0 < n < 64: a row's
/// last, partial block. Copied into a block of 64 so that the one vector
/// compare above serves it; the lanes from n on are cleared. (IVF lists are
/// ~100 rows long, so a scalar pass over the remainder was ~40% of the
/// scores offered, each compare a branch that a cold heap mispredicts.)
inline uint64_t ge_mask64_tail(const float* g, const float* bias, float thr, int64_t n) {
  float gg[64], bb[64];
  std::copy_n(g, n, gg);
  std::fill(gg + n, gg + 64, 0.f);
  std::copy_n(bias, n, bb);
  std::fill(bb + n, bb + 64, 0.f);
  return ge_mask64(gg, bb, thr) & ((uint64_t(1) << n) - 1);
}

/// Index of the lowest set bit of m != 0, and clears it.
inline int pop_lowest(uint64_t& m) {
  const int l = __builtin_ctzll(m);
  m &= m - 1;
  return l;
}

}  // namespace search_detail
}  // namespace distclust
