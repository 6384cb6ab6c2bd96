// Clustering metrics: hand-computed tables, the assignment solvers against
// brute force, and ACC / NMI / ARI against scikit-learn 1.2 reference values.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/tolerances.h"
#include "distclust/error.h"
#include "eval/metrics.h"
#include "eval/score_text.h"

namespace distclust {
namespace {

using Labels = std::vector<int64_t>;

// ---------------------------------------------------------------------------
// Hand-computable cases.

TEST(Metrics, PerfectMatchScoresOne) {
  const Labels truth = {0, 0, 1, 1, 1, 2, 2, 2, 2};
  const Scores s = score(truth, truth);
  EXPECT_EQ(s.acc, 1.0);
  EXPECT_EQ(s.nmi, 1.0);
  EXPECT_EQ(s.ari, 1.0);
  EXPECT_EQ(s.n, 9);
  EXPECT_EQ(s.classes, 3);
  EXPECT_EQ(s.clusters, 3);
  EXPECT_FALSE(s.many_to_one);
}

TEST(Metrics, PermutedArbitraryLabelsScoreOne) {
  const Labels truth = {0, 0, 1, 1, 2, 2, 2};
  const Labels pred = {700, 700, 5, 5, 1000000000000LL, 1000000000000LL, 1000000000000LL};
  const Scores s = score(truth, pred);
  EXPECT_EQ(s.acc, 1.0);
  EXPECT_EQ(s.nmi, 1.0);
  EXPECT_EQ(s.ari, 1.0);
}

// Table rows = classes, columns = clusters: [[2,1,0],[0,1,2]].
TEST(Metrics, KnownTableMoreClustersThanClasses) {
  const Labels truth = {0, 0, 0, 1, 1, 1};
  const Labels pred = {0, 0, 1, 1, 2, 2};
  const Scores s = score(truth, pred);
  // Pairs: sum C(n_ij,2) = 2, sum C(a_i,2) = 6, sum C(b_j,2) = 3, C(6,2) = 15;
  // expected index 6*3/15 = 1.2, max 4.5: ARI = 0.8 / 3.3.
  EXPECT_NEAR(s.ari, 8.0 / 33.0, tol::kDoubleClosedForm);
  // MI = 2 * (2/6) ln 2 = (2/3) ln 2; H = ln 2 and ln 3.
  EXPECT_NEAR(s.nmi, (2.0 / 3.0) * std::log(2.0) / ((std::log(2.0) + std::log(3.0)) / 2), tol::kDoubleClosedForm);
  // Majority: 2 + 1 + 2 of 6.
  EXPECT_TRUE(s.many_to_one);
  EXPECT_NEAR(s.acc, 5.0 / 6.0, tol::kDoubleClosedForm);
}

// Table [[3,2],[2,0]]: greedy takes the 3 and then a 0; the optimum is 2 + 2.
TEST(Metrics, HungarianBeatsGreedy) {
  const Labels truth = {0, 0, 0, 0, 0, 1, 1};
  const Labels pred = {0, 0, 0, 1, 1, 0, 0};
  const Scores s = score(truth, pred);
  EXPECT_FALSE(s.many_to_one);
  EXPECT_NEAR(s.acc, 4.0 / 7.0, tol::kDoubleClosedForm);
  // sum C(n_ij,2) = 5, sum C(a,2) = sum C(b,2) = 11, C(7,2) = 21:
  // (5 - 121/21) / (11 - 121/21) = -16/110.
  EXPECT_NEAR(s.ari, -8.0 / 55.0, tol::kDoubleClosedForm);
}

// Table [[1,1],[1,1]]: independent labelings.
TEST(Metrics, IndependentLabelings) {
  const Labels truth = {0, 0, 1, 1};
  const Labels pred = {0, 1, 0, 1};
  const Scores s = score(truth, pred);
  EXPECT_NEAR(s.nmi, 0.0, tol::kDoubleClosedForm);
  EXPECT_NEAR(s.ari, -0.5, tol::kDoubleClosedForm);  // (0 - 2/3) / (2 - 2/3)
  EXPECT_NEAR(s.acc, 0.5, tol::kDoubleClosedForm);
}

TEST(Metrics, IgnoresNegativeLabels) {
  const Labels truth = {0, 0, 0, -1, 1, 1, 1, 1, 5};
  const Labels pred = {0, 0, 1, 3, 1, 2, 2, -1, -7};
  const Scores s = score(truth, pred);
  const Scores ref = score({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2});
  EXPECT_EQ(s.n, 6);
  EXPECT_EQ(s.classes, 2);  // class 5 only on an invalid row
  EXPECT_EQ(s.clusters, 3);  // cluster 3 only on an unknown-truth row
  EXPECT_EQ(s.acc, ref.acc);
  EXPECT_EQ(s.nmi, ref.nmi);
  EXPECT_EQ(s.ari, ref.ari);
}

TEST(Metrics, SingleRow) {
  const Scores s = score({4}, {9});
  EXPECT_EQ(s.acc, 1.0);
  EXPECT_EQ(s.nmi, 1.0);  // sklearn: both unsplit is a perfect match
  EXPECT_EQ(s.ari, 1.0);  // sklearn: no pair disagrees
}

TEST(Metrics, BothAllSingletons) {
  const Labels truth = {0, 1, 2, 3, 4, 5};
  const Labels pred = {5, 3, 1, 0, 2, 4};
  const Scores s = score(truth, pred);
  EXPECT_EQ(s.acc, 1.0);
  EXPECT_EQ(s.nmi, 1.0);
  EXPECT_EQ(s.ari, 1.0);  // sklearn special case: fn = fp = 0
}

TEST(Metrics, OneClassManyClusters) {
  const Labels truth(6, 3);
  const Labels pred = {0, 1, 2, 3, 4, 5};
  const Scores s = score(truth, pred);
  EXPECT_TRUE(s.many_to_one);
  EXPECT_EQ(s.acc, 1.0);  // every cluster maps to the only class
  EXPECT_EQ(s.nmi, 0.0);  // sklearn: one unsplit labeling gives MI = 0
  EXPECT_EQ(s.ari, 0.0);
}

TEST(Metrics, OneClusterManyClasses) {
  const Labels truth = {0, 1, 2, 3, 4, 5};
  const Labels pred(6, 0);
  const Scores s = score(truth, pred);
  EXPECT_FALSE(s.many_to_one);
  EXPECT_NEAR(s.acc, 1.0 / 6.0, tol::kDoubleClosedForm);
  EXPECT_EQ(s.nmi, 0.0);
  EXPECT_EQ(s.ari, 0.0);
}

TEST(Metrics, OneClassOneCluster) {
  const Scores s = score(Labels(5, 2), Labels(5, 8));
  EXPECT_EQ(s.acc, 1.0);
  EXPECT_EQ(s.nmi, 1.0);
  EXPECT_EQ(s.ari, 1.0);
}

TEST(Metrics, NoRowThrows) {
  EXPECT_THROW(score({}, {}), Error);
  try {
    score({-1, 0, -1}, {0, -1, 3});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no row to score"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nmi(Labels{-1}, Labels{0}), Error);
  EXPECT_THROW(ari(Labels{-1}, Labels{0}), Error);
  EXPECT_THROW(accuracy(Labels{-1}, Labels{0}), Error);
}

TEST(Metrics, SizeMismatchThrows) { EXPECT_THROW(score({0, 1}, {0}), Error); }

TEST(Metrics, SingleMetricsMatchScore) {
  const Labels truth = {0, 0, 1, 1, 2, 2, 2, 3};
  const Labels pred = {1, 1, 1, 0, 0, 2, 2, 2};
  const Scores s = score(truth, pred);
  EXPECT_EQ(nmi(truth, pred), s.nmi);
  EXPECT_EQ(ari(truth, pred), s.ari);
  EXPECT_EQ(accuracy(truth, pred), s.acc);
}

TEST(Contingency, CompactIdsInLabelOrder) {
  const Labels truth = {50, 50, 10, 10, 10, -1};
  const Labels pred = {7, 3, 3, 3, 7, 9};
  const Contingency t = contingency_table(truth, pred);
  EXPECT_EQ(t.n, 5);
  EXPECT_EQ(t.class_sizes, (std::vector<int64_t>{3, 2}));    // 10, 50
  EXPECT_EQ(t.cluster_sizes, (std::vector<int64_t>{3, 2}));  // 3, 7 (9 only on an ignored row)
  ASSERT_EQ(t.cells.size(), 4u);
  const int64_t expect[4][3] = {{0, 0, 2}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}};
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(t.cells[k].cls, expect[k][0]);
    EXPECT_EQ(t.cells[k].cluster, expect[k][1]);
    EXPECT_EQ(t.cells[k].count, expect[k][2]);
  }
}

/// The table as a map from (truth label, pred label) to count.
std::map<std::pair<int64_t, int64_t>, int64_t> pair_counts(const Labels& truth, const Labels& pred) {
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (size_t i = 0; i < truth.size(); ++i)
    if (truth[i] >= 0 && pred[i] >= 0) ++counts[{truth[i], pred[i]}];
  return counts;
}

/// t's cells with compact ids turned back into labels.
std::map<std::pair<int64_t, int64_t>, int64_t> table_counts(const Contingency& t, const Labels& truth,
                                                            const Labels& pred) {
  std::vector<int64_t> class_label, cluster_label;
  for (const auto& [key, count] : pair_counts(truth, pred)) {
    class_label.push_back(key.first);
    cluster_label.push_back(key.second);
  }
  for (auto* v : {&class_label, &cluster_label}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (const ContingencyCell& c : t.cells) counts[{class_label.at(c.cls), cluster_label.at(c.cluster)}] = c.count;
  return counts;
}

// Small tables are counted densely, big ones by class buckets; compact labels
// use a lookup table for renumbering, widely spread ones a hash map. Every
// combination must give the same cells, sorted, with consistent margins.
TEST(Contingency, AllCountingPathsAgree) {
  std::mt19937_64 rng(5);
  for (int k : {30, 1500}) {  // 900 cells: dense; 2.25M cells > 1M and n / 2: buckets
    SCOPED_TRACE(k);
    const int n = 3000;
    Labels truth(n), pred(n), truth_big(n), pred_big(n);
    for (int i = 0; i < n; ++i) {
      truth[i] = rng() % k;
      pred[i] = rng() % 1000 < 20 ? -1 : int64_t(rng() % k);
      truth_big[i] = truth[i] * 1000000007LL + 13;
      pred_big[i] = pred[i] < 0 ? -1 : pred[i] * 4000000000000LL;
    }
    for (bool big : {false, true}) {
      const Labels& t_labels = big ? truth_big : truth;
      const Labels& p_labels = big ? pred_big : pred;
      const Contingency t = contingency_table(t_labels, p_labels);
      EXPECT_EQ(table_counts(t, t_labels, p_labels), pair_counts(t_labels, p_labels));
      for (size_t c = 1; c < t.cells.size(); ++c)
        EXPECT_TRUE(std::make_pair(t.cells[c - 1].cls, t.cells[c - 1].cluster) <
                    std::make_pair(t.cells[c].cls, t.cells[c].cluster));
      std::vector<int64_t> a(t.classes(), 0), b(t.clusters(), 0);
      for (const ContingencyCell& c : t.cells) {
        a[c.cls] += c.count;
        b[c.cluster] += c.count;
      }
      EXPECT_EQ(a, t.class_sizes);
      EXPECT_EQ(b, t.cluster_sizes);
      EXPECT_EQ(std::accumulate(a.begin(), a.end(), int64_t(0)), t.n);
    }
  }
}

// ---------------------------------------------------------------------------
// Assignment solvers.

double assignment_cost(const std::vector<double>& cost, int cols, const std::vector<int>& col_of) {
  double total = 0;
  for (size_t r = 0; r < col_of.size(); ++r)
    if (col_of[r] >= 0) total += cost[r * cols + col_of[r]];
  return total;
}

/// Each column at most once, min(rows, cols) pairs.
void expect_valid_assignment(const std::vector<int>& col_of, int rows, int cols) {
  ASSERT_EQ(col_of.size(), size_t(rows));
  std::vector<int> used(cols, 0);
  int pairs = 0;
  for (int c : col_of) {
    if (c < 0) continue;
    ASSERT_LT(c, cols);
    EXPECT_EQ(used[c]++, 0) << "column " << c << " used twice";
    ++pairs;
  }
  EXPECT_EQ(pairs, std::min(rows, cols));
}

/// Minimum over all injective maps of the smaller side into the larger one.
double brute_force_min_cost(const std::vector<double>& cost, int rows, int cols) {
  const int m = std::max(rows, cols);
  std::vector<int> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  double best = INFINITY;
  do {  // row r takes column perm[r]; pairs outside the matrix are free
    double total = 0;
    for (int r = 0; r < rows; ++r)
      if (perm[r] < cols) total += cost[size_t(r) * cols + perm[r]];
    best = std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(Hungarian, MatchesBruteForceOnRandomMatrices) {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 400; ++trial) {
    const int rows = 1 + rng() % 7, cols = 1 + rng() % 7;
    std::vector<double> cost(size_t(rows) * cols);
    const bool ints = trial % 2 == 0;  // small integers force many ties
    for (double& c : cost)
      c = ints ? double(int(rng() % 7) - 3) : std::uniform_real_distribution<double>(-5, 5)(rng);
    const std::vector<int> col_of = hungarian_min_cost(cost, rows, cols);
    expect_valid_assignment(col_of, rows, cols);
    EXPECT_NEAR(assignment_cost(cost, cols, col_of), brute_force_min_cost(cost, rows, cols), tol::kDoubleIterative)
        << rows << " x " << cols << " trial " << trial;
  }
}

TEST(Hungarian, KnownSquare) {
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};  // optimum 1 + 2 + 2
  const std::vector<int> col_of = hungarian_min_cost(cost, 3, 3);
  EXPECT_EQ(col_of, (std::vector<int>{1, 0, 2}));
}

TEST(Hungarian, EmptyAndInvalidInputs) {
  EXPECT_TRUE(hungarian_min_cost({}, 0, 4).empty());
  EXPECT_EQ(hungarian_min_cost({}, 3, 0), (std::vector<int>{-1, -1, -1}));
  EXPECT_THROW(hungarian_min_cost({1, 2, 3}, 2, 2), Error);
  EXPECT_THROW(hungarian_min_cost({1, NAN, 3, 4}, 2, 2), Error);
  EXPECT_THROW(hungarian_min_cost({1, INFINITY, 3, 4}, 2, 2), Error);
}

int64_t matching_weight(const std::vector<ContingencyCell>& cells, const std::vector<int>& col_of) {
  int64_t total = 0;
  for (const ContingencyCell& c : cells) total += col_of[c.cls] == c.cluster ? c.count : 0;
  return total;
}

TEST(SparseMatching, MatchesDenseHungarian) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 320; ++trial) {
    const int side = trial < 300 ? 40 : 200;  // a few bigger tables: longer paths
    const int rows = 1 + rng() % side, cols = 1 + rng() % side;
    const int density = 1 + rng() % 100;  // percent of nonzero cells
    std::vector<ContingencyCell> cells;
    std::vector<double> cost(size_t(rows) * cols, 0.0);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        if (int(rng() % 100) < density) {
          const int64_t w = 1 + rng() % (trial % 3 == 0 ? 3 : 1000);
          cells.push_back({r, c, w});
          cost[size_t(r) * cols + c] = -double(w);
        }
    std::shuffle(cells.begin(), cells.end(), rng);
    const std::vector<int> sparse = sparse_max_weight_matching(cells, rows, cols);
    ASSERT_EQ(sparse.size(), size_t(rows));
    std::vector<int> used(cols, 0);
    for (int c : sparse) {
      if (c >= 0) {
        EXPECT_EQ(used[c]++, 0);
      }
    }
    const double dense = -assignment_cost(cost, cols, hungarian_min_cost(cost, rows, cols));
    EXPECT_EQ(double(matching_weight(cells, sparse)), dense)
        << rows << " x " << cols << " density " << density << " trial " << trial;
  }
}

