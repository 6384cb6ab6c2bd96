// The LibTorch search kernel (kernels/search_torch.h, in the plugin) against
// the OpenBLAS kernel: run on CPU tensors here, it is the code path the GPU
// takes (same blocks, masks, selection, re-scoring and k-means step). Tests
// named *Cuda* run it on a GPU and skip, saying why, where none is visible.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <cmath>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "comm/local_comm.h"
#include "common/test_common.h"
#include "distclust/error.h"
#include "kernels/compute_target.h"
#include "distclust/rng.h"
#include "kernels/exact_sum.h"
#include "kernels/lloyd_grids.h"
#include "kernels/rows.h"
#include "kernels/torch_plugin.h"
#include "kmeans/kmeans.h"
#include "knn/knn.h"

using namespace distclust;

namespace {

/// The plugin's kernel with an explicit spec (memory: its budget, 0 = default).
std::unique_ptr<SearchKernel> torch_kernel(const std::string& device = "cpu", const std::string& precision = "fp32",
                                           int64_t memory = 0, const std::string& storage = "fp32") {
  TorchComputeSpec s;
  s.device = device, s.precision = precision, s.threads = 2, s.memory_bytes = memory, s.storage = storage;
  std::string error;
  SearchKernel* k = torch_plugin_function<TorchSearchFn>(kTorchSearchV6)(&s, &error);
  if (!k) throw Error(error);
  return std::unique_ptr<SearchKernel>(k);
}

/// Sorted (ids, scores) of every query of top.
struct Lists {
  std::vector<int64_t> ids;
  std::vector<float> scores;
};
Lists lists(const TopK& top, int64_t n) {
  Lists l;
  l.ids.resize(size_t(n * top.cap()));
  l.scores.resize(l.ids.size());
  for (int64_t i = 0; i < n; ++i) sorted_results(top, i, l.ids.data() + i * top.cap(), l.scores.data() + i * top.cap());
  return l;
}

/// Same ids, scores within float rounding; an id may differ only where the
/// two lists hold equal scores up to rounding (a float near-tie: the fp32
/// products of the two kernels round differently), at most max_ties times.
void expect_same(const Lists& a, const Lists& b, const std::string& what, int64_t max_ties = 0) {
  ASSERT_EQ(a.ids.size(), b.ids.size()) << what;
  int64_t ties = 0;
  for (size_t i = 0; i < a.ids.size(); ++i) {
    const float tol = 2e-5f * (1 + std::fabs(a.scores[i]));
    if (std::isfinite(a.scores[i])) {
      EXPECT_NEAR(a.scores[i], b.scores[i], tol) << what << " at " << i;
    }
    if (a.ids[i] == b.ids[i]) continue;
    ++ties;
    EXPECT_NEAR(a.scores[i], b.scores[i], tol) << what << ": ids " << a.ids[i] << " and " << b.ids[i] << " at " << i;
  }
  EXPECT_LE(ties, max_ties) << what;
}

/// Queries near base rows 0..n-1 of b (noise 0.01): each has one clear best
/// row, and the rest of its list are random rows with unit-sized gaps.
std::vector<float> near_rows(const std::vector<float>& b, int64_t n, int64_t d, uint64_t seed) {
  std::vector<float> q = test::randn(n, d, seed);
  for (int64_t i = 0; i < n * d; ++i) q[size_t(i)] = b[size_t(i)] + 0.01f * q[size_t(i)];
  return q;
}

/// Why the *Cuda* tests skip here ("" where LibTorch sees a GPU).
std::string no_gpu() {
  const TorchInfo info = torch_info();
  if (info.cuda_devices > 0) return "";
  return "no GPU visible to LibTorch " + info.version + (info.cuda_built ? "" : " (built without CUDA)");
}

struct TargetGuard {
  ComputeTarget saved = compute_target();
  ~TargetGuard() { set_compute_target_for_tests(saved); }
};

void use_torch(const std::string& precision = "fp32") {
  ComputeTarget t;
  t.torch = true, t.device = "cpu", t.precision = precision;
  set_compute_target_for_tests(t);
}

}  // namespace

TEST(SearchTorch, MatchesCpuKernelWithMasksSelfIdsAndStreaming) {
  const int64_t n = 333, m = 1000, d = 24;
  const auto q = test::randn(n, d, 1), b = test::randn(m, d, 2);
  std::vector<uint8_t> valid(m, 1);
  for (int64_t j = 0; j < m; j += 9) valid[size_t(j)] = 0;
  std::vector<int64_t> ids(m), qids(n), rows(n);
  for (int64_t j = 0; j < m; ++j) ids[size_t(j)] = 3 * j + 1;
  for (int64_t i = 0; i < n; ++i) qids[size_t(i)] = 3 * (2 * i) + 1, rows[size_t(i)] = n - 1 - i;
  auto cpu = make_cpu_search();
  // Default budget, and one so small that queries and base rows stream in many blocks.
  for (int64_t memory : {int64_t(0), int64_t(48) << 10}) {
    auto tk = torch_kernel("cpu", "fp32", memory);
    for (Metric metric : {Metric::inner_product, Metric::l2})
      for (int cap : {1, 5, 17}) {
        const std::string what = "memory " + std::to_string(memory) + " l2 " + std::to_string(metric == Metric::l2) +
                                 " cap " + std::to_string(cap);
        SearchBase base{b.data(), m};
        base.valid = valid.data();
        TopK a(n, cap), c(n, cap);
        cpu->search({q.data(), n, d, 70}, base, metric, a);
        tk->search({q.data(), n, d, 70}, base, metric, c);
        expect_same(lists(a, n), lists(c, n), what);
        // Self-exclusion by given ids, into permuted TopK rows, merged over two calls.
        SearchBase half1{b.data(), m / 2, 0, ids.data()}, half2{b.data() + m / 2 * d, m - m / 2, 0, ids.data() + m / 2};
        half1.exclude_self = half2.exclude_self = true;
        SearchQueries qs{b.data(), n, d, 0, qids.data(), rows.data(), false};
        std::vector<float> qx(size_t(n * d));
        for (int64_t i = 0; i < n; ++i) std::copy_n(b.data() + (2 * i) * d, d, qx.data() + i * d);  // query i = base row 2i
        qs.x = qx.data();
        TopK a2(n, cap), c2(n, cap);
        for (auto* h : {&half1, &half2}) {
          cpu->search(qs, *h, metric, a2);
          tk->search(qs, *h, metric, c2);
        }
        expect_same(lists(a2, n), lists(c2, n), what + " ids/self/top_rows");
        for (int64_t i = 0; i < n; ++i) EXPECT_NE(lists(c2, n).ids[size_t(rows[size_t(i)] * cap)], qids[size_t(i)]);
      }
  }
}

