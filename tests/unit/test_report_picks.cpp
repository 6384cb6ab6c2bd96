// Gallery rows of report/picks.h: top-confidence prototypes and the keyed
// member draw (a pure function of seed and the cluster's rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "common/tolerances.h"
#include "distclust/error.h"
#include "report/picks.h"

namespace distclust::report {
namespace {

using V = std::vector<int64_t>;

TEST(report_sampling, PrototypesAreTopConfidenceTiesToLowerRow) {
  const V assign = {0, 0, 0, 0, 1, 1, 0};
  const std::vector<float> conf = {0.2f, 0.9f, 0.5f, 0.9f, 0.1f, 0.3f, NAN};
  PrototypeSource src;
  src.confidence = &conf;
  auto p = pick_rows(assign, 2, 3, 0, 1, src);
  EXPECT_EQ(p[0].prototypes, (V{1, 3, 2}));  // 0.9 (row 1), 0.9 (row 3), 0.5
  EXPECT_EQ(p[1].prototypes, (V{5, 4}));     // fewer rows than asked: all of them
  EXPECT_TRUE(p[0].members.empty());
}

TEST(report_sampling, MembersExcludePrototypesAndInvalidRows) {
  V assign(100, 0);
  for (int i = 0; i < 100; i += 3) assign[i] = -1;
  std::vector<float> conf(100);
  for (int i = 0; i < 100; ++i) conf[i] = float(i) / 100;
  PrototypeSource src;
  src.confidence = &conf;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    auto p = pick_rows(assign, 1, 4, 10, seed, src);
    ASSERT_EQ(p[0].prototypes.size(), 4u);
    ASSERT_EQ(p[0].members.size(), 10u);
    std::set<int64_t> seen(p[0].prototypes.begin(), p[0].prototypes.end());
    for (int64_t r : p[0].members) {
      EXPECT_NE(assign[r], -1);
      EXPECT_TRUE(seen.insert(r).second) << "row " << r << " shown twice";
    }
  }
}

TEST(report_sampling, SmallClusterShowsEveryRowOnce) {
  const V assign = {0, 1, 0, 1, 0};
  PrototypeSource src;
  std::vector<float> conf = {0.9f, 0.5f, 0.1f, 0.6f, 0.3f};
  src.confidence = &conf;
  auto p = pick_rows(assign, 2, 1, 8, 3, src);
  EXPECT_EQ(p[0].prototypes, (V{0}));
  V m0 = p[0].members;
  std::sort(m0.begin(), m0.end());
  EXPECT_EQ(m0, (V{2, 4}));
  EXPECT_EQ(p[1].prototypes, (V{3}));
  EXPECT_EQ(p[1].members, (V{1}));
}

TEST(report_sampling, DrawIsKeyedDeterministicAndLocalToTheCluster) {
  V assign(300);
  for (int i = 0; i < 300; ++i) assign[i] = i % 3;
  auto a = pick_rows(assign, 3, 0, 5, 42, {});
  EXPECT_EQ(a[1].members, pick_rows(assign, 3, 0, 5, 42, {})[1].members);  // same seed, same rows
  EXPECT_NE(a[1].members, pick_rows(assign, 3, 0, 5, 43, {})[1].members);  // another seed, others
  // Moving rows between clusters 0 and 2 leaves cluster 1's draw unchanged.
  V moved = assign;
  for (int i = 0; i < 300; ++i)
    if (moved[i] == 0 && i % 2) moved[i] = 2;
  EXPECT_EQ(a[1].members, pick_rows(moved, 3, 0, 5, 42, {})[1].members);
  // The draw is ordered by key: the keys of the chosen rows increase.
  for (size_t j = 1; j < a[1].members.size(); ++j)
    EXPECT_LT(member_key(42, 1, a[1].members[j - 1]), member_key(42, 1, a[1].members[j]));
}

TEST(report_sampling, EveryRowEquallyLikelyOverSeeds) {
  const int n = 20, m = 4, seeds = 5000;
  V assign(n, 0);
  std::map<int64_t, int> hits;
  for (int s = 0; s < seeds; ++s) {
    auto picks = pick_rows(assign, 1, 0, m, uint64_t(s), {});
    ASSERT_EQ(picks[0].members.size(), size_t(m));
    for (int64_t r : picks[0].members) ++hits[r];
  }
  const double expect = double(seeds) * m / n;  // 1000
  for (int r = 0; r < n; ++r) EXPECT_NEAR(hits[r], expect, tol::kDrawCountRelative * expect) << "row " << r;
}

TEST(report_sampling, GivenPrototypesWinAndPaddingIsSkipped) {
  const V assign = {0, 0, 1, 1, 1};
  const V given = {1, -1, 4, 2};  // [2 clusters x 2], -1 padded
  std::vector<float> conf = {0.9f, 0.1f, 0.2f, 0.8f, 0.3f};
  PrototypeSource src;
  src.confidence = &conf;
  src.given = &given;
  src.given_per = 2;
  auto p = pick_rows(assign, 2, 8, 8, 1, src);
  EXPECT_EQ(p[0].prototypes, (V{1}));
  EXPECT_EQ(p[0].members, (V{0}));
  EXPECT_EQ(p[1].prototypes, (V{4, 2}));
  EXPECT_EQ(p[1].members, (V{3}));
  const V bad = {9, -1, 4, 2};
  src.given = &bad;
  EXPECT_THROW(pick_rows(assign, 2, 8, 8, 1, src), Error);
}

TEST(report_sampling, AssignOutOfRangeIsAnError) { EXPECT_THROW(pick_rows({0, 3}, 2, 1, 1, 1, {}), Error); }

// Least confident: lowest first (NaN lowest), prototypes left out, rows of
// other clusters and invalid rows never; mismatched: labelled rows off the
// majority, most confident first.
TEST(report_sampling, DoubtsAreLeastConfidentAndMismatchedRows) {
  const V assign = {0, 0, 0, 0, 0, 1, -1, 0};
  const std::vector<float> conf = {0.9f, 0.1f, 0.5f, NAN, 0.8f, 0.0f, 0.0f, 0.3f};
  const V labels = {2, 2, 7, 2, 7, 2, 7, -1};
  std::vector<ClusterPicks> protos(2);
  protos[0].prototypes = {0, 4};
  auto d = pick_doubts(assign, 2, 3, 5, 1, conf, labels, {2, 2}, protos);
  EXPECT_EQ(d[0].least, (V{3, 1, 7}));       // NaN, 0.1, 0.3 (0.9 and 0.8 are prototypes)
  EXPECT_EQ(d[0].mismatched, (V{4, 2}));     // label 7 in a class-2 cluster: 0.8 before 0.5; row 7 unlabelled
  EXPECT_EQ(d[1].least, (V{5}));
  EXPECT_TRUE(d[1].mismatched.empty());
  // No confidence: no least confident strip; mismatched rows by the keyed draw, all of them here.
  auto n = pick_doubts(assign, 2, 3, 5, 1, {}, labels, {2, 2}, protos);
  EXPECT_TRUE(n[0].least.empty());
  EXPECT_EQ(std::set<int64_t>(n[0].mismatched.begin(), n[0].mismatched.end()), (std::set<int64_t>{2, 4}));
  // No labels: no mismatched rows; a cluster without a majority (-1) neither.
  EXPECT_TRUE(pick_doubts(assign, 2, 3, 5, 1, conf, {}, {}, protos)[0].mismatched.empty());
  EXPECT_TRUE(pick_doubts(assign, 2, 3, 5, 1, conf, labels, {-1, 2}, protos)[0].mismatched.empty());
  // Caps hold.
  auto c = pick_doubts(assign, 2, 1, 1, 1, conf, labels, {2, 2}, protos);
  EXPECT_EQ(c[0].least, (V{3}));
  EXPECT_EQ(c[0].mismatched, (V{4}));
  EXPECT_THROW(pick_doubts({0, 2}, 2, 1, 1, 1, {}, {}, {}, {}), Error);
}

}  // namespace
}  // namespace distclust::report