TEST(SparseMatching, EdgeCases) {
  EXPECT_EQ(sparse_max_weight_matching({}, 3, 2), (std::vector<int>{-1, -1, -1}));
  // Row 1 has no nonzero cell; zero-weight cells are ignored.
  const std::vector<ContingencyCell> cells = {{0, 1, 5}, {2, 1, 6}, {2, 0, 4}, {1, 0, 0}};
  const std::vector<int> m = sparse_max_weight_matching(cells, 3, 2);
  EXPECT_EQ(m, (std::vector<int>{1, -1, 0}));
  EXPECT_THROW(sparse_max_weight_matching({{0, 2, 1}}, 1, 2), Error);
  EXPECT_THROW(sparse_max_weight_matching({{0, 0, -1}}, 1, 1), Error);
}

// ---------------------------------------------------------------------------
// scikit-learn reference values.

/// SplitMix64; must match tests/tools/metrics_reference.py.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

struct RefCase {
  const char* name;
  uint64_t seed;
  int n, classes, clusters, agree, ignore;
  int64_t t_stride, t_offset, p_stride, p_offset;
  int64_t scored;
  int distinct_classes, distinct_clusters;
  bool many_to_one;
  double acc, nmi, ari;
};

/// make_labels of tests/tools/metrics_reference.py.
void make_labels(const RefCase& c, Labels& truth, Labels& pred) {
  SplitMix64 rng{c.seed};
  truth.resize(c.n);
  pred.resize(c.n);
  for (int i = 0; i < c.n; ++i) {
    const uint64_t r1 = rng.next(), r2 = rng.next(), r3 = rng.next(), r4 = rng.next();
    const int64_t t = r1 % c.classes;
    const int64_t p = r2 % 1000 < uint64_t(c.agree) ? (t * 7 + 3) % c.clusters : int64_t(r3 % c.clusters);
    const int64_t u = r4 % 1000;
    truth[i] = t * c.t_stride + c.t_offset;
    pred[i] = p * c.p_stride + c.p_offset;
    if (u < c.ignore) {
      if (u % 2 == 0)
        truth[i] = -1;
      else
        pred[i] = -(1 + u);
    }
  }
}