TEST(SearchTorch, SelfAndPairJoinsMatchCpuKernel) {
  const int64_t n = 400, d = 16, cap = 9;
  const auto x = test::randn(n, d, 5);
  std::vector<uint8_t> valid(n, 1);
  for (int64_t j = 3; j < n; j += 11) valid[size_t(j)] = 0;
  auto cpu = make_cpu_search();
  for (int64_t memory : {int64_t(0), int64_t(40) << 10}) {
    auto tk = torch_kernel("cpu", "fp32", memory);
    for (Metric metric : {Metric::inner_product, Metric::l2}) {
      TopK a(n, cap), c(n, cap);
      cpu->search_self({x.data(), n, d, 1000}, valid.data(), metric, a);
      tk->search_self({x.data(), n, d, 1000}, valid.data(), metric, c);
      expect_same(lists(a, n), lists(c, n), "self");
      const int64_t na = 150, nb = n - na;
      TopK aa(na, cap), ab(nb, cap), ca(na, cap), cb(nb, cap);
      SearchQueries qa{x.data(), na, d, 0}, qb{x.data() + na * d, nb, d, na};
      cpu->search_pair(qa, valid.data(), qb, valid.data() + na, metric, aa, ab);
      tk->search_pair(qa, valid.data(), qb, valid.data() + na, metric, ca, cb);
      expect_same(lists(aa, na), lists(ca, na), "pair a");
      expect_same(lists(ab, nb), lists(cb, nb), "pair b");
    }
  }
}

TEST(SearchTorch, TiesGoToTheLowerIdAcrossBlocks) {
  // Rows j, j+5, ... identical: the ties at the cap must keep the lowest ids,
  // also when topk sees only a block of them.
  const int64_t d = 4, m = 40;
  std::vector<float> b(m * d, 0.0f);
  for (int64_t j = 0; j < m; ++j) b[size_t(j * d)] = float(j % 5);
  std::vector<float> q = {3, 0, 0, 0, 1, 0, 0, 0};
  for (int64_t memory : {int64_t(0), int64_t(1) << 10})
    for (int cap : {1, 3, 6}) {
      TopK a(2, cap), c(2, cap);
      make_cpu_search()->search({q.data(), 2, d, 0}, {b.data(), m}, Metric::l2, a);
      torch_kernel("cpu", "fp32", memory)->search({q.data(), 2, d, 0}, {b.data(), m}, Metric::l2, c);
      EXPECT_EQ(lists(a, 2).ids, lists(c, 2).ids) << "cap " << cap << " memory " << memory;
      EXPECT_EQ(lists(c, 2).ids[0], 3);
    }
}

TEST(SearchTorch, TiesPastTheTopkPickKeepTheLowestIds) {
  // 40 equal rows (ids 7..46) and a worse one: topk picks cap + 8 of the 40 as
  // it likes, so the row must be picked again by exact keys to keep the
  // lowest ids, whatever the block size and metric.
  const int64_t d = 8, m = 48;
  std::vector<float> b(size_t(m * d), 0.0f);
  for (int64_t j = 7; j < 47; ++j) b[size_t(j * d)] = 1.0f;
  for (int64_t j = 0; j < 7; ++j) b[size_t(j * d + 1)] = 1.0f;  // orthogonal: worse for both metrics
  b[size_t(47 * d)] = 0.5f;
  const std::vector<float> q = {1, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t memory : {int64_t(0), int64_t(8) << 10})
    for (Metric metric : {Metric::inner_product, Metric::l2})
      for (int cap : {1, 3, 20}) {
        TopK a(1, cap), c(1, cap);
        make_cpu_search()->search({q.data(), 1, d, 0}, {b.data(), m}, metric, a);
        torch_kernel("cpu", "fp32", memory)->search({q.data(), 1, d, 0}, {b.data(), m}, metric, c);
        const std::vector<int64_t> got = lists(c, 1).ids;
        EXPECT_EQ(lists(a, 1).ids, got) << "cap " << cap << " memory " << memory;
        for (int i = 0; i < cap; ++i) EXPECT_EQ(got[size_t(i)], 7 + i) << "cap " << cap << " memory " << memory;
      }
}

TEST(SearchTorch, OnlyTiedQueryRowsArePickedAgain) {
  // A query block aligned to global rows pads its rows past the queries
  // with zeros. With inner products a zero row scores every column alike,
  // so each padding row was picked again by exact keys over its whole row
  // (on a GPU: a block's worth of int64 keys for rows nobody asked for).
  // Only the query rows whose own scores tie past the pick may be.
  const int64_t d = 8, m = 48;
  std::vector<float> b(size_t(m * d), 0.0f);
  for (int64_t j = 7; j < 47; ++j) b[size_t(j * d)] = 1.0f;  // 40 equal rows
  for (int64_t j = 0; j < 7; ++j) b[size_t(j * d + 1)] = 1.0f;
  b[size_t(47 * d)] = 0.5f;
  const std::vector<float> q = {1, 0, 0, 0, 0, 0, 0, 0};
  for (Metric metric : {Metric::inner_product, Metric::l2}) {
    auto tk = torch_kernel("cpu", "fp32");
    TopK top(1, 3);
    tk->search({q.data(), 1, d, 0}, {b.data(), m}, metric, top);  // one query in an aligned block of many rows
    EXPECT_NE(tk->time_report().find(", 1 query rows picked again by exact keys (ties)"), std::string::npos)
        << tk->time_report();
  }
  // Distinct scores: no row at all, padding or not (500 of an aligned block).
  const int64_t n = 500, nb = 6000, dd = 32;
  const auto base = test::randn(nb, dd, 5), qs = near_rows(base, n, dd, 6);
  for (Metric metric : {Metric::inner_product, Metric::l2}) {
    auto tk = torch_kernel("cpu", "fp32");
    TopK top(n, 10);
    tk->search({qs.data(), n, dd, 0}, {base.data(), nb}, metric, top);
    EXPECT_EQ(tk->time_report().find("picked again"), std::string::npos) << tk->time_report();
  }
}

TEST(SearchTorch, LowPrecisionIsRescoredToTheFp32Result) {
  const int64_t n = 500, m = 800, d = 64;
  const auto b = test::randn(m, d, 8), q = near_rows(b, n, d, 7);
  auto fp32 = torch_kernel("cpu", "fp32");
  for (const char* prec : {"bf16", "fp16", "tf32"})
    for (Metric metric : {Metric::inner_product, Metric::l2})
      for (int cap : {1, 10}) {
        TopK a(n, cap), c(n, cap);
        fp32->search({q.data(), n, d, 0}, {b.data(), m}, metric, a);
        torch_kernel("cpu", prec)->search({q.data(), n, d, 0}, {b.data(), m}, metric, c);
        // The low-precision products only pick candidates; their fp32 scores
        // order them as the fp32 kernel does, up to float near-ties (the
        // re-scoring sums in another order than torch::mm): one swap here.
        expect_same(lists(a, n), lists(c, n), std::string(prec) + " cap " + std::to_string(cap), 2);
      }
}

