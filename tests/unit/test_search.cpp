// The search kernel (include/distclust/search.h) and the fixed-tile GEMM
// (kernels/gemm.h): against brute force in double, ties and exclusions, and
// results that do not depend on the thread count or on how the queries are
// split between ranks (tiles aligned to global rows).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "common/test_common.h"
#include "distclust/error.h"
#include "distclust/rng.h"
#include "distclust/search.h"
#include "kernels/exact_sum.h"
#include "kernels/gemm.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"

using namespace distclust;

extern "C" void openblas_set_num_threads(int);

namespace {

/// Scores in double, higher is better: <q,b> or -|q-b|^2; ids ascending on ties.
std::vector<std::pair<double, int64_t>> brute(const float* q, const std::vector<float>& base, int64_t d, bool l2) {
  std::vector<std::pair<double, int64_t>> s;
  for (int64_t j = 0; j < int64_t(base.size()) / d; ++j) {
    double v = 0;
    for (int64_t t = 0; t < d; ++t) {
      const double a = q[t], b = base[j * d + t];
      v += l2 ? -(a - b) * (a - b) : a * b;
    }
    s.emplace_back(v, j);
  }
  std::sort(s.begin(), s.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  return s;
}

/// Everything search() left in top, sorted per query, as (scores, ids).
std::pair<std::vector<float>, std::vector<int64_t>> results(const TopK& top, int64_t n) {
  std::vector<float> s(size_t(n * top.cap()));
  std::vector<int64_t> id(s.size());
  for (int64_t i = 0; i < n; ++i) sorted_results(top, i, id.data() + i * top.cap(), s.data() + i * top.cap());
  return {s, id};
}

}  // namespace

TEST(Search, MatchesBruteForceForEveryKAndTileShape) {
  const int64_t n = 300, m = 700, d = 19;
  auto q = test::randn(n, d, 1), b = test::randn(m, d, 2);
  for (bool l2 : {false, true})
    for (int k : {1, 2, 7, 40})
      for (SearchTiling t : {SearchTiling{}, SearchTiling{7, 16}, SearchTiling{64, 33}}) {
        TopK top(n, k);
        make_cpu_search(t)->search({q.data(), n, d, 0}, {b.data(), m}, l2 ? Metric::l2 : Metric::inner_product, top);
        auto [sc, id] = results(top, n);
        int64_t near_ties = 0;
        for (int64_t i = 0; i < n; ++i) {
          auto ref = brute(q.data() + i * d, b, d, l2);
          double qn = 0;
          for (int64_t t2 = 0; t2 < d; ++t2) qn += double(q[i * d + t2]) * q[i * d + t2];
          for (int j = 0; j < k; ++j) {
            // Kernel score (l2): 2<q,b> - |b|^2 = |q|^2 - |q-b|^2.
            const double got = l2 ? double(sc[i * k + j]) - qn : sc[i * k + j];
            EXPECT_NEAR(got, ref[j].first, tol::float_dot(d, 1 + std::abs(ref[j].first) + qn)) << i << " " << j;
            if (id[i * k + j] != ref[j].second) ++near_ties;  // float near-ties only
          }
        }
        EXPECT_LE(near_ties, 2) << "l2 " << l2 << " k " << k;
      }
}

TEST(Search, TiesInvalidRowsSelfAndIds) {
  const int64_t d = 4, m = 40;
  std::vector<float> b(m * d, 0.0f);
  for (int64_t j = 0; j < m; ++j) b[j * d] = float(j % 5);  // rows j, j+5, ... identical
  std::vector<uint8_t> valid(m, 1);
  valid[3] = 0;  // the best match of query 0
  std::vector<float> q = {3, 0, 0, 0, 1, 0, 0, 0};
  for (SearchTiling t : {SearchTiling{}, SearchTiling{1, 16}}) {
    for (int k : {1, 2, 3}) {
      TopK top(2, k);
      SearchBase base{b.data(), m};
      base.valid = valid.data();
      make_cpu_search(t)->search({q.data(), 2, d, 0}, base, Metric::l2, top);
      auto [sc, id] = results(top, 2);
      EXPECT_EQ(id[0], 8) << "tie to the lowest valid row";
      EXPECT_EQ(id[k], 1);
      const std::vector<int64_t> want0 = {8, 13, 18}, want1 = {1, 6, 11};
      EXPECT_EQ(std::vector<int64_t>(id.begin(), id.begin() + k), std::vector<int64_t>(want0.begin(), want0.begin() + k));
      EXPECT_EQ(std::vector<int64_t>(id.begin() + k, id.end()), std::vector<int64_t>(want1.begin(), want1.begin() + k));
    }
    // exclude_self: query 1 is base row 1 (ids given and not).
    for (int k : {1, 2}) {
      TopK top(1, k);
      SearchBase base{b.data(), m};
      base.exclude_self = true;
      make_cpu_search(t)->search({q.data() + d, 1, d, 1}, base, Metric::l2, top);
      EXPECT_EQ(results(top, 1).second[0], 6);
      std::vector<int64_t> ids(m);
      std::iota(ids.begin(), ids.end(), 100);
      const int64_t self = 101;
      TopK top2(1, k);
      base.ids = ids.data();
      make_cpu_search(t)->search({q.data() + d, 1, d, 0, &self}, base, Metric::l2, top2);
      EXPECT_EQ(results(top2, 1).second[0], 106);
    }
  }
}

TEST(Search, BestTwoOfEachTileAreTheHeapsBestTwo) {
  // k = 2 takes a vectorised pass per tile row (search_offer.h's
  // argmax2_row) instead of the heap: the same two, ties to the lower id,
  // on scores that tie within and across its blocks of 64 and its tiles.
  const int64_t n = 60, m = 333, d = 3;
  std::vector<float> q(size_t(n * d)), b(size_t(m * d));
  for (size_t i = 0; i < q.size(); ++i) q[i] = float(key_hash(1, i) % 5);
  for (size_t i = 0; i < b.size(); ++i) b[i] = float(key_hash(2, i) % 5);
  std::vector<uint8_t> valid(size_t(m), 1);
  for (int64_t j = 0; j < m; j += 7) valid[size_t(j)] = 0;
  for (bool l2 : {false, true})
    for (bool self : {false, true})
      for (SearchTiling t : {SearchTiling{}, SearchTiling{7, 16}, SearchTiling{64, 100}, SearchTiling{5, 64}}) {
        SearchBase base{b.data(), m};
        base.valid = valid.data(), base.exclude_self = self;
        TopK two(n, 2), three(n, 3);
        const Metric metric = l2 ? Metric::l2 : Metric::inner_product;
        make_cpu_search(t)->search({q.data(), n, d, 10}, base, metric, two);
        make_cpu_search(t)->search({q.data(), n, d, 10}, base, metric, three);
        auto [s2, id2] = results(two, n);
        auto [s3, id3] = results(three, n);
        for (int64_t i = 0; i < n; ++i)
          for (int j = 0; j < 2; ++j) {
            EXPECT_EQ(id2[size_t(i * 2 + j)], id3[size_t(i * 3 + j)]) << "query " << i << " l2 " << l2 << " self " << self;
            EXPECT_EQ(s2[size_t(i * 2 + j)], s3[size_t(i * 3 + j)]) << "query " << i;
          }
      }
}

TEST(Search, BitIdenticalForAnyThreadCountAndQuerySplit) {
  // The determinism the stages build on: one call with every query, or the
  // queries split as ranks split rows (any offsets), on 1-3 threads, with
  // OpenBLAS' own thread count changed too: the same bits.
  const int64_t n = 2500, m = 1300, d = 40;
  auto q = test::randn(n, d, 5), b = test::randn(m, d, 6);
  for (bool l2 : {false, true})
    for (int k : {1, 2, 20}) {
      std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> runs;
      for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        for (std::vector<int64_t> cuts : {std::vector<int64_t>{0, n}, std::vector<int64_t>{0, 833, 1667, n},
                                          std::vector<int64_t>{0, 1, 1250, n}}) {
          TopK top(n, k);
          auto kernel = make_cpu_search({256, 200});
          for (size_t c = 0; c + 1 < cuts.size(); ++c) {
            const int64_t rows = cuts[c + 1] - cuts[c];
            TopK part(rows, k);
            kernel->search({q.data() + cuts[c] * d, rows, d, cuts[c]}, {b.data(), m},
                           l2 ? Metric::l2 : Metric::inner_product, part);
            for (int64_t i = 0; i < rows; ++i)
              for (int j = 0; j < k; ++j) top.push(cuts[c] + i, part.scores(i)[j], part.indices(i)[j]);
          }
          runs.push_back(results(top, n));
        }
      }
      omp_set_num_threads(2);
      for (size_t r = 1; r < runs.size(); ++r) {
        EXPECT_TRUE(runs[r].first == runs[0].first) << "scores differ: run " << r << " l2 " << l2 << " k " << k;
        EXPECT_TRUE(runs[r].second == runs[0].second) << "ids differ: run " << r << " l2 " << l2 << " k " << k;
      }
    }
}

