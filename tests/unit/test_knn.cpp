// Exact kNN against brute force; the top-k heap's ordering rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/test_common.h"
#include "distclust/topk.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "knn/ivf_parts.h"
#include "knn/knn.h"
#include "synth/synth_features.h"

using namespace distclust;

namespace {

using test::mixture;

/// Brute-force neighbours in double: best first, ties to the lower row.
std::vector<int64_t> brute(const FeatureBlock& b, int64_t q, int k, bool l2) {
  std::vector<std::pair<double, int64_t>> s;
  for (int64_t j = 0; j < b.local_rows(); ++j) {
    if (j == q || !b.valid[j]) continue;
    double v = 0;
    for (int64_t t = 0; t < b.d; ++t) {
      double a = b.x[q * b.d + t], c = b.x[j * b.d + t];
      v += l2 ? -(a - c) * (a - c) : a * c;
    }
    s.emplace_back(-v, j);
  }
  std::partial_sort(s.begin(), s.begin() + k, s.end());
  std::vector<int64_t> out;
  for (int i = 0; i < k; ++i) out.push_back(s[i].second);
  return out;
}

}  // namespace

TEST(TopK, KeepsBestAndBreaksTiesByLowerIndex) {
  TopK t(1, 3);
  for (int64_t j : {9, 3, 7, 5, 1}) t.push(0, 1.0f, j);  // all tied
  t.push(0, 0.5f, 0);                                    // worse than all
  std::vector<int64_t> got(t.indices(0), t.indices(0) + 3);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int64_t>{1, 3, 5}));
  t.push(0, 2.0f, 100);
  got.assign(t.indices(0), t.indices(0) + 3);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int64_t>{1, 3, 100}));
  EXPECT_EQ(t.threshold(0), 1.0f);
}

TEST(KnnExact, MatchesBruteForceCosineAndL2) {
  LocalCommunicator c;
  for (bool l2 : {false, true}) {
    FeatureBlock b = mixture(1500, 12, 6, 1.0, 3);
    for (int64_t i = 0; i < b.local_rows(); i += 7) b.valid[i] = 0;
    KnnParams p;
    p.k = 8, p.metric = l2 ? "l2" : "cosine", p.tile_rows = 100, p.tile_cols = 48;  // ragged tiles
    KnnGraph g = knn_exact(b, p, c);
    int64_t mism = 0;
    for (int64_t q = 0; q < b.local_rows(); ++q) {
      if (!b.valid[q]) {
        for (int j = 0; j < p.k; ++j) EXPECT_EQ(g.indices[q * p.k + j], -1);
        continue;
      }
      auto ref = brute(b, q, p.k, l2);
      for (int j = 0; j < p.k; ++j) {
        int64_t nb = g.indices[q * p.k + j];
        ASSERT_NE(nb, q) << "self in the list";
        ASSERT_TRUE(b.valid[nb]) << "invalid row " << nb << " as neighbour";
        mism += nb != ref[j];
        if (j) {  // ordered best first
          if (l2) EXPECT_LE(g.values[q * p.k + j - 1], g.values[q * p.k + j]);
          else EXPECT_GE(g.values[q * p.k + j - 1], g.values[q * p.k + j]);
        }
      }
    }
    EXPECT_EQ(mism, 0) << (l2 ? "l2" : "cosine");
  }
}

TEST(KnnExact, DuplicatePointsTieToLowerRow) {
  LocalCommunicator c;
  FeatureBlock b;
  b.d = 2, b.n_total = 12, b.rows = {0, 12};
  for (int i = 0; i < 12; ++i) b.x.insert(b.x.end(), {1.0f, float(i % 3)});  // rows i, i+3, ... identical
  b.valid.assign(12, 1);
  b.labels.assign(12, -1);
  KnnParams p;
  p.k = 3, p.metric = "l2";
  KnnGraph g = knn_exact(b, p, c);
  // Row 4 equals rows 1, 7, 10: its three neighbours at distance 0 in row order.
  EXPECT_EQ(std::vector<int64_t>(g.indices.begin() + 4 * 3, g.indices.begin() + 5 * 3), (std::vector<int64_t>{1, 7, 10}));
  EXPECT_EQ(g.values[4 * 3], 0.0f);
}