TEST(SearchTorch, LowOperandsOncePerCallOrPerBlockPairAgree) {
  // bf16/fp16 GEMM operands are made once per call where they fit the
  // reserve (1/8 of the work budget: the default here), else once per block
  // pair (16 MiB: 2 MiB of rows against a 1 MiB reserve). Both must give the
  // same lists, with masks, ids and either metric; the blocks (~180 columns)
  // are wide enough that a wrong operand changes the picks.
  const int64_t n = 200, m = 20000, d = 24, memory = 16 << 20;
  auto b = test::randn(m, d, 8);
  for (int64_t j = 0; j < m; ++j)  // norms from 0.25x to 4x: l2 and inner product pick differently
    for (int64_t x = 0; x < d; ++x) b[size_t(j * d + x)] *= 0.25f + 3.75f * float(j % 11) / 10.f;
  const auto q = near_rows(b, n, d, 9);
  std::vector<uint8_t> valid(m, 1);
  for (int64_t j = 0; j < m; j += 7) valid[size_t(j)] = 0;
  for (const char* prec : {"bf16", "fp16"})
    for (Metric metric : {Metric::inner_product, Metric::l2})
      for (bool masked : {false, true}) {
        SearchBase base{b.data(), m, 100};
        if (masked) base.valid = valid.data();
        TopK once(n, 6), per_pair(n, 6);
        torch_kernel("cpu", prec)->search({q.data(), n, d, 0}, base, metric, once);
        torch_kernel("cpu", prec, memory)->search({q.data(), n, d, 0}, base, metric, per_pair);
        expect_same(lists(once, n), lists(per_pair, n),
                    std::string(prec) + " l2 " + std::to_string(metric == Metric::l2) + " masked " + std::to_string(masked));
      }
  // The k-means step: centroid operands once per step, or per block pair;
  // rows near centroids 0..1999.
  LocalCommunicator comm;
  const int64_t k = m, rows = 2000;
  const auto x = near_rows(b, rows, d, 10);
  std::vector<uint8_t> all(static_cast<size_t>(rows), 1);
  std::vector<float> norms(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i)
    norms[size_t(i)] = float(std::inner_product(x.begin() + i * d, x.begin() + (i + 1) * d, x.begin() + i * d, 0.0));
  LloydStep s;
  s.x = x.data(), s.n = rows, s.d = d, s.valid = all.data(), s.norms = norms.data();
  std::vector<float> maxima(size_t(k + 1)), col_max(size_t(d), 0.0f);
  for (int64_t i = 0; i < rows * d; ++i) col_max[size_t(i % d)] = std::max(col_max[size_t(i % d)], std::fabs(x[size_t(i)]));
  s.c = b.data(), s.k = k, s.n_valid = rows, s.col_max = col_max.data(), s.maxima = maxima.data();
  for (const char* prec : {"bf16", "fp16"}) {
    std::vector<int64_t> a(size_t(k * (d + 1) + 2)), z(a.size());
    ASSERT_TRUE(torch_kernel("cpu", prec)->lloyd_step(s, comm, a.data()));
    ASSERT_TRUE(torch_kernel("cpu", prec, memory)->lloyd_step(s, comm, z.data()));
    EXPECT_EQ(std::vector<int64_t>(a.begin() + k * d, a.end() - 2), std::vector<int64_t>(z.begin() + k * d, z.end() - 2))
        << prec << ": counts";
    EXPECT_EQ(a, z) << prec;
  }
}

namespace {
/// Seconds per phase name of a time_report() ("gemm 1.2 s (60%), ...").
std::map<std::string, double> phase_seconds(const std::string& report) {
  std::map<std::string, double> out;
  const std::regex item("([a-z]+) ([0-9.e+-]+) s \\(");
  for (std::sregex_iterator it(report.begin(), report.end(), item), end; it != end; ++it)
    out[(*it)[1]] = std::stod((*it)[2]);
  return out;
}
double total(const std::map<std::string, double>& p) {
  double t = 0;
  for (const auto& [name, s] : p) t += s;
  return t;
}
}  // namespace

TEST(SearchTorch, TimeReportSaysWhereTheCallsWent) {
  // The phases of a call are contiguous spans from its start to its last
  // mark: they add up to at most the call's wall time, and to most of it.
  EXPECT_EQ(make_cpu_search()->time_report(), "");
  const int64_t n = 2000, m = 6000, d = 32;
  const auto b = test::randn(m, d, 5), q = near_rows(b, n, d, 6);
  for (const char* prec : {"fp32", "bf16"}) {
    auto tk = torch_kernel("cpu", prec);
    EXPECT_EQ(tk->time_report(), "") << prec << ": nothing measured yet";
    TopK top(n, 10);
    const auto t0 = std::chrono::steady_clock::now();
    tk->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, top);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string r = tk->time_report();
    const auto p = phase_seconds(r);
    EXPECT_NE(r.find("host clock"), std::string::npos) << r;
    for (const char* phase : {"gemm", "select", "rescore", "merge"}) EXPECT_GT(p.count(phase), 0u) << prec << ": " << r;
    EXPECT_LE(total(p), wall * 1.02 + 1e-3) << prec << ": " << r;  // the report rounds to 3 digits
    EXPECT_GE(total(p), 0.5 * wall) << prec << ": " << r << " (wall " << wall << " s)";
    // A k-means step adds its sums and reduce phases to the same totals.
    LocalCommunicator comm;
    std::vector<float> norms(static_cast<size_t>(n));
    std::vector<uint8_t> valid(static_cast<size_t>(n), 1);
    for (int64_t i = 0; i < n; ++i)
      norms[size_t(i)] = float(std::inner_product(q.begin() + i * d, q.begin() + (i + 1) * d, q.begin() + i * d, 0.0));
    LloydStep s;
    s.x = q.data(), s.n = n, s.d = d, s.valid = valid.data(), s.norms = norms.data();
    std::vector<float> maxima(51), col_max(size_t(d), 0.0f);
    for (int64_t i = 0; i < n * d; ++i) col_max[size_t(i % d)] = std::max(col_max[size_t(i % d)], std::fabs(q[size_t(i)]));
    s.c = b.data(), s.k = 50, s.n_valid = n, s.col_max = col_max.data(), s.maxima = maxima.data();
    std::vector<int64_t> buf(size_t(s.k * (d + 1) + 2));
    ASSERT_TRUE(tk->lloyd_step(s, comm, buf.data()));
    const auto p2 = phase_seconds(tk->time_report());
    EXPECT_GT(p2.count("sums"), 0u) << tk->time_report();
    EXPECT_GT(p2.count("reduce"), 0u) << tk->time_report();
    EXPECT_GE(p2.at("gemm"), p.at("gemm")) << tk->time_report();
  }
}

/// The report's "<calls> calls, <MB> MB of rows not held" ({-1, -1}: none).
std::pair<long, double> traffic(const std::string& report) {
  std::smatch m;
  if (!std::regex_search(report, m, std::regex("; ([0-9]+) calls, ([0-9.e+-]+) MB of rows not held;"))) return {-1, -1.0};
  return {std::stol(m[1]), std::stod(m[2])};
}

TEST(SearchTorch, TimeReportCountsCallsAndRowsNotHeld) {
  // Rows not held are copied host->device on each read on a GPU: a call with
  // one query block reads each of its rows once, whatever the precision,
  // metric or bias (the base used to be read twice: once for the bias and
  // operands, once for the products). 500 queries x 6000 base rows: one
  // query block in the default budget.
  const int64_t n = 500, m = 6000, d = 32;
  const auto b = test::randn(m, d, 5), q = near_rows(b, n, d, 6);
  std::vector<float> norms(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i)
    norms[size_t(i)] = float(std::inner_product(b.begin() + i * d, b.begin() + (i + 1) * d, b.begin() + i * d, 0.0));
  const double mb = 4.0 * d / 1e6;
  for (const char* prec : {"fp32", "bf16"})
    for (Metric metric : {Metric::l2, Metric::inner_product})
      for (bool with_norms : {false, true}) {
        const std::string what = std::string(prec) + (metric == Metric::l2 ? " l2" : " ip") + (with_norms ? " norms" : "");
        auto tk = torch_kernel("cpu", prec);
        SearchBase base{b.data(), m};
        if (with_norms) base.norms = norms.data();
        TopK top(n, 10);
        tk->search({q.data(), n, d, 0}, base, metric, top);
        auto [calls, streamed] = traffic(tk->time_report());
        EXPECT_EQ(calls, 1) << what << ": " << tk->time_report();
        EXPECT_NEAR(streamed, (n + m) * mb, 1e-3 * (n + m) * mb) << what << ": " << tk->time_report();
        // Held base rows are not read again; the queries are.
        tk->hold(b.data(), m, d);
        tk->search({q.data(), n, d, 0}, base, metric, top);
        std::tie(calls, streamed) = traffic(tk->time_report());
        EXPECT_EQ(calls, 2) << what;
        EXPECT_NEAR(streamed, (2 * n + m) * mb, 1e-3 * (2 * n + m) * mb) << what << ": " << tk->time_report();
        tk->release(b.data());
      }
}

