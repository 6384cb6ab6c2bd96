// SCAN's health checks (scan/scan_health.h) and eval's method lists.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "distclust/error.h"
#include "eval/eval.h"
#include "scan/scan_health.h"

namespace distclust {
namespace {

// A loss that falls like a - b (1 - exp(-e / tau)): tau small = settled.
std::vector<double> falling(int epochs, double tau) {
  std::vector<double> v;
  for (int e = 0; e < epochs; ++e) v.push_back(-10 * (1 - std::exp(-double(e) / tau)));
  return v;
}

bool has(const ScanHealth& h, const std::string& what) {
  for (const auto& w : h.warnings)
    if (w.rfind(what, 0) == 0) return true;
  return false;
}

TEST(scan_health, SettledRunIsHealthy) {
  const ScanHealth h = scan_health(falling(60, 5), 0.9, {95, 100, 105}, "");
  EXPECT_TRUE(h.warnings.empty()) << h.warnings.front();
  EXPECT_EQ(h.late_epochs, 6);
  EXPECT_LT(h.late_fall, 0.01);
  EXPECT_EQ(h.smallest, 95);
  EXPECT_EQ(h.largest, 105);
}

TEST(scan_health, LossStillFallingIsFlagged) {
  // Linear fall: each tenth is a tenth of the whole fall, above the 5% bar.
  std::vector<double> lin;
  for (int e = 0; e < 60; ++e) lin.push_back(-0.1 * e);
  const ScanHealth h = scan_health(lin, 0.9, {10, 10}, "");
  EXPECT_TRUE(has(h, "loss still falling")) << testing::PrintToString(h.warnings);
  EXPECT_NEAR(h.late_fall, 0.6 / (5.9 - 0.25 + 0.0), 0.05);
  // A loss that rose is not "still falling"; one epoch cannot tell.
  EXPECT_FALSE(has(scan_health({-1, -2, -1.5}, 0.9, {1, 1}, ""), "loss still falling"));
  EXPECT_TRUE(std::isnan(scan_health({-1}, 0.9, {1, 1}, "").late_fall));
}

TEST(scan_health, LowConfidenceAndUnbalancedSizes) {
  const ScanHealth h = scan_health(falling(60, 5), 0.31, {2, 64, 20}, "");
  EXPECT_TRUE(has(h, "low confidence"));
  EXPECT_TRUE(has(h, "unbalanced clusters: sizes 2..64"));
  EXPECT_FALSE(has(scan_health(falling(60, 5), 0.5, {10, 100}, ""), "low confidence"));
  EXPECT_FALSE(has(scan_health(falling(60, 5), 0.9, {10, 100}, ""), "unbalanced"));  // exactly 10x: allowed
  EXPECT_TRUE(has(scan_health(falling(60, 5), 0.9, {0, 100}, ""), "unbalanced"));
}

TEST(scan_health, CollapseIsListedFirst) {
  const ScanHealth h = scan_health(falling(60, 5), 0.31, {1, 99}, "cluster 1 holds 99 of 100 rows");
  ASSERT_GE(h.warnings.size(), 2u);
  EXPECT_EQ(h.warnings[0], "collapse: cluster 1 holds 99 of 100 rows");
}

TEST(eval_methods, ParsesNameFilePairsInOrder) {
  auto m = parse_methods("kmeans=w/kmeans.h5,scan=w/a=b.h5", "x");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, "kmeans");
  EXPECT_EQ(m[0].second, "w/kmeans.h5");
  EXPECT_EQ(m[1].second, "w/a=b.h5");
  EXPECT_TRUE(parse_methods("", "x").empty());
  EXPECT_THROW(parse_methods("kmeans.h5", "eval.compare"), Error);
  EXPECT_THROW(parse_methods("=f.h5", "eval.compare"), Error);
  EXPECT_THROW(parse_methods("a=f.h5,a=g.h5", "eval.compare"), Error);
}

}  // namespace
}  // namespace distclust