using Results = std::pair<std::vector<float>, std::vector<int64_t>>;

/// A join's results (runs on 1-3 threads) against search()'s: ids equal,
/// scores within float rounding (a pair's product may come from the other
/// operand order), every run the same bits.
void expect_same_results(const std::vector<Results>& runs, const Results& want, int64_t d, const std::string& at) {
  ASSERT_TRUE(runs[0].second == want.second) << at;
  for (size_t c = 0; c < want.first.size(); ++c) {
    if (want.first[c] == runs[0].first[c]) continue;  // covers the -inf of empty slots
    ASSERT_NEAR(runs[0].first[c], want.first[c], tol::float_dot(d, 4.0 * d)) << at << " cell " << c;
  }
  for (size_t r = 1; r < runs.size(); ++r) ASSERT_TRUE(runs[r] == runs[0]) << at << ": " << r + 1 << " threads differ from 1";
}

TEST(Search, SelfJoinMatchesSearchForEveryBlockLayoutAndThreadCount) {
  // search_self computes each pair once and offers it both ways, in
  // tournament rounds: the graph must be search()'s against the same rows
  // (ids equal; scores within float rounding: a pair's product may come
  // from the other operand order), with invalid rows never returned, for
  // block counts odd and even, blocks not aligned to the rows' first global
  // row, and the same bits for 1-3 threads.
  const int64_t d = 24;
  for (int64_t n : {1, 7, 100, 515}) {
    auto x = test::randn(n, d, uint64_t(n));
    std::vector<uint8_t> valid(static_cast<size_t>(n), 1);
    for (int64_t i = 3; i < n; i += 11) valid[size_t(i)] = 0;
    for (int64_t first : {0, 37})
      for (int tile : {16, 48, 1024})
        for (bool l2 : {false, true}) {
          const int k = int(std::min<int64_t>(5, std::max<int64_t>(1, n - 1)));
          const Metric m = l2 ? Metric::l2 : Metric::inner_product;
          auto kernel = make_cpu_search({tile, 64});
          TopK ref(n, k);
          omp_set_num_threads(1);
          kernel->search({x.data(), n, d, first}, {x.data(), n, first, nullptr, nullptr, valid.data(), true}, m, ref);
          const auto want = results(ref, n);
          std::vector<Results> runs;
          for (int threads : {1, 2, 3}) {
            omp_set_num_threads(threads);
            TopK top(n, k);
            kernel->search_self({x.data(), n, d, first}, valid.data(), m, top);
            runs.push_back(results(top, n));
          }
          omp_set_num_threads(2);
          const std::string at = fmt("n=", n, " first=", first, " tile=", tile, " l2=", l2);
          expect_same_results(runs, want, d, at);
          for (int64_t id : runs[0].second) {
            if (id < first || id >= first + n) continue;
            ASSERT_TRUE(valid[size_t(id - first)]) << at << ": invalid row " << id;
          }
        }
  }
}