TEST(SearchTorch, Fp16RefusesScoresPastItsRange) {
  // Rows of norm ~300: l2 scores reach ~2e5, past fp16's 65504. fp16 must
  // say so (not return picks from inf scores); bf16 has fp32's range.
  const int64_t n = 50, m = 200, d = 16;
  auto b = test::randn(m, d, 3);
  for (float& v : b) v *= 75.f;
  const auto q = near_rows(b, n, d, 4);
  TopK want(n, 5), got(n, 5), half(n, 5);
  torch_kernel("cpu", "fp32")->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, want);
  torch_kernel("cpu", "bf16")->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, got);
  EXPECT_EQ(lists(want, n).ids, lists(got, n).ids);
  try {
    torch_kernel("cpu", "fp16")->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, half);
    FAIL() << "fp16 searched scores past its range";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runtime.precision fp16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
  }
  // Scaled to norm ~4, fp16 answers as fp32 does.
  for (float& v : b) v /= 75.f;
  const auto q2 = near_rows(b, n, d, 4);
  TopK want2(n, 5), half2(n, 5);
  torch_kernel("cpu", "fp32")->search({q2.data(), n, d, 0}, {b.data(), m}, Metric::l2, want2);
  torch_kernel("cpu", "fp16")->search({q2.data(), n, d, 0}, {b.data(), m}, Metric::l2, half2);
  EXPECT_EQ(lists(want2, n).ids, lists(half2, n).ids);
}

TEST(SearchTorch, CallsFromSeveralThreadsAtOnce) {
  // IVF list scans call search() from inside an OpenMP region, and on a GPU
  // a call holds and releases its rows: threads that hold, search and
  // release their own copies at once must get the one-thread answer.
  const int64_t n = 16, m = 64, d = 8;
  const auto b = test::randn(m, d, 11), q = near_rows(b, n, d, 12);
  auto tk = torch_kernel("cpu", "fp32");
  TopK want(n, 3);
  tk->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, want);
  const std::vector<int64_t> expect = lists(want, n).ids;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      const std::vector<float> mine(b);  // a pointer of its own to hold
      std::vector<std::vector<float>> small(64, std::vector<float>(size_t(d), 1.0f));
      for (int it = 0; it < 200; ++it) {
        // Many small holds too: the kernel's list of held rows grows and
        // shrinks under the other threads' searches.
        for (auto& r : small) tk->hold(r.data(), 1, d);
        tk->hold(mine.data(), m, d);
        TopK got(n, 3);
        tk->search({q.data(), n, d, 0}, {mine.data(), m}, Metric::l2, got);
        tk->release(mine.data());
        for (auto& r : small) tk->release(r.data());
        if (lists(got, n).ids != expect) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(SearchTorch, HeldRowsAreUsedInsteadOfTheHostCopy) {
  const int64_t n = 64, m = 128, d = 8;
  auto q = test::randn(n, d, 1);
  const auto b = test::randn(m, d, 2);
  auto tk = torch_kernel();
  TopK before(n, 3), after(n, 3), changed(n, 3);
  tk->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, before);
  {
    HeldRows held(*tk, q.data(), n, d);
    const std::vector<float> orig = q;
    std::fill(q.begin(), q.end(), 0.f);  // breaks the promise on purpose: the held copy answers
    tk->search({q.data() + 16 * d, n - 16, d, 16}, {b.data(), m}, Metric::l2, after);
    q = orig;
  }
  const Lists lb = lists(before, n), la = lists(after, n - 16);
  EXPECT_EQ(std::vector<int64_t>(lb.ids.begin() + 16 * 3, lb.ids.end()), la.ids);
  // Released: the host rows count again.
  std::fill(q.begin(), q.end(), 0.f);
  tk->search({q.data(), n, d, 0}, {b.data(), m}, Metric::inner_product, changed);
  EXPECT_EQ(lists(changed, n).scores[0], 0.f);
}

TEST(SearchTorch, DeviceBlocksAreSearchedInPlace) {
  // Device blocks (SearchKernel::alloc_block) on CPU tensors: the kNN ring's
  // device path. A block is searched where it is, as queries and as base,
  // and gives the host rows' answer.
  const int64_t n = 70, m = 150, d = 9;
  auto q = test::randn(n, d, 3);
  auto b = test::randn(m, d, 4);
  LocalCommunicator comm;
  EXPECT_EQ(make_cpu_search()->alloc_block(m, d, comm), nullptr) << "the OpenBLAS kernel offers no device blocks";
  auto tk = torch_kernel();
  float* qb = tk->alloc_block(n, d, comm);
  float* bb = tk->alloc_block(m + 5, d, comm);  // larger than its rows, as the ring's
  ASSERT_NE(qb, nullptr);
  ASSERT_NE(bb, nullptr);
  tk->write_block(qb, q.data(), n, d);
  tk->write_block(bb, b.data(), m, d);
  std::vector<uint8_t> valid(m, 1);
  for (int64_t j = 0; j < m; j += 5) valid[size_t(j)] = 0;
  // The same rows in the same blocks: bit for bit.
  auto same = [](const Lists& a, const Lists& c, const char* what) {
    EXPECT_EQ(a.ids, c.ids) << what;
    EXPECT_EQ(a.scores, c.scores) << what;
  };
  for (Metric metric : {Metric::inner_product, Metric::l2}) {
    TopK host(n, 4), dev(n, 4), pa(n, 4), pb(m, 4), ha(n, 4), hb(m, 4);
    tk->search({q.data(), n, d, 0}, {b.data(), m, 0, nullptr, nullptr, valid.data()}, metric, host);
    tk->search({qb, n, d, 0}, {bb, m, 0, nullptr, nullptr, valid.data()}, metric, dev);
    same(lists(host, n), lists(dev, n), "block vs host");
    // A join as the ring's first half makes it: host queries, block rows.
    tk->search_pair({q.data(), n, d, 0}, nullptr, {bb, m, d, 1000}, valid.data(), metric, pa, pb);
    tk->search_pair({q.data(), n, d, 0}, nullptr, {b.data(), m, d, 1000}, valid.data(), metric, ha, hb);
    same(lists(ha, n), lists(pa, n), "pair a");
    same(lists(hb, m), lists(pb, m), "pair b");
  }
  // The block is a copy: changing the host rows does not change its answer.
  TopK before(n, 2), after(n, 2);
  tk->search({qb, n, d, 0}, {bb, m}, Metric::l2, before);
  std::fill(b.begin(), b.end(), 0.f);
  tk->search({qb, n, d, 0}, {bb, m}, Metric::l2, after);
  EXPECT_EQ(lists(before, n).ids, lists(after, n).ids);
  tk->free_block(qb);
  tk->free_block(bb);
  // Blocks count in the held budget: one beyond it is not offered.
  auto small = torch_kernel("cpu", "fp32", 1 << 16);  // 32 KiB for held rows
  EXPECT_EQ(small->alloc_block(1000, d, comm), nullptr);
  EXPECT_NE(small->alloc_block(100, d, comm), nullptr);
}

