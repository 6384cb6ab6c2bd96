// SCAN's softmax under UBSan: its exp builds 2^n from exponent bits, n <= 0
// (a left shift of a negative value was undefined), and a diverged head's
// NaN logits reach the int conversion of n (undefined for NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "scan/scan_heads.cpp"  // compiled here, instrumented (CMakeLists.txt)

namespace {

TEST(ScanHeadsUb, SoftmaxOfFarApartLogitsMatchesExp) {
  // Differences from 0 down to -199: every exponent n from 0 to the clamp.
  const int64_t n = 3, c = 200;
  const int heads = 2;
  std::vector<float> z(size_t(n * heads * c)), p(z.size());
  for (size_t i = 0; i < z.size(); ++i) z[i] = -float(i % size_t(c)) * (1.0f + 0.25f * float(i / size_t(c)));
  distclust::softmax_heads(z.data(), n, heads, c, p.data());
  for (int64_t g = 0; g < n * heads; ++g) {
    double s = 0;
    for (int64_t j = 0; j < c; ++j) s += std::exp(double(z[size_t(g * c + j)]));
    for (int64_t j = 0; j < c; ++j) {
      const double want = std::exp(double(z[size_t(g * c + j)])) / s;
      const double got = p[size_t(g * c + j)];
      if (want > 1e-30) {
        EXPECT_NEAR(got, want, 1e-6 * want) << "head row " << g << " column " << j;
      } else {
        EXPECT_LE(got, 1e-30) << "head row " << g << " column " << j;  // past the clamp: 0 or a tiny normal
      }
    }
  }
}

TEST(ScanHeadsUb, NaNLogitsGiveNaNProbabilities) {
  // The divergence check reads NaN off the loss: a NaN logit must make its
  // head's probabilities NaN, not finite (and not be undefined on the way).
  const int64_t c = 5;
  const std::vector<float> z = {0.5f, std::nanf(""), -1.0f, 2.0f, 0.0f};
  std::vector<float> p(z.size());
  distclust::softmax_heads(z.data(), 1, 1, c, p.data());
  for (int64_t j = 0; j < c; ++j) EXPECT_TRUE(std::isnan(p[size_t(j)])) << "column " << j << ": " << p[size_t(j)];
}

}  // namespace
