// The portable branch of src/kernels/score_mask.h (taken on CPUs other than
// x86, e.g. ARM nodes): compiled here by hiding the x86 macros from the
// header, after every system header it uses is in (so that only its own
// code lands in namespace `portable`), and checked against the scalar
// reference, NaN and infinities included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "distclust/rng.h"

#pragma push_macro("__x86_64__")
#pragma push_macro("__i386__")
#undef __x86_64__
#undef __i386__
// In a namespace of its own: the same inline functions with other bodies
// must not meet the x86 ones at link time (one definition rule).
namespace portable {
#include "kernels/score_mask.h"
}  // namespace portable
#pragma pop_macro("__i386__")
#pragma pop_macro("__x86_64__")

#ifdef DISTCLUST_X86_MASKS
#error "score_mask.h took its x86 paths in the portable-branch test"
#endif

TEST(ScoreMask, PortableBranchGivesTheScalarBits) {
  using distclust::KeyedRng;
  using namespace portable::distclust::search_detail;
  const float inf = std::numeric_limits<float>::infinity();
  const float special[] = {0.f, inf, -inf, std::nanf(""), 1.f};
  KeyedRng rng(5, 23);
  for (int it = 0; it < 5000; ++it) {
    float g[64], b[64];
    for (int l = 0; l < 64; ++l) {
      g[l] = rng.below(8) == 0 ? special[rng.below(5)] : float(rng.normal());
      b[l] = rng.below(6) == 0 ? -inf : float(rng.normal());
    }
    // Thresholds from empty heaps (-inf) to above every score (most blocks skipped).
    float thr = rng.below(5) == 0 ? -inf : float(rng.normal()) + float(rng.below(4));
    if (rng.below(4) == 0) {  // a score exactly on the threshold: its bit must be set
      const int l = int(rng.below(64));
      g[l] = float(rng.normal()) + 4.f, b[l] = 0.f, thr = g[l];
    }
    ASSERT_EQ(ge_mask64(g, b, thr), ge_mask64_scalar(g, b, thr)) << "draw " << it << " threshold " << thr;
    ASSERT_EQ(ge_mask64_cols(g, b[0], b), ge_mask64_cols_scalar(g, b[0], b)) << "draw " << it;
    const int64_t n = 1 + int64_t(rng.below(63));  // a partial last block: its lanes only
    ASSERT_EQ(ge_mask64_tail(g, b, thr, n), ge_mask64_scalar(g, b, thr) & ((uint64_t(1) << n) - 1)) << "draw " << it;
  }
}