TEST(SearchTorch, HalfStorageHoldsRoundedRowsInHalfTheBytes) {
  // A held-rows budget (half of memory_bytes) of 1,500 bytes: 64 x 8 query
  // rows fit in fp16/bf16 (1,024 bytes), not in fp32 (2,048).
  const int64_t n = 64, m = 128, d = 8;
  const auto b = test::randn(m, d, 2);
  auto q = near_rows(b, n, d, 3);
  TopK want(n, 3);
  make_cpu_search()->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, want);
  const Lists lw = lists(want, n);
  for (const char* storage : {"fp32", "fp16", "bf16"}) {
    auto tk = torch_kernel("cpu", "fp32", 3000, storage);
    EXPECT_EQ(tk->name().find(std::string("rows ") + storage) != std::string::npos, std::string(storage) != "fp32")
        << tk->name();
    TopK got(n, 3);
    {
      HeldRows held(*tk, q.data(), n, d);
      const std::vector<float> orig = q;
      std::fill(q.begin(), q.end(), 0.f);  // only a held copy still knows the queries
      tk->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, got);
      q = orig;
    }
    const Lists lg = lists(got, n);
    if (std::string(storage) == "fp32") {
      // Not held (no room): the zeroed host rows were searched.
      EXPECT_NE(lg.ids, lw.ids) << "fp32 rows must not fit the budget, else this test shows nothing";
      continue;
    }
    // Held, rounded: the nearest row is still each query's own; scores move
    // by the rounding (fp16: 2^-11, bf16: 2^-8 relative, on |q|^2 ~ d).
    const double rel = std::string(storage) == "fp16" ? 1e-3 : 1e-2;
    double moved = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(lg.ids[size_t(i * 3)], i) << storage << " query " << i;
      for (int j = 0; j < 3; ++j) {
        const size_t at = size_t(i * 3 + j);
        EXPECT_NEAR(lg.scores[at], lw.scores[at], rel * (2.0 * d)) << storage << " " << at;
        moved = std::max(moved, double(std::fabs(lg.scores[at] - lw.scores[at])));
      }
    }
    EXPECT_GT(moved, 0.0) << storage << ": scores of rounded rows equal the fp32 ones: rows were not rounded";
  }
}

TEST(SearchTorch, KMeansWithHalfStorageKeepsTheAssignments) {
  LocalCommunicator comm;
  for (const char* storage : {"fp16", "bf16"}) {
    FeatureBlock b1 = test::mixture(3000, 16, 6, 0.2, 4), b2 = b1;
    KMeansParams p;
    p.k = 6, p.iters = 8, p.restarts = 2;
    auto cpu = make_cpu_search();
    auto tk = torch_kernel("cpu", "fp32", 0, storage);
    const KMeansResult a = kmeans(b1, p, comm, *cpu), c = kmeans(b2, p, comm, *tk);
    EXPECT_EQ(a.assign, c.assign) << storage;
    // Centroids: means of the rounded rows.
    ASSERT_EQ(a.centroids.size(), c.centroids.size());
    const double tol = std::string(storage) == "fp16" ? 2e-3 : 1e-2;
    double diff = 0;
    for (size_t i = 0; i < a.centroids.size(); ++i) diff = std::max(diff, double(std::fabs(a.centroids[i] - c.centroids[i])));
    EXPECT_LT(diff, tol) << storage;
    EXPECT_GT(diff, 0.0) << storage << ": centroids equal the fp32 ones: the shard was not held rounded";
  }
}

TEST(SearchTorch, KMeansLeavesTheDeviceStepWhereFloatScoresCannotResolveTheRows) {
  // Two groups near 1e4 in all 16 columns, 0.05 wide and 3 apart, beside
  // blobs near the origin (test_kmeans.cpp's TwoCloseGroupsFarFromTheOrigin):
  // the device step's float scores split the groups at random; it counts
  // the rows whose scores cannot tell their centroid and declines, and
  // Lloyd goes on with the host step, as the CPU kernel does from the start.
  LocalCommunicator comm;
  FeatureBlock b = test::far_groups_beside_blobs(3.f, 2);
  for (uint64_t seed : {1, 2, 3}) {
    FeatureBlock b1 = b, b2 = b;
    KMeansParams p;
    p.k = 9, p.seed = seed, p.restarts = 1;
    const KMeansResult a = kmeans(b1, p, comm, *make_cpu_search()), c = kmeans(b2, p, comm, *torch_kernel("cpu"));
    for (int g = 0; g < 2; ++g) {  // each group whole in one cluster of its own, as on the CPU
      std::set<int64_t> in_a, in_c;
      for (int64_t i = 10 * g; i < 20000; i += 20) in_a.insert(a.assign[size_t(i)]), in_c.insert(c.assign[size_t(i)]);
      EXPECT_EQ(in_a.size(), 1u) << "seed " << seed << " group " << g << " (CPU kernel)";
      EXPECT_EQ(in_c.size(), 1u) << "seed " << seed << " group " << g << " (LibTorch kernel)";
    }
    EXPECT_NE(a.assign[0], a.assign[10]) << "seed " << seed;
    EXPECT_NE(c.assign[0], c.assign[10]) << "seed " << seed;
    // The final pass alone (host, near-ties re-decided) may still split the
    // groups right: the logged inertia shows whether the iterations did.
    for (size_t t = 1; t < c.inertia.size(); ++t)
      EXPECT_LE(c.inertia[t], c.inertia[t - 1] * (1 + 1e-6)) << "seed " << seed << " iteration " << t;
    EXPECT_NEAR(c.final_inertia, a.final_inertia, 1e-6 * a.final_inertia) << "seed " << seed;
  }
}

TEST(SearchTorch, KMeansInertiaOfRowsFarFromTheOriginIsTheCpuKernels) {
  // Two groups near 1e4, 0.05 wide and 300 apart (their scores tell them
  // apart: the device step runs), beside blobs near the origin: the step
  // took each far row's distance as |x|^2 - score, ~70 off where it is
  // ~0.04, and its per-iteration inertia (what --tol compares) was several
  // times the CPU kernel's. Both now take those from the differences.
  LocalCommunicator comm;
  FeatureBlock b = test::far_groups_beside_blobs(300.f, 3);
  FeatureBlock b1 = b, b2 = b;
  KMeansParams p;
  p.k = 9, p.seed = 2, p.restarts = 1, p.iters = 6, p.tol = 0;
  const KMeansResult a = kmeans(b1, p, comm, *make_cpu_search()), c = kmeans(b2, p, comm, *torch_kernel("cpu"));
  EXPECT_EQ(a.assign, c.assign);
  ASSERT_EQ(a.inertia.size(), c.inertia.size());
  for (size_t t = 0; t < a.inertia.size(); ++t) EXPECT_NEAR(c.inertia[t], a.inertia[t], 1e-5 * a.inertia[t]) << "iteration " << t;
}