// Output of `/usr/bin/python3 tests/tools/metrics_reference.py` (Debian's
// python3-sklearn; the python3 first on PATH may lack it), pasted verbatim.
const RefCase kReferenceCases[] = {
// Generated by tests/tools/metrics_reference.py with scikit-learn 1.2.1, SciPy 1.10.1, NumPy 1.24.2.
// name, seed, n, classes, clusters, agree, ignore, t_stride, t_offset, p_stride, p_offset,
//   scored rows, distinct classes, distinct clusters, many_to_one, acc, nmi, ari
    {"random_small", 1, 50, 3, 4, 300, 0, 1LL, 0, 1LL, 0, 50, 3, 4, true, 0.64, 0.21876662590266324, 0.24196747322491075},
    {"independent_10x10", 2, 2000, 10, 10, 0, 0, 1LL, 0, 1LL, 0, 2000, 10, 10, false, 0.1375, 0.010775177766699706, 0.0010614652818189778},
    {"noisy_10x10", 3, 2000, 10, 10, 700, 0, 1LL, 0, 1LL, 0, 2000, 10, 10, false, 0.7465, 0.5209668056760111, 0.5154632652444917},
    {"many_to_one_10x30", 4, 3000, 10, 30, 600, 0, 1LL, 0, 1LL, 0, 3000, 10, 30, true, 0.649, 0.4143048025407573, 0.4286008711671556},
    {"fewer_clusters_20x7", 5, 3000, 20, 7, 800, 0, 1LL, 0, 1LL, 0, 3000, 20, 7, false, 0.064, 0.008220675882596189, -0.00015913209254898994},
    {"perfect_permuted", 6, 1000, 12, 12, 1000, 0, 3LL, 5, 1000003LL, 11, 1000, 12, 12, false, 1.0, 1.0000000000000002, 1.0},
    {"merged_classes", 7, 1000, 12, 4, 1000, 0, 1LL, 0, 1LL, 0, 1000, 12, 4, false, 0.357, 0.7161534794263098, 0.4267743515683027},
    {"ignored_rows", 8, 4000, 5, 6, 500, 250, 1LL, 0, 1LL, 0, 3001, 5, 6, true, 0.6037987337554148, 0.24814090555549104, 0.26305719728032306},
    {"huge_labels", 9, 5000, 50, 60, 500, 50, 1000000000000000LL, 7, 123456789012LL, 3, 4764, 50, 60, true, 0.5264483627204031, 0.43996345802255893, 0.27801954029693965},
    {"one_class", 10, 500, 1, 5, 0, 0, 1LL, 0, 1LL, 0, 500, 1, 5, true, 1.0, 0.0, 0.0},
    {"one_cluster", 11, 500, 6, 1, 0, 0, 1LL, 0, 1LL, 0, 500, 6, 1, false, 0.174, 0.0, 0.0},
    {"one_class_one_cluster", 12, 100, 1, 1, 0, 0, 1LL, 0, 1LL, 0, 100, 1, 1, false, 1.0, 1.0, 1.0},
    {"tiny_many_labels", 13, 30, 25, 25, 0, 0, 1LL, 0, 1LL, 0, 30, 18, 19, true, 0.6333333333333333, 0.7965392358870865, -0.0332541567695962},
    {"dense_hungarian_200x150", 17, 5000, 200, 150, 500, 0, 1LL, 0, 1LL, 0, 5000, 200, 150, false, 0.4032, 0.6005516779867515, 0.21522823708432495},
    {"sparse_matching_1000x900", 14, 20000, 1000, 900, 400, 0, 1LL, 0, 1LL, 0, 20000, 1000, 900, false, 0.37085, 0.6780645795433943, 0.15222625484610922},
    {"sparse_matching_3000x2500", 15, 60000, 3000, 2500, 600, 0, 1LL, 0, 1LL, 0, 60000, 3000, 2500, false, 0.5165666666666666, 0.7968007497154858, 0.3204599533219865},
    {"many_to_one_100x1000", 16, 100000, 100, 1000, 500, 0, 1LL, 0, 1LL, 0, 100000, 100, 1000, true, 0.52641, 0.48350842316943593, 0.37460751087756833},
    {"sparse_table_near_random_2000x2000", 18, 100000, 2000, 2000, 50, 100, 1LL, 0, 1LL, 0, 90126, 2000, 2000, false, 0.053280962208463706, 0.5056426399644166, 0.0024521207715514364},
};

