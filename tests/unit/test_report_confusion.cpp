// Confusion matrix and majority classes of report/confusion.h.
#include <gtest/gtest.h>

#include "distclust/error.h"
#include "report/confusion.h"

namespace distclust::report {
namespace {

using V = std::vector<int64_t>;

TEST(report_confusion, CountsByClusterAndClass) {
  //        rows:  0  1  2  3  4  5  6  7
  const V assign = {5, 5, 5, 2, 2, 9, 9, 9};
  const V labels = {0, 0, 1, 1, 1, 0, 3, 3};
  Confusion m = confusion_matrix(assign, labels, 1000);
  EXPECT_EQ(m.clusters, (V{2, 5, 9}));
  EXPECT_EQ(m.classes, (V{0, 1, 3}));
  ASSERT_TRUE(m.dense());
  EXPECT_EQ(m.counts, (V{0, 2, 0,     // cluster 2
                         2, 1, 0,     // cluster 5
                         1, 0, 2}));  // cluster 9
  EXPECT_EQ(m.at(1, 0), 2);
  EXPECT_EQ(m.n, 8);
}

TEST(report_confusion, LeavesOutInvalidRowsAndUnknownLabels) {
  const V assign = {0, -1, 1, 1, 0};
  const V labels = {2, 2, -1, 2, 4};
  Confusion m = confusion_matrix(assign, labels, 1000);
  EXPECT_EQ(m.n, 3);
  EXPECT_EQ(m.clusters, (V{0, 1}));
  EXPECT_EQ(m.classes, (V{2, 4}));
  // Cell by cell: GCC 12.2 at -O3 -march=native (AVX-512) compiled the
  // literal V{1, 1, 1, 0} here as {1, 1, 1, 1} (a broadcast without the zero).
  ASSERT_EQ(m.counts.size(), 4u);
  EXPECT_EQ(m.at(0, 0), 1);
  EXPECT_EQ(m.at(0, 1), 1);
  EXPECT_EQ(m.at(1, 0), 1);
  EXPECT_EQ(m.at(1, 1), 0);
}

TEST(report_confusion, TooLargeGivesIdsWithoutTable) {
  V assign, labels;
  for (int i = 0; i < 100; ++i) assign.push_back(i), labels.push_back(i % 7);
  Confusion m = confusion_matrix(assign, labels, 100 * 7 - 1);
  EXPECT_FALSE(m.dense());
  EXPECT_EQ(m.clusters.size(), 100u);
  EXPECT_EQ(m.classes.size(), 7u);
  EXPECT_TRUE(confusion_matrix(assign, labels, 700).dense());
}

TEST(report_confusion, SizeMismatchIsAnError) {
  EXPECT_THROW(confusion_matrix({0, 1}, {0}, 10), Error);
  EXPECT_THROW(majority_per_cluster({0, 1}, {0}, 2), Error);
}

TEST(report_confusion, MajorityClassPurityAndTies) {
  const V assign = {0, 0, 0, 1, 1, 2, -1, 0};
  const V labels = {3, 3, 1, 4, 2, -1, 3, -1};
  auto maj = majority_per_cluster(assign, labels, 4);
  ASSERT_EQ(maj.size(), 4u);
  EXPECT_EQ(maj[0].cls, 3);
  EXPECT_EQ(maj[0].count, 2);
  EXPECT_EQ(maj[0].labelled, 3);  // the unlabelled row 7 is not counted
  EXPECT_EQ(maj[1].cls, 2);       // tie 4 vs 2: the lower class id
  EXPECT_EQ(maj[1].count, 1);
  EXPECT_EQ(maj[2].cls, -1);  // only an unlabelled row
  EXPECT_EQ(maj[2].labelled, 0);
  EXPECT_EQ(maj[3].cls, -1);  // empty cluster
  EXPECT_THROW(majority_per_cluster({0, 5}, {0, 0}, 3), Error);
}

}  // namespace
}  // namespace distclust::report