TEST(Search, PairJoinMatchesTwoSearchesForEveryBlockLayoutAndThreadCount) {
  // search_pair: two distinct blocks against each other, each tile pair
  // once, in rounds of shifted diagonals: each side's results must be
  // search()'s against the other block, for more tiles on either side,
  // unaligned first rows and invalid rows, the same bits for 1-3 threads.
  const int64_t d = 20;
  for (auto [na, nb] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {5, 130}, {130, 5}, {77, 64}, {300, 301}}) {
    auto xa = test::randn(na, d, uint64_t(na)), xb = test::randn(nb, d, uint64_t(1000 + nb));
    std::vector<uint8_t> va(static_cast<size_t>(na), 1), vb(static_cast<size_t>(nb), 1);
    for (int64_t i = 2; i < na; i += 9) va[size_t(i)] = 0;
    for (int64_t i = 4; i < nb; i += 13) vb[size_t(i)] = 0;
    const int64_t fa = 11, fb = fa + na + 29;  // rows fa.., then fb..: not overlapping, not aligned
    for (int tile : {16, 48})
      for (bool l2 : {false, true}) {
        const Metric m = l2 ? Metric::l2 : Metric::inner_product;
        const int k = 4;
        auto kernel = make_cpu_search({tile, 64});
        omp_set_num_threads(1);
        TopK ra(na, k), rb(nb, k);
        kernel->search({xa.data(), na, d, fa}, {xb.data(), nb, fb, nullptr, nullptr, vb.data(), true}, m, ra);
        kernel->search({xb.data(), nb, d, fb}, {xa.data(), na, fa, nullptr, nullptr, va.data(), true}, m, rb);
        std::vector<Results> runs_a, runs_b;
        for (int threads : {1, 2, 3}) {
          omp_set_num_threads(threads);
          TopK ta(na, k), tb(nb, k);
          kernel->search_pair({xa.data(), na, d, fa}, va.data(), {xb.data(), nb, d, fb}, vb.data(), m, ta, tb);
          runs_a.push_back(results(ta, na));
          runs_b.push_back(results(tb, nb));
        }
        omp_set_num_threads(2);
        const std::string at = fmt("na=", na, " nb=", nb, " tile=", tile, " l2=", l2);
        expect_same_results(runs_a, results(ra, na), d, at + " side a");
        expect_same_results(runs_b, results(rb, nb), d, at + " side b");
      }
  }
}

