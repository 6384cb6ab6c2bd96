// The search kernel's 64-lane threshold masks (src/kernels/score_mask.h):
// every vector path this CPU can run, and the one the build dispatches to,
// give the bits of the scalar compare, including NaN, infinities and scores
// equal to the threshold.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <vector>

#include "distclust/rng.h"
#include "kernels/score_mask.h"

using namespace distclust;
using namespace distclust::search_detail;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

/// 64 scores, 64 biases and 64 thresholds with the awkward values mixed in:
/// ties on the threshold, NaN, +-inf, and plain random values.
struct Case {
  std::vector<float> g = std::vector<float>(64), bias = std::vector<float>(64), thr = std::vector<float>(64);
};

Case make_case(uint64_t seed) {
  KeyedRng rng(seed, 17);
  Case c;
  const float special[] = {0.f, -0.f, kInf, -kInf, std::nanf(""), 1.f, -1.f};
  for (int l = 0; l < 64; ++l) {
    const uint64_t pick = rng.below(10);
    c.g[l] = pick < 7 ? special[pick] : float(rng.normal());
    c.bias[l] = rng.below(4) == 0 ? -kInf : float(rng.normal());
    c.thr[l] = rng.below(5) == 0 ? -kInf : float(rng.normal());
    if (rng.below(4) == 0) c.thr[l] = c.g[l] + c.bias[l];  // exactly on the threshold
  }
  return c;
}

}  // namespace

TEST(ScoreMask, EveryPathGivesTheScalarBits) {
  int checked_avx512 = 0, checked_avx2 = 0;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    const Case c = make_case(seed);
    for (int t = 0; t < 64; t += 7) {
      const float thr = c.thr[t];
      const uint64_t want = ge_mask64_scalar(c.g.data(), c.bias.data(), thr);
      const uint64_t want_cols = ge_mask64_cols_scalar(c.g.data(), c.bias[t], c.thr.data());
      ASSERT_EQ(ge_mask64(c.g.data(), c.bias.data(), thr), want) << "seed " << seed << " threshold " << thr;
      ASSERT_EQ(ge_mask64_cols(c.g.data(), c.bias[t], c.thr.data()), want_cols) << "seed " << seed;
#if DISTCLUST_X86_MASKS
      if (__builtin_cpu_supports("avx512f")) {
        ASSERT_EQ(ge_mask64_avx512(c.g.data(), c.bias.data(), thr), want) << "seed " << seed;
        ASSERT_EQ(ge_mask64_cols_avx512(c.g.data(), c.bias[t], c.thr.data()), want_cols) << "seed " << seed;
        ++checked_avx512;
      }
      if (__builtin_cpu_supports("avx2")) {
        ASSERT_EQ(ge_mask64_avx2(c.g.data(), c.bias.data(), thr), want) << "seed " << seed;
        ASSERT_EQ(ge_mask64_cols_avx2(c.g.data(), c.bias[t], c.thr.data()), want_cols) << "seed " << seed;
        ++checked_avx2;
      }
#endif
    }
  }
#if DISTCLUST_X86_MASKS
  if (checked_avx512 == 0) std::printf("note: this CPU has no AVX-512; that path was not run\n");
  if (checked_avx2 == 0) std::printf("note: this CPU has no AVX2; that path was not run\n");
#endif
}

TEST(ScoreMask, TailGivesTheScalarBitsOfItsLanesOnly) {
  // A row's partial last block (n < 64 lanes, e.g. an IVF list of 100 rows:
  // 64 + 36): the bits of its lanes, none beyond, also with a threshold of
  // -inf (an empty heap), which the padding itself would reach.
  int minus_inf = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const Case c = make_case(seed);
    for (int64_t n = 1; n < 64; ++n) {
      const float thr = n % 5 == 0 ? -kInf : c.thr[size_t(n)];
      minus_inf += thr == -kInf;
      const uint64_t want = ge_mask64_scalar(c.g.data(), c.bias.data(), thr) & ((uint64_t(1) << n) - 1);
      // Only n valid floats: the rest of a heap block must not be read.
      const std::vector<float> g(c.g.begin(), c.g.begin() + n), bias(c.bias.begin(), c.bias.begin() + n);
      ASSERT_EQ(ge_mask64_tail(g.data(), bias.data(), thr, n), want) << "seed " << seed << " n " << n;
    }
  }
  EXPECT_GT(minus_inf, 1000);
}

TEST(ScoreMask, ScalarBitsFollowTheCompare) {
  // The reference itself, on hand-made lanes: bit l is g + bias >= thr.
  std::vector<float> g(64, 0.f), bias(64, 0.f);
  g[0] = 1.f;             // above
  g[1] = 0.5f;            // equal to the threshold: set
  g[2] = std::nanf("");   // NaN: never set
  g[3] = kInf, bias[3] = -kInf;  // inf - inf = NaN: never set
  g[63] = 2.f;            // the top bit
  const uint64_t m = ge_mask64_scalar(g.data(), bias.data(), 0.5f);
  EXPECT_EQ(m, (uint64_t(1) << 0) | (uint64_t(1) << 1) | (uint64_t(1) << 63));
  uint64_t rest = m;
  EXPECT_EQ(pop_lowest(rest), 0);
  EXPECT_EQ(pop_lowest(rest), 1);
  EXPECT_EQ(pop_lowest(rest), 63);
  EXPECT_EQ(rest, 0u);
  // A threshold of -inf (an empty heap) sets every lane but NaN ones.
  EXPECT_EQ(ge_mask64_scalar(g.data(), bias.data(), -kInf), ~((uint64_t(1) << 2) | (uint64_t(1) << 3)));
}