TEST(SearchTorch, LloydStepDeclinesWhereFloatScoresCannotTellTheRows) {
  // A wide bulk (spread 150 in 16 columns) and two groups near 1e4, 0.05
  // wide and 3 apart, their own means as centroids: the mean distance is
  // the bulk's, so a gate on it (the farthest row's rounding against the
  // mean distance) kept the device step, whose far centroids then moved to
  // the groups' midpoint. The step counts the unsure rows (only far ones)
  // and declines; on ordinary data it counts none and runs.
  LocalCommunicator comm;
  const int64_t n = 20000, d = 16;
  for (bool far : {true, false}) {
    FeatureBlock b = test::mixture(n, d, 3, 0.3, 9);
    std::mt19937 gen(7);
    std::normal_distribution<float> bulk(0.f, 150.f), tight(0.f, 0.05f);
    std::vector<int64_t> label(size_t(n), 0);
    for (int64_t i = 0; far && i < n; ++i)
      for (int64_t j = 0; j < d; ++j) b.x[size_t(i * d + j)] = bulk(gen);
    for (int64_t i = 0; far && i < n; i += 10) {
      label[size_t(i)] = 1 + (i / 10) % 2;
      for (int64_t j = 0; j < d; ++j) b.x[size_t(i * d + j)] = 1e4f + (label[size_t(i)] == 2 && j == 0 ? 3.f : 0.f) + tight(gen);
    }
    if (!far) label = b.labels;
    std::vector<double> sum(size_t(3 * d), 0.0), count(3, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      count[size_t(label[size_t(i)])] += 1;
      for (int64_t j = 0; j < d; ++j) sum[size_t(label[size_t(i)] * d + j)] += b.x[size_t(i * d + j)];
    }
    std::vector<float> c(static_cast<size_t>(3 * d)), norms(static_cast<size_t>(n)), col_max(static_cast<size_t>(d), 0.f),
        maxima(4, 0.f);
    for (size_t t = 0; t < c.size(); ++t) c[t] = float(sum[t] / count[t / size_t(d)]);
    row_norms(b.x.data(), n, d, norms.data());
    for (int64_t i = 0; i < n * d; ++i) col_max[size_t(i % d)] = std::max(col_max[size_t(i % d)], std::fabs(b.x[size_t(i)]));
    LloydStep s;
    s.x = b.x.data(), s.n = n, s.d = d, s.first_row = 0, s.valid = b.valid.data(), s.norms = norms.data();
    s.c = c.data(), s.k = 3, s.n_valid = n, s.col_max = col_max.data(), s.maxima = maxima.data();
    int64_t unsure = -1;
    s.unsure_rows = &unsure;
    std::vector<int64_t> out(size_t(3 * (d + 1) + 2), -7);
    const bool ran = torch_kernel("cpu", "fp32", 64 << 10)->lloyd_step(s, comm, out.data());
    if (far) {
      EXPECT_FALSE(ran);
      EXPECT_GT(unsure, 0);
      EXPECT_LE(unsure, 2000) << "rows of the bulk counted";
      EXPECT_EQ(out[0], -7) << "a declined step wrote its sums";
    } else {
      EXPECT_TRUE(ran);
      EXPECT_EQ(unsure, 0);
    }
  }
}

TEST(SearchTorch, KMeansMatchesCpuKernelBitForBit) {
  LocalCommunicator comm;
  for (bool spherical : {false, true})
    for (const char* prec : {"fp32", "bf16"}) {
      FeatureBlock b1 = test::mixture(3000, 16, 6, 0.2, 4), b2 = b1;
      KMeansParams p;
      p.k = 6, p.iters = 8, p.restarts = 2, p.spherical = spherical;
      auto cpu = make_cpu_search();
      auto tk = torch_kernel("cpu", prec);
      const KMeansResult a = kmeans(b1, p, comm, *cpu), c = kmeans(b2, p, comm, *tk);
      const std::string what = std::string(prec) + (spherical ? " spherical" : " l2");
      EXPECT_EQ(a.assign, c.assign) << what;
      // Same assignments: the exact integer sums give the same centroids.
      EXPECT_EQ(a.centroids, c.centroids) << what;
      ASSERT_EQ(a.inertia.size(), c.inertia.size()) << what;
      for (size_t i = 0; i < a.inertia.size(); ++i) EXPECT_NEAR(a.inertia[i], c.inertia[i], 1e-5 * a.inertia[i]) << what;
    }
}

TEST(SearchTorch, LloydStepBufferEqualsCpuAccumulation) {
  // The device step's int64 buffer against the CPU's for the same input
  // (assignments of well-separated rows agree, so every integer agrees).
  LocalCommunicator comm;
  const int64_t n = 900, d = 12, k = 8;
  FeatureBlock b = test::mixture(n, d, k, 0.1, 6);
  for (int64_t i = 0; i < n; i += 13) b.valid[size_t(i)] = 0;
  std::vector<float> norms(n), c(size_t(k * d));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(b.x[size_t(i * d + j)]) * b.x[size_t(i * d + j)];
    norms[size_t(i)] = float(s);
  }
  for (int64_t i = 0; i < k; ++i) std::copy_n(b.x.data() + (i + 16) * d, d, c.data() + i * d);  // rows 16.. are of every component
  for (bool twins : {false, true}) {
    // twins: centroids 5..7 equal to 0..2, so their rows tie: the lower centroid takes them.
    if (twins) std::copy_n(c.data(), 3 * d, c.data() + 5 * d);
    std::vector<float> maxima(size_t(k + 1), -7), col_max(size_t(d), 0.0f);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j)
        if (b.valid[size_t(i)]) col_max[size_t(j)] = std::max(col_max[size_t(j)], std::fabs(b.x[size_t(i * d + j)]));
    LloydStep s;
    s.x = b.x.data(), s.n = n, s.d = d, s.first_row = 0, s.valid = b.valid.data(), s.norms = norms.data();
    s.c = c.data(), s.k = k, s.n_valid = count_valid(b, comm), s.col_max = col_max.data(), s.maxima = maxima.data();
    std::vector<int64_t> got(size_t(k * (d + 1) + 2), -7), want(got.size(), 0);
    auto tk = torch_kernel("cpu", "fp32", 64 << 10);  // small blocks
    ASSERT_TRUE(tk->lloyd_step(s, comm, got.data()));
    EXPECT_FALSE(make_cpu_search()->lloyd_step(s, comm, want.data()));
    TopK top(n, 1);
    make_cpu_search()->search({b.x.data(), n, d, 0}, {c.data(), k}, Metric::l2, top);
    // The grids' maxima of the CPU's assignment: each centroid's largest
    // |x_ij| exactly, the largest distance up to the kernels' float rounding.
    std::vector<float> want_max(size_t(k + 1), 0.0f);
    for (int64_t i = 0; i < n; ++i) {
      if (!b.valid[size_t(i)]) continue;
      const int64_t l = top.indices(i)[0];
      for (int64_t j = 0; j < d; ++j) want_max[size_t(l)] = std::max(want_max[size_t(l)], std::fabs(b.x[size_t(i * d + j)]));
      want_max[size_t(k)] = std::max(want_max[size_t(k)], std::max(norms[size_t(i)] - top.scores(i)[0], 0.f));
    }
    EXPECT_EQ(std::vector<float>(maxima.begin(), maxima.end() - 1), std::vector<float>(want_max.begin(), want_max.end() - 1));
    EXPECT_NEAR(maxima[size_t(k)], want_max[size_t(k)], 1e-5 * want_max[size_t(k)]);
    const LloydGrids g(col_max.data(), want_max.data(), k, d, s.n_valid);
    for (int64_t i = 0; i < n; ++i) {
      if (!b.valid[size_t(i)]) continue;
      const int64_t l = top.indices(i)[0];
      g.add(want.data() + l * d, l, b.x.data() + i * d);
      want[size_t(k * d + l)] += 1;
      g.dist.add(want[size_t(k * (d + 1))], want[size_t(k * (d + 1) + 1)], std::max(norms[size_t(i)] - top.scores(i)[0], 0.f));
    }
    EXPECT_EQ(std::vector<int64_t>(got.begin(), got.end() - 2), std::vector<int64_t>(want.begin(), want.end() - 2));
    // The distances' float rounding differs between the kernels: their sum, not each limb.
    const double got_total =
        LloydGrids(col_max.data(), maxima.data(), k, d, s.n_valid).dist.to_double(got[size_t(k * (d + 1))], got.back());
    const double want_total = g.dist.to_double(want[size_t(k * (d + 1))], want.back());
    EXPECT_NEAR(got_total, want_total, 1e-5 * want_total);
    for (int64_t l = 5; twins && l < 8; ++l) EXPECT_EQ(got[size_t(k * d + l)], 0) << "centroid " << l << " took tied rows";
  }
}