TEST(Search, AssignNearestLabelsDistancesAndInvalidRows) {
  const int64_t n = 500, d = 32, k = 20;
  FeatureBlock blk;
  blk.n_total = n, blk.d = d, blk.rows = {0, n}, blk.x = test::randn(n, d, 3), blk.valid.assign(n, 1);
  blk.labels.assign(n, -1);
  blk.valid[17] = 0;
  auto c = test::randn(k, d, 4);
  auto kernel = make_cpu_search();
  for (bool spherical : {false, true}) {
    FeatureBlock b = blk;
    std::vector<float> cc = c;
    if (spherical) normalize_rows(b.x.data(), n, d), normalize_rows(cc.data(), k, d);
    std::vector<float> norms(n), dist(n);
    row_norms(b.x.data(), n, d, norms.data());
    std::vector<int64_t> lab(n);
    assign_nearest(*kernel, b, norms.data(), cc.data(), k, spherical, lab.data(), dist.data());
    for (int64_t i = 0; i < n; ++i) {
      if (!b.valid[i]) {
        EXPECT_EQ(lab[i], -1);
        EXPECT_EQ(dist[i], 0.f);
        continue;
      }
      auto ip = brute(b.x.data() + i * d, cc, d, false), l2 = brute(b.x.data() + i * d, cc, d, true);
      EXPECT_EQ(lab[i], spherical ? ip[0].second : l2[0].second) << i;
      EXPECT_NEAR(dist[i], spherical ? 2 - 2 * ip[0].first : -l2[0].first, tol::float_dot(d, 1 + norms[i])) << i;
    }
  }
}

TEST(TiledGemm, MatchesNaiveAndIsThreadCountIndependent) {
  struct Shape { bool ta, tb; int64_t m, n, k; };
  for (Shape s : {Shape{false, true, 300, 700, 50}, Shape{true, false, 513, 90, 257}, Shape{false, false, 5, 3000, 64},
                  Shape{false, true, 1, 1, 1}, Shape{false, false, 40, 40, 0}}) {
    auto a = test::randn(s.m, std::max<int64_t>(s.k, 1), 7), b = test::randn(s.n, std::max<int64_t>(s.k, 1), 8);
    const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    std::vector<std::vector<float>> outs;
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      openblas_set_num_threads(threads);
      std::vector<float> c(size_t(s.m * s.n), 1.f);
      Gemm g;
      g.ta = s.ta, g.tb = s.tb, g.m = s.m, g.n = s.n, g.k = s.k, g.a = a.data(), g.lda = std::max<int64_t>(lda, 1),
      g.b = b.data(), g.ldb = std::max<int64_t>(ldb, 1), g.beta = 0.5f, g.c = c.data(), g.ldc = s.n;
      tiled_gemm(g);
      outs.push_back(c);
    }
    omp_set_num_threads(2);
    EXPECT_TRUE(outs[0] == outs[1] && outs[0] == outs[2]) << s.m << "x" << s.n << "x" << s.k;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double ref = 0.5;
        for (int64_t t = 0; t < s.k; ++t)
          ref += double(s.ta ? a[t * lda + i] : a[i * lda + t]) * double(s.tb ? b[j * ldb + t] : b[t * ldb + j]);
        ASSERT_NEAR(outs[0][i * s.n + j], ref, tol::float_dot(s.k, 1 + std::sqrt(double(s.k)))) << i << "," << j;
      }
  }
}

