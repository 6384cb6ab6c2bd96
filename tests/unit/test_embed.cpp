// embed's pieces: UMAP's curve fit against scipy's (umap-learn's
// find_ab_params), the sigma search, the fuzzy union.
#include <gtest/gtest.h>

#include <cmath>

#include "comm/local_comm.h"
#include "embed/embed.h"

using namespace distclust;

TEST(Embed, CurveFitMatchesUmapLearn) {
  // Values from scipy.optimize.curve_fit on umap-learn's find_ab_params target.
  struct Case { double min_dist, spread, a, b; };
  for (const Case& c : {Case{0.1, 1.0, 1.57694346, 0.89506088}, Case{0.0, 1.0, 1.9328084, 0.79049497},
                        Case{0.5, 1.0, 0.58303002, 1.33416699}, Case{0.25, 2.0, 0.4162735, 0.92185513}}) {
    const CurveAB ab = fit_ab(c.min_dist, c.spread);
    EXPECT_NEAR(ab.a, c.a, 1e-4 * c.a) << "min_dist " << c.min_dist << " spread " << c.spread;
    EXPECT_NEAR(ab.b, c.b, 1e-4 * c.b) << "min_dist " << c.min_dist << " spread " << c.spread;
  }
}

TEST(Embed, CurveFitScalesWithTheSpread) {
  // At min_dist 0 the target is exp(-x / spread): b is the spread's for any
  // spread and a = a_1 spread^(-2b). Fitted on the unscaled axis, spread 0.2
  // gave b = -124.9 and spread 0.1 b = -5.3e19 (so did scipy's curve_fit).
  const CurveAB one = fit_ab(0.0, 1.0);
  for (double spread : {0.3, 0.2, 0.1, 0.01, 3.0, 100.0}) {
    const CurveAB ab = fit_ab(0.0, spread);
    EXPECT_NEAR(ab.b, one.b, 1e-9) << "spread " << spread;
    EXPECT_NEAR(ab.a, one.a * std::pow(spread, -2 * one.b), 1e-9 * ab.a) << "spread " << spread;
  }
  for (double spread : {0.2, 0.1, 1e10}) {
    const CurveAB ab = fit_ab(0.05 * std::min(1.0, spread), spread);
    EXPECT_GT(ab.a, 0) << spread;
    EXPECT_GT(ab.b, 0) << spread;
  }
}

TEST(Embed, SigmaSearchHitsLog2OfNeighbours) {
  const float d[6] = {0.05f, 0.1f, 0.2f, -1.0f, 0.4f, 0.9f};  // -1: no edge
  const RhoSigma rs = smooth_knn_row(d, 6, 0.3);
  EXPECT_FLOAT_EQ(rs.rho, 0.05f);
  double sum = 0;
  for (float x : d)
    if (x >= 0) sum += std::exp(-std::max(0.0, x - rs.rho) / rs.sigma);
  EXPECT_NEAR(sum, std::log2(5.0 + 1.0), 1e-4);  // 5 edges + the row itself
  // All neighbours at one distance: the sum cannot reach the target; sigma
  // grows without changing any weight (every d - rho is 0).
  const float same[3] = {0.5f, 0.5f, 0.5f};
  EXPECT_FLOAT_EQ(smooth_knn_row(same, 3, 0.5).rho, 0.5f);
  // No positive distance (duplicates): rho 0, sigma floored by the graph mean.
  const float zero[2] = {0.0f, 0.0f};
  EXPECT_GE(smooth_knn_row(zero, 2, 2.0).sigma, 2e-3);
}

TEST(Embed, FuzzyUnionIsSymmetric) {
  LocalCommunicator self;
  // Directed: 0->1 (0.5), 1->0 (0.4), 1->2 (0.3), 3->0 (1.0).
  const FuzzyGraph g = fuzzy_union(4, {0, 4}, {0, 1, 1, 3}, {1, 0, 2, 0}, {0.5f, 0.4f, 0.3f, 1.0f}, self);
  auto weight = [&](int64_t i, int64_t j) {
    for (int64_t e = g.offsets[i]; e < g.offsets[i + 1]; ++e)
      if (g.cols[e] == j) return double(g.weights[e]);
    return 0.0;
  };
  EXPECT_NEAR(weight(0, 1), 0.5 + 0.4 - 0.5 * 0.4, 1e-6);
  EXPECT_NEAR(weight(1, 2), 0.3, 1e-6);
  EXPECT_NEAR(weight(0, 3), 1.0, 1e-6);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(weight(i, j), weight(j, i)) << i << ", " << j;
  EXPECT_EQ(g.offsets.back(), 6);  // three symmetric edges, once per endpoint
}