TEST(KnnExact, IdenticalRowsStoreSimilarityOneAndDistancePlusZero) {
  // Rows rounded to unit length in float can have <q,q> = 1.0000001 in
  // double; the graph stored that, a "similarity" above 1. l2 stored -0.0
  // (exact), or 1.2e-7 (ivf, float scores).
  LocalCommunicator c;
  for (bool l2 : {false, true}) {
    FeatureBlock b = mixture(400, 16, 4, 1.0, 5);
    for (int64_t i = 1; i < b.local_rows(); i += 2)  // rows 2i and 2i+1 identical
      std::copy_n(&b.x[(i - 1) * b.d], b.d, &b.x[i * b.d]);
    KnnParams p;
    p.k = 3, p.metric = l2 ? "l2" : "cosine";
    for (const char* mode : {"exact", "ivf"}) {
      p.mode = mode, p.nlist = 4, p.nprobe = 4, p.recall_sample = 0;
      FeatureBlock x = b;
      KnnGraph g = p.mode == "exact" ? knn_exact(x, p, c) : knn_ivf(x, p, c);
      int64_t at_one = 0;
      for (int64_t q = 0; q < b.local_rows(); ++q) {
        const float v = g.values[q * p.k];
        EXPECT_EQ(g.indices[q * p.k], q ^ 1) << mode << " row " << q;
        if (l2) {
          // ivf rescores its picks in double too: its float score
          // 2<q,b> - |b|^2 against |q|^2 left copies at a few ulps of |q|^2.
          EXPECT_EQ(v, 0.0f) << mode << " row " << q;
          EXPECT_FALSE(std::signbit(v)) << mode << " row " << q << " stores -0.0";
        } else {
          for (int j = 0; j < p.k; ++j) EXPECT_LE(g.values[q * p.k + j], 1.0f) << mode << " row " << q;
          at_one += v == 1.0f;
        }
      }
      if (!l2) {
        EXPECT_GT(at_one, 0) << mode << ": no copy scored exactly 1";
      }
    }
  }
}

TEST(KnnExact, KTooLargeIsNamed) {
  LocalCommunicator c;
  FeatureBlock b = mixture(30, 4, 2, 0.5);
  b.valid[0] = 0;
  KnnParams p;
  p.k = 29;
  try {
    knn_exact(b, p, c);
    FAIL() << "no error";
  } catch (const distclust::Error& e) {
    EXPECT_NE(std::string(e.what()).find("k=29 must be below the number of valid rows (29 of 30)"), std::string::npos)
        << e.what();
  }
  p.k = 0;
  EXPECT_THROW(knn_exact(b, p, c), distclust::Error);
}

TEST(KnnExact, FlopsCountTheHalfRingsProductsOnceOrTwice) {
  // Over all ranks the half ring meets each pair of blocks once, but at
  // step P/2 (P even) both ranks of a pair search each other's block. With
  // tile 1 the self-join multiplies each pair of a block's rows once and
  // each row with itself: the CPU kernel executes D (N^2 + N) in all, plus
  // D n_r n_(r+P/2) per rank for P even; a kernel whose joins are two
  // searches, 2 D N^2 for any rank count (it used to be counted as
  // 2 D n (N - n) per rank: each cross pair twice from 3 ranks on,
  // whichever the kernel).
  const int64_t N = 1003, d = 7;
  for (int P = 1; P <= 5; ++P) {
    double once = 0, twice = 0, one_tile = 0;
    for (int r = 0; r < P; ++r) {
      once += knn_exact_flops(N, d, P, r, 1, true);
      twice += knn_exact_flops(N, d, P, r, 1, false);
      one_tile += knn_exact_flops(N, d, P, r, N + 1, true);  // the whole block one tile: the self-join in full
    }
    double own = 0, facing = 0;
    for (int r = 0; r < P; ++r) {
      own += std::pow(double(row_block(N, r, P).size()), 2);
      if (P % 2 == 0) facing += double(row_block(N, r, P).size()) * double(row_block(N, (r + P / 2) % P, P).size());
    }
    EXPECT_DOUBLE_EQ(once, double(d) * (double(N) * N + N + facing)) << P << " ranks";
    EXPECT_DOUBLE_EQ(twice, 2.0 * d * double(N) * N) << P << " ranks";
    EXPECT_DOUBLE_EQ(one_tile, double(d) * (double(N) * N + own + facing)) << P << " ranks";
  }
}

TEST(KnnIvf, HighRecallOnClusteredData) {
  LocalCommunicator c;
  FeatureBlock b = mixture(8000, 16, 20, 1.2, 5);
  FeatureBlock e = b;
  KnnParams p;
  p.k = 10, p.mode = "ivf", p.recall_sample = 500;
  KnnGraph g = knn_ivf(b, p, c);
  KnnParams pe = p;
  pe.mode = "exact";
  KnnGraph x = knn_exact(e, pe, c);
  double hits = 0;
  for (int64_t q = 0; q < b.local_rows(); ++q)
    for (int j = 0; j < p.k; ++j)
      hits += std::count(g.indices.begin() + q * p.k, g.indices.begin() + (q + 1) * p.k, x.indices[q * p.k + j]);
  double recall = hits / double(b.local_rows() * p.k);
  EXPECT_GE(recall, 0.95);
  EXPECT_NEAR(g.recall, recall, tol::kSampledRate);  // the printed sample estimate agrees
}