TEST(FixedGrid, SumsDoNotDependOnOrderAndKeepFloatPrecision) {
  // Terms of very different sizes: a double sum depends on the order, the
  // grid sum does not; and it stays within float precision of the exact sum.
  std::vector<float> v(20000);
  KeyedRng r(9, 1);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(r.normal() * std::pow(10.0, double(i % 7) - 3));
  const double bound = 1e4;
  FixedGrid g(bound, bound * double(v.size()));
  int64_t fwd = 0, bwd = 0;
  for (size_t i = 0; i < v.size(); ++i) fwd += g.to_fixed(v[i]);
  for (size_t i = v.size(); i-- > 0;) bwd += g.to_fixed(v[i]);
  EXPECT_EQ(fwd, bwd);
  long double exact = 0;
  for (float x : v) exact += x;
  // Each term rounds by at most half a grid step: n/2 steps in all.
  const double grid = std::ldexp(1.0, -g.shift());
  EXPECT_NEAR(g.to_double(fwd), double(exact), 0.5 * grid * double(v.size()));
  EXPECT_LT(0.5 * grid * double(v.size()), tol::kFloatUnit * std::abs(double(exact)));
  EXPECT_EQ(g.to_fixed(0.0), 0);
  EXPECT_NEAR(g.to_double(g.to_fixed(1.2345)), 1.2345, 0.5 * grid);
  EXPECT_EQ(g.to_fixed(-2.5) + g.to_fixed(2.5), 0);
}

TEST(DotRows, RowValuesDoNotDependOnPairingOrThreadsAndMatchDouble) {
  // dot_rows multiplies rows in pairs: a row's products must be the same
  // bits whether it is paired, alone at the odd end, or selected with other
  // rows, for any thread count (the k-means++ seeding relies on it), and
  // within float rounding of the double products. Odd d and t reach every
  // remainder loop. diff_rows (squared distances, the same shapes) too, on
  // rows near 1e4 in every column 0.05 apart: within ~d u of the distance
  // itself, where |x|^2 - 2x.c + |c|^2 in float is ~100 off.
  for (const bool diff : {false, true}) {
    for (int64_t d : {1, 7, 16, 33, 256}) {
      for (int64_t t : {1, 3, 4, 9}) {
        const int64_t n = 23;
        KeyedRng r(uint64_t(d * 100 + t), 4);
        std::vector<float> x(size_t(n * d)), c(size_t(t * d));
        for (float& v : x) v = diff ? float(1e4 + 0.05 * r.normal()) : float(r.normal());
        for (float& v : c) v = diff ? float(1e4 + 0.05 * r.normal()) : float(r.normal());
        const auto rows = diff ? diff_rows : dot_rows;
        std::vector<int64_t> all(static_cast<size_t>(n));
        std::iota(all.begin(), all.end(), int64_t(0));
        std::reverse(all.begin(), all.end());
        std::vector<float> ref(size_t(n * t));
        omp_set_num_threads(1);
        rows(x.data(), d, all.data(), n, c.data(), t, ref.data());
        for (int threads : {1, 2, 3}) {
          omp_set_num_threads(threads);
          for (int64_t i = 0; i < n; ++i) {
            // Row i alone, then as the second of a pair.
            const int64_t one[1] = {i}, two[2] = {(i + 5) % n, i};
            std::vector<float> a(static_cast<size_t>(t)), b(static_cast<size_t>(2 * t));
            rows(x.data(), d, one, 1, c.data(), t, a.data());
            rows(x.data(), d, two, 2, c.data(), t, b.data());
            const int64_t at = n - 1 - i;  // row i's place in the reversed list
            for (int64_t j = 0; j < t; ++j) {
              SCOPED_TRACE(testing::Message() << (diff ? "diff" : "dot") << " d=" << d << " t=" << t << " row " << i
                                              << " col " << j);
              ASSERT_EQ(a[j], ref[at * t + j]);
              ASSERT_EQ(b[t + j], ref[at * t + j]);
              double exact = 0, scale = 0;
              for (int64_t q = 0; q < d; ++q) {
                const double xv = x[i * d + q], cv = c[j * d + q];
                exact += diff ? (xv - cv) * (xv - cv) : xv * cv;
                scale += std::abs(diff ? (xv - cv) * (xv - cv) : xv * cv);
              }
              ASSERT_NEAR(a[j], exact, tol::float_dot(d, scale));
            }
          }
        }
        omp_set_num_threads(1);
      }
    }
  }
}