TEST(Metrics, MatchesScikitLearnReference) {
  for (const RefCase& c : kReferenceCases) {
    SCOPED_TRACE(c.name);
    Labels truth, pred;
    make_labels(c, truth, pred);
    const Scores s = score(truth, pred);
    EXPECT_EQ(s.n, c.scored);
    EXPECT_EQ(s.classes, c.distinct_classes);
    EXPECT_EQ(s.clusters, c.distinct_clusters);
    EXPECT_EQ(s.many_to_one, c.many_to_one);
    EXPECT_NEAR(s.acc, c.acc, tol::kDoubleIterative);
    EXPECT_NEAR(s.nmi, c.nmi, tol::kDoubleIterative);
    EXPECT_NEAR(s.ari, c.ari, tol::kDoubleIterative);
  }
}

// ---------------------------------------------------------------------------
// Scale: 100k rows and thousands of clusters, near-random labels (the worst
// case for the matching: many small equal counts) must score in well under a
// second; the whole test stays under ~2 s.

TEST(Metrics, ThousandsOfClustersAreFast) {
  const auto start = std::chrono::steady_clock::now();
  for (int k : {1000, 4000}) {
    SCOPED_TRACE(k);
    const RefCase c = {"speed", 99, 100000, k, k, 100, 0, 1, 0, 1, 0, 0, 0, 0, false, 0, 0, 0};
    Labels truth, pred;
    make_labels(c, truth, pred);
    const Scores s = score(truth, pred);
    EXPECT_EQ(s.n, 100000);
    EXPECT_EQ(s.clusters, k);
    // A tenth of the rows sit on a permutation of the classes.
    EXPECT_GT(s.acc, 0.09);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace distclust

// ACC 0.9995 once printed as 1.000 in the report header and the run summary.
TEST(ScoreText, BelowOneNeverReadsAsOne) {
  using distclust::score_text;
  EXPECT_EQ(score_text(0.9181, 3), "0.918");
  EXPECT_EQ(score_text(1.0, 3), "1.000");
  EXPECT_EQ(score_text(0.9995, 3), "0.9995");
  EXPECT_EQ(score_text(0.99996, 4), "0.99996");
  EXPECT_EQ(score_text(0.99949, 3), "0.999");
  EXPECT_EQ(score_text(-0.0004, 3), "-0.000");
  EXPECT_EQ(score_text(1.0 - 1e-12, 3), "0.999999999");  // stops at 9 decimals, still below 1
}