TEST(KnnIvf, ProbingEveryListIsExactSearch) {
  // nprobe = nlist: every row is a candidate, so the graph is the exact one.
  // nprobe 12: the probes kept from the home lists' product (nprobe <= 16);
  // nprobe 40: one round, insertion top-lists, probes computed per round;
  // nprobe 520: rounds of 4096 queries (2 here) and the partial-sort
  // top-lists (nprobe > 64).
  LocalCommunicator c;
  const std::pair<int, const char*> cases[] = {{12, "cosine"}, {12, "l2"}, {40, "cosine"}, {40, "l2"}, {520, "cosine"}};
  for (auto [np, metric] : cases) {
    {
      FeatureBlock b = mixture(5000, 12, 15, 1.0, 3);
      for (int64_t i = 0; i < b.local_rows(); ++i) b.valid[i] = i % 13 != 0;
      FeatureBlock e = b;
      KnnParams p;
      p.k = 8, p.mode = "ivf", p.metric = metric, p.nlist = np, p.nprobe = np, p.recall_sample = 0;
      KnnGraph g = knn_ivf(b, p, c);
      EXPECT_EQ(g.nprobe, np);
      KnnParams pe = p;
      pe.mode = "exact";
      KnnGraph x = knn_exact(e, pe, c);
      int64_t differ = 0, same_value = 0, same_edge = 0;
      for (int64_t q = 0; q < b.local_rows(); ++q)
        for (int j = 0; j < p.k; ++j) {
          const size_t at = size_t(q * p.k + j);
          differ += g.indices[at] != x.indices[at];
          // Both modes rescore their picks in double from the rows
          // (graph_value.h): an edge both found has the same stored value,
          // bit for bit (IVF finds the candidate's row by its hash of held rows).
          if (g.indices[at] == x.indices[at] && g.indices[at] >= 0) ++same_edge, same_value += g.values[at] == x.values[at];
        }
      EXPECT_EQ(same_value, same_edge) << metric << " nprobe " << np;
      // Exact mode rescores in double; float near-ties may swap order.
      EXPECT_LE(differ, b.local_rows() * p.k / 1000) << metric << " nprobe " << np;
      for (int64_t q = 0; q < b.local_rows(); q += 13) EXPECT_EQ(g.indices[q * p.k], -1) << "invalid row " << q;
    }
  }
}

TEST(KnnIvf, FewerProbesAreAPrefixOfMore) {
  // knn_ivf takes a round's nprobe lists from the first columns of the 16
  // nearest it computed for the home lists: that must be what asking for
  // nprobe lists gives, exact score ties included (duplicate centroids
  // tie to the lower list).
  FeatureBlock b = mixture(3000, 10, 12, 1.0, 4);
  std::vector<float> cent(b.x.begin(), b.x.begin() + 30 * b.d);
  for (int j = 0; j < 10; ++j)  // lists 30..39 repeat lists 5..14
    cent.insert(cent.end(), b.x.begin() + (5 + j) * b.d, b.x.begin() + (6 + j) * b.d);
  const int64_t nl = 40, n = b.local_rows();
  for (bool l2 : {false, true}) {
    const auto all = ivf::nearest_lists(b.x.data(), n, b.d, 0, cent, nl, 16, l2);
    int64_t tied = 0;
    for (int np : {1, 5, 16}) {
      const auto few = ivf::nearest_lists(b.x.data() + 100 * b.d, n - 100, b.d, 100, cent, nl, np, l2);
      for (int64_t i = 0; i < n - 100; ++i)
        for (int j = 0; j < np; ++j)
          ASSERT_EQ(few[size_t(i * np + j)], all[size_t((i + 100) * 16 + j)]) << "l2 " << l2 << " np " << np << " row " << i;
    }
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j + 1 < 16; ++j) tied += all[size_t(i * 16 + j + 1)] == all[size_t(i * 16 + j)] + 25;
    EXPECT_GT(tied, 0) << "no row saw a duplicate pair: the ties were not exercised";
  }
}

TEST(KnnIvf, TunedNprobeReachesTheTargetAndPredictsTheRecall) {
  LocalCommunicator c;
  FeatureBlock b = mixture(8000, 16, 20, 1.4, 6);
  for (double target : {0.8, 0.97}) {
    FeatureBlock w = b;
    KnnParams p;
    p.k = 10, p.mode = "ivf", p.target_recall = target, p.tune_sample = 800, p.recall_sample = 800;
    KnnGraph g = knn_ivf(w, p, c);
    EXPECT_GE(g.recall, target - 0.03) << "nprobe " << g.nprobe;
    EXPECT_LT(g.nprobe, g.nlist) << "target " << target;
    if (target < 0.9) {
      EXPECT_LT(g.recall, 0.97) << "a low target should not search everything";
    }
  }
}

TEST(KnnIvf, RoundBuffersDoNotGrowWithTheRankCount) {
  // Queries a rank sends (and, ranks alike, receives) per round: local
  // queries x the ranks owning their lists. 2^21 / nprobe queries per round
  // alone made that grow with the ranks up to nprobe of them.
  for (int np : {1, 8, 80, 500}) {
    const int64_t one = ivf::round_queries(np, 1);
    for (int ranks : {2, 4, 64, 1024}) {
      const int64_t moved = ivf::round_queries(np, ranks) * std::min(np, ranks);
      EXPECT_LE(moved, std::max<int64_t>(one, 4096 * int64_t(std::min(np, ranks)))) << np << " " << ranks;
      if (ivf::round_queries(np, ranks) > 4096) {
        EXPECT_LE(moved, one) << np << " " << ranks;
      }
    }
  }
}