TEST(SearchTorch, LloydStepGridsFollowTheRowsAsAssigned) {
  // One row 2^21 from the others, 2^20 from its centroid: its distance
  // (2^40) sizes the inertia's coarse step (2^-10 here) above the other
  // rows' resolution (1/4096): their sum lives in the fine limb. Its value
  // sizes only its own centroid's sums grid: the others keep theirs. Rows
  // and centroids on a 1/64 grid, so fp32 distances are exact in both
  // kernels and every limb must agree with SplitGrid's and FixedGrid's.
  LocalCommunicator comm;
  const int64_t n = 900, d = 12, k = 8;
  std::vector<float> x(static_cast<size_t>(n * d)), c(static_cast<size_t>(k * d), 0.0f), norms(static_cast<size_t>(n));
  for (int64_t i = 0; i < n * d; ++i) x[size_t(i)] = float(int64_t(key_hash(3, uint64_t(i), 7) % 257) - 128) / 64.0f;
  for (int64_t j = 0; j < d; ++j) x[size_t(17 * d + j)] = j == 0 ? 2097152.0f : 0.0f;
  for (int64_t l = 0; l < k - 1; ++l) std::copy_n(x.data() + (l + 100) * d, d, c.data() + l * d);
  c[size_t((k - 1) * d)] = 1048576.0f;
  for (int64_t i = 0; i < n; ++i)
    norms[size_t(i)] = float(std::inner_product(x.begin() + i * d, x.begin() + (i + 1) * d, x.begin() + i * d, 0.0));
  std::vector<uint8_t> valid(size_t(n), 1);
  std::vector<float> maxima(size_t(k + 1)), col_max(size_t(d), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) col_max[size_t(j)] = std::max(col_max[size_t(j)], std::fabs(x[size_t(i * d + j)]));
  LloydStep s;
  s.x = x.data(), s.n = n, s.d = d, s.first_row = 0, s.valid = valid.data(), s.norms = norms.data();
  s.c = c.data(), s.k = k, s.n_valid = n, s.col_max = col_max.data(), s.maxima = maxima.data();
  std::vector<int64_t> got(size_t(k * (d + 1) + 2), -7);
  ASSERT_TRUE(torch_kernel("cpu", "fp32", 64 << 10)->lloyd_step(s, comm, got.data()));
  EXPECT_EQ(maxima[size_t(k)], 1099511627776.0f) << "the far row's distance, 2^40";
  EXPECT_EQ(maxima[size_t(k - 1)], 2097152.0f) << "the far value";
  for (int64_t l = 0; l < k - 1; ++l) EXPECT_LE(maxima[size_t(l)], 2.0f) << "centroid " << l;
  TopK top(n, 1);
  make_cpu_search()->search({x.data(), n, d, 0}, {c.data(), k}, Metric::l2, top);
  const LloydGrids g(col_max.data(), maxima.data(), k, d, n);
  EXPECT_EQ(g.dist.shift(), 10);
  std::vector<int64_t> want(got.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t l = top.indices(i)[0];
    g.add(want.data() + l * d, l, x.data() + i * d);
    want[size_t(k * d + l)] += 1;
    g.dist.add(want[size_t(k * (d + 1))], want[size_t(k * (d + 1) + 1)], std::max(norms[size_t(i)] - top.scores(i)[0], 0.f));
  }
  EXPECT_EQ(got, want);
  EXPECT_NE(got.back(), 0) << "the rows' distances did not reach the fine limb: the test tests nothing";
  EXPECT_EQ(got[size_t(k * d + k - 1)], 1) << "the far row has its own centroid";
  // The other centroids' sums are exact: every value is on their grids.
  for (int64_t l = 0; l < k - 1; ++l) {
    double s0 = 0;
    for (int64_t i = 0; i < n; ++i)
      if (top.indices(i)[0] == l) s0 += double(x[size_t(i * d)]);
    EXPECT_EQ(g.to_double(got[size_t(l * d)], l, 0), s0) << "centroid " << l;
  }
}

TEST(SearchTorch, ExactKnnAndIvfThroughTheComputeTarget) {
  TargetGuard guard;
  LocalCommunicator comm;
  for (bool l2 : {false, true}) {
    FeatureBlock b1 = test::mixture(1200, 12, 6, 1.0, 3);
    for (int64_t i = 0; i < b1.local_rows(); i += 7) b1.valid[size_t(i)] = 0;
    FeatureBlock b2 = b1;
    KnnParams p;
    p.k = 8, p.metric = l2 ? "l2" : "cosine";
    set_compute_target_for_tests(ComputeTarget{});
    const KnnGraph a = knn_exact(b1, p, comm);
    use_torch();
    const KnnGraph c = knn_exact(b2, p, comm);
    // The float search picks k + 4 candidates and the rescoring in double
    // orders them: the graphs are identical, values included.
    EXPECT_EQ(a.indices, c.indices) << (l2 ? "l2" : "cosine");
    EXPECT_EQ(a.values, c.values) << (l2 ? "l2" : "cosine");
  }
  // IVF: the same lists and probes through either kernel (the torch one in
  // few large calls from one thread, the CPU one in batches from OpenMP
  // threads) give the same graph, up to float near-ties (IVF's scores are
  // the kernel's float products, not re-scored: other GEMM shapes round
  // in the last bit).
  FeatureBlock b = test::mixture(9000, 16, 10, 0.5, 9), b3 = b;
  KnnParams p;
  p.k = 10, p.mode = "ivf", p.nlist = 20, p.nprobe = 4, p.recall_sample = 300;
  set_compute_target_for_tests(ComputeTarget{});
  const KnnGraph want = knn_ivf(b3, p, comm);
  use_torch();
  EXPECT_EQ(make_search()->min_call_rows(), int64_t(1) << 18);
  // bench knn's executed products: the CPU kernel's joins multiply each
  // pair once, the LibTorch kernel's are two searches.
  EXPECT_TRUE(make_cpu_search()->joins_pairs_once());
  EXPECT_FALSE(make_search()->joins_pairs_once());
  testing::internal::CaptureStdout();
  const KnnGraph g = knn_ivf(b, p, comm);
  const std::string log = testing::internal::GetCapturedStdout();
  // All 9,000 queries are one batch (a GPU pays per call): one call per
  // probed list, not one per list and 4096-query batch.
  const size_t at = log.find("knn ivf: kernel time (torch:cpu fp32");
  ASSERT_NE(at, std::string::npos) << log;
  const long calls = traffic(log.substr(at, log.find('\n', at) - at)).first;
  EXPECT_GE(calls, 1) << log;
  EXPECT_LE(calls, p.nlist) << log;
  EXPECT_GE(g.recall, 0.9);
  ASSERT_EQ(g.indices.size(), want.indices.size());
  int64_t swaps = 0;
  for (size_t i = 0; i < g.indices.size(); ++i) {
    EXPECT_NEAR(g.values[i], want.values[i], 1e-5f) << i;
    swaps += g.indices[i] != want.indices[i];
  }
  EXPECT_LE(swaps, 4) << "neighbours differing beyond near-ties";
}

TEST(SearchTorch, CudaKernelMatchesCpu) {
  if (const std::string why = no_gpu(); !why.empty()) GTEST_SKIP() << why;
  const int64_t n = 3000, m = 5000, d = 96;
  const auto b = test::randn(m, d, 12), q = near_rows(b, n, d, 11);
  auto cpu = make_cpu_search();
  for (const char* prec : {"fp32", "tf32", "bf16", "fp16"})
    // 4 MiB: the base (1.9 MB) does not fit beside the held queries and
    // streams in blocks of ~50 rows (1 MiB made some 75,000 block pairs of
    // launches and syncs: tens of seconds of a GPU check's budget).
    for (int64_t memory : {int64_t(0), int64_t(4) << 20}) {
      auto g = torch_kernel("cuda:0", prec, memory);
      for (Metric metric : {Metric::inner_product, Metric::l2}) {
        TopK a(n, 1), c(n, 1);
        cpu->search({q.data(), n, d, 0}, {b.data(), m}, metric, a);
        HeldRows held(*g, q.data(), n, d);
        g->search({q.data(), n, d, 0}, {b.data(), m}, metric, c);
        expect_same(lists(a, n), lists(c, n), std::string(prec) + " " + g->name(), 2);
      }
    }
}

TEST(SearchTorch, CudaKMeansMatchesCpu) {
  if (const std::string why = no_gpu(); !why.empty()) GTEST_SKIP() << why;
  LocalCommunicator comm;
  for (const char* prec : {"fp32", "bf16"}) {
    FeatureBlock b1 = test::mixture(20000, 32, 10, 0.2, 4), b2 = b1;
    KMeansParams p;
    p.k = 10, p.iters = 10;
    auto cpu = make_cpu_search();
    auto g = torch_kernel("cuda:0", prec);
    const KMeansResult a = kmeans(b1, p, comm, *cpu), c = kmeans(b2, p, comm, *g);
    EXPECT_EQ(a.assign, c.assign) << prec;
    EXPECT_EQ(a.centroids, c.centroids) << prec;
    EXPECT_NEAR(a.final_inertia, c.final_inertia, 1e-5 * a.final_inertia) << prec;
  }
  for (const char* storage : {"fp16", "bf16"}) {  // the shard held rounded on the GPU
    FeatureBlock b1 = test::mixture(20000, 32, 10, 0.2, 4), b2 = b1;
    KMeansParams p;
    p.k = 10, p.iters = 10;
    auto cpu = make_cpu_search();
    auto g = torch_kernel("cuda:0", "fp32", 0, storage);
    const KMeansResult a = kmeans(b1, p, comm, *cpu), c = kmeans(b2, p, comm, *g);
    EXPECT_EQ(a.assign, c.assign) << storage;
    EXPECT_NEAR(a.final_inertia, c.final_inertia, 1e-2 * a.final_inertia) << storage;
  }
}

TEST(SearchTorch, CudaTimeReportUsesDeviceEvents) {
  if (const std::string why = no_gpu(); !why.empty()) GTEST_SKIP() << why;
  // The phases come from CUDA events between the marks: spans of the
  // device's stream inside the call, so at most the call's wall time.
  const int64_t n = 20000, m = 50000, d = 128;
  const auto b = test::randn(m, d, 21), q = near_rows(b, n, d, 22);
  for (const char* prec : {"fp32", "bf16"}) {
    auto g = torch_kernel("cuda:0", prec);
    TopK warm(100, 10), top(n, 10);
    g->search({q.data(), 100, d, 0}, {b.data(), m}, Metric::l2, warm);  // CUDA context, cuBLAS handles
    const std::string before = g->time_report();
    const double gemm0 = phase_seconds(before).count("gemm") ? phase_seconds(before).at("gemm") : 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    g->search({q.data(), n, d, 0}, {b.data(), m}, Metric::l2, top);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string r = g->time_report();
    const auto p = phase_seconds(r), p0 = phase_seconds(before);
    EXPECT_NE(r.find("device events"), std::string::npos) << r;
    for (const char* phase : {"gemm", "select", "merge", "download"}) EXPECT_GT(p.count(phase), 0u) << prec << ": " << r;
    EXPECT_GT(p.at("gemm"), gemm0) << prec << ": " << r;
    EXPECT_LE(total(p) - total(p0), wall * 1.02 + 1e-3) << prec << ": " << r << " (wall " << wall << " s)";
    std::printf("[ %s: wall %.4f s; %s ]\n", prec, wall, r.c_str());
  }
}

TEST(SearchTorch, CudaDeviceBlocksOnlyForNccl) {
  if (const std::string why = no_gpu(); !why.empty()) GTEST_SKIP() << why;
  // MPI (or one process) would read a device pointer as a host one: a GPU
  // kernel offers blocks only to NCCL (tests/mpi: DistKnn.GpuRing*).
  LocalCommunicator comm;
  EXPECT_EQ(torch_kernel("cuda:0")->alloc_block(100, 8, comm), nullptr);
}

TEST(SearchTorch, PerRowScalarsAreHeldInFp32WhateverTheStorage) {
  // k-means holds its |x|^2 as [n x 1] rows; with storage bf16 they were
  // rounded (8 bits of mantissa), moving every distance. Here a [n x 1]
  // base 1 + j/1000 held under bf16 storage must still give the exact best.
  const int64_t n = 500;
  std::vector<float> b(n), q{1.f};
  for (int64_t j = 0; j < n; ++j) b[size_t(j)] = 1.f + float(j) / 1000.f;
  for (const char* storage : {"bf16", "fp16"}) {
    auto k = torch_kernel("cpu", "fp32", 0, storage);
    HeldRows held(*k, b.data(), n, 1);
    TopK top(1, 1);
    k->search({q.data(), 1, 1, 0}, {b.data(), n}, Metric::inner_product, top);
    EXPECT_EQ(top.indices(0)[0], n - 1) << storage;  // rounded: ties, and the lowest id of the top group
    EXPECT_EQ(top.scores(0)[0], b[size_t(n - 1)]) << storage;
  }
}

TEST(SearchTorch, Fp16StorageRefusesValuesBeyondItsRange) {
  // 1e5 held in fp16 became inf: its row's scores, and k-means' grid sums
  // of it (inf x scale cast to int64), were garbage without a word.
  std::vector<float> x(64 * 4, 0.5f);
  x[17 * 4 + 2] = 1e5f;
  auto fp16 = torch_kernel("cpu", "fp32", 0, "fp16");
  try {
    HeldRows held(*fp16, x.data(), 64, 4);
    ADD_FAILURE() << "held an inf";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runtime.storage=fp16: a row value is beyond fp16's range"), std::string::npos)
        << e.what();
  }
  auto bf16 = torch_kernel("cpu", "fp32", 0, "bf16");
  EXPECT_NO_THROW(HeldRows(*bf16, x.data(), 64, 4));
}
