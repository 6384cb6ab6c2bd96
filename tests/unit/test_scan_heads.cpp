// SCAN heads: analytic gradients of the SCAN loss and the balanced
// cross-entropy against finite differences (linear and MLP heads), Adam
// against its formula, head extraction, keyed initialisation, and results
// that do not depend on the thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/test_common.h"
#include "distclust/rng.h"
#include "scan/scan_heads.h"

extern "C" void openblas_set_num_threads(int);

using namespace distclust;

namespace {

std::vector<float> random_rows(int64_t n, int64_t d, uint64_t seed) { return test::randn(n, d, seed, 7); }

/// SCAN total loss (sum over heads) of anchors x[0..n) and neighbours x[n..2n), one rank.
double scan_total(ScanHeads& h, const std::vector<float>& x, int64_t n, double w) {
  const int H = h.shape().heads;
  const int64_t C = h.shape().c, W = h.width();
  std::vector<float> z(size_t(2 * n * W));
  h.forward(x.data(), 2 * n, z.data());
  softmax_heads(z.data(), 2 * n, H, C, z.data());
  std::vector<double> pbar(size_t(W), 0.0), ent(H);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < W; ++j) pbar[j] += z[i * W + j] / double(n);
  mean_entropy(pbar.data(), H, C, ent.data());
  double total = 0;
  for (int hh = 0; hh < H; ++hh) {
    double cons = 0;
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += double(z[i * W + hh * C + c]) * z[(n + i) * W + hh * C + c];
      cons -= std::log(std::max(s, 1e-7));
    }
    total += cons / double(n) - w * ent[hh];
  }
  return total;
}

void check_scan_gradient(const HeadShape& shape) {
  const int64_t n = 7;
  const double w = 2.0;
  ScanHeads h(shape);
  h.init(11);
  auto x = random_rows(2 * n, shape.d, 3);
  // Analytic gradient.
  const int64_t W = h.width();
  std::vector<float> z(size_t(2 * n * W)), dz(z.size());
  h.forward(x.data(), 2 * n, z.data());
  softmax_heads(z.data(), 2 * n, shape.heads, shape.c, z.data());
  std::vector<double> pbar(size_t(W), 0.0), cons(shape.heads, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < W; ++j) pbar[j] += z[i * W + j] / double(n);
  scan_loss_grad(z.data(), z.data() + n * W, n, shape.heads, shape.c, pbar.data(), double(n), w, dz.data(),
                 cons.data());
  h.zero_grad();
  h.backward(dz.data());
  std::vector<float> g = h.grad();
  // Central differences on every parameter (the models are small).
  const float eps = 2e-3f;
  int checked = 0;
  for (size_t j = 0; j < h.num_params(); ++j) {
    const float keep = h.params()[j];
    h.params()[j] = keep + eps;
    const double up = scan_total(h, x, n, w);
    h.params()[j] = keep - eps;
    const double dn = scan_total(h, x, n, w);
    h.params()[j] = keep;
    const double fd = (up - dn) / (2.0 * eps);
    EXPECT_NEAR(g[j], fd, tol::finite_difference(fd, 2)) << shape.kind << " parameter " << j;
    ++checked;
  }
  EXPECT_EQ(checked, int(h.num_params()));
}

}  // namespace

TEST(ScanHeads, LinearGradientMatchesFiniteDifferences) {
  check_scan_gradient({"linear", 5, 4, 0, 3});
}

TEST(ScanHeads, MlpGradientMatchesFiniteDifferences) {
  check_scan_gradient({"mlp", 5, 4, 6, 2});
}

TEST(ScanHeads, ConsistencyLossIsAsDefined) {
  // One head, identical anchor and neighbour predictions p: consistency = -log sum p^2.
  const int64_t C = 3;
  std::vector<float> pa = {0.5f, 0.25f, 0.25f}, pn = pa, dz(6);
  std::vector<double> pbar = {0.5, 0.25, 0.25};
  double cons = 0;
  scan_loss_grad(pa.data(), pn.data(), 1, 1, C, pbar.data(), 1.0, 0.0, dz.data(), &cons);
  EXPECT_NEAR(cons, -std::log(0.375), tol::kFloatFew);
  double ent = 0;
  mean_entropy(pbar.data(), 1, C, &ent);
  EXPECT_NEAR(ent, -(0.5 * std::log(0.5) + 0.5 * std::log(0.25)), tol::kDoubleIterative);
  // Orthogonal predictions: the dot product is clamped at 1e-7 and passes no gradient.
  std::vector<float> qa = {1, 0, 0}, qn = {0, 1, 0};
  cons = 0;
  scan_loss_grad(qa.data(), qn.data(), 1, 1, C, pbar.data(), 1.0, 0.0, dz.data(), &cons);
  EXPECT_NEAR(cons, -std::log(1e-7), tol::kDoubleIterative);
  for (float v : dz) EXPECT_EQ(v, 0.f);
}

TEST(ScanHeads, BalancedCrossEntropyGradient) {
  HeadShape s{"linear", 4, 3, 0, 1};
  ScanHeads h(s);
  h.init(5);
  const int64_t n = 6;
  auto x = random_rows(n, s.d, 9);
  std::vector<int64_t> y = {0, 1, 2, 2, 1, 2};
  std::vector<double> wc = {2.0, 1.0, 0.5};
  double wt = 0;
  for (auto c : y) wt += wc[c];
  auto loss_of = [&](ScanHeads& hh) {
    std::vector<float> z(size_t(n * 3)), dz(z.size());
    hh.forward(x.data(), n, z.data());
    softmax_heads(z.data(), n, 1, 3, z.data());
    return balanced_ce_grad(z.data(), y.data(), n, 3, wc.data(), wt, dz.data());
  };
  std::vector<float> z(size_t(n * 3)), dz(z.size());
  h.forward(x.data(), n, z.data());
  softmax_heads(z.data(), n, 1, 3, z.data());
  double l0 = balanced_ce_grad(z.data(), y.data(), n, 3, wc.data(), wt, dz.data());
  // Weighted mean of -log p_y (torch cross_entropy with weight=, reduction=mean).
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) ref += wc[y[i]] * -std::log(double(z[i * 3 + y[i]]));
  EXPECT_NEAR(l0, ref / wt, tol::kFloatFew);
  h.zero_grad();
  h.backward(dz.data());
  std::vector<float> g = h.grad();
  const float eps = 2e-3f;
  for (size_t j = 0; j < h.num_params(); ++j) {
    const float keep = h.params()[j];
    h.params()[j] = keep + eps;
    double up = loss_of(h);
    h.params()[j] = keep - eps;
    double dn = loss_of(h);
    h.params()[j] = keep;
    double fd = (up - dn) / (2 * eps);
    EXPECT_NEAR(g[j], fd, tol::finite_difference(fd)) << "parameter " << j;
  }
}

TEST(ScanHeads, AdamFollowsTorchFormula) {
  ScanHeads h({"linear", 2, 2, 0, 1});
  h.init(1);
  std::vector<double> p(h.params().begin(), h.params().end()), m(p.size(), 0), v(p.size(), 0);
  AdamConfig a{0.05, 0.01};
  for (int t = 1; t <= 5; ++t) {
    for (size_t j = 0; j < p.size(); ++j) h.grad()[j] = float(0.1 * (j + 1) * (t % 2 ? 1 : -0.5));
    for (size_t j = 0; j < p.size(); ++j) {
      double g = double(h.grad()[j]) + a.weight_decay * p[j];
      m[j] = 0.9 * m[j] + 0.1 * g;
      v[j] = 0.999 * v[j] + 0.001 * g * g;
      double mh = m[j] / (1 - std::pow(0.9, t)), vh = v[j] / (1 - std::pow(0.999, t));
      p[j] -= a.lr * mh / (std::sqrt(vh) + a.eps);
    }
    h.adam(a);
  }
  EXPECT_EQ(h.adam_step(), 5);
  for (size_t j = 0; j < p.size(); ++j) EXPECT_NEAR(h.params()[j], p[j], tol::kFloatSum) << j;
}

TEST(ScanHeads, ExtractedHeadGivesTheSameOutputs) {
  for (const char* kind : {"linear", "mlp"}) {
    HeadShape s{kind, 6, 5, 4, 3};
    ScanHeads all(s);
    all.init(42);
    auto x = random_rows(9, s.d, 2);
    std::vector<float> z(size_t(9 * all.width()));
    all.forward(x.data(), 9, z.data());
    for (int h = 0; h < 3; ++h) {
      ScanHeads one = all.extract(h);
      std::vector<float> z1(size_t(9 * 5));
      one.forward(x.data(), 9, z1.data());
      for (int64_t i = 0; i < 9; ++i)
        for (int64_t c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(z1[i * 5 + c], z[i * 15 + h * 5 + c]) << kind << " head " << h;
    }
    // Keyed init: a head's parameters do not depend on how many heads there are.
    HeadShape s1 = s;
    s1.heads = 1;
    ScanHeads single(s1);
    single.init(42);
    EXPECT_EQ(single.params(), all.extract(0).params()) << kind;
  }
}

TEST(ScanHeads, SoftmaxMatchesDoublePrecision) {
  const int64_t n = 50, C = 37;
  auto z = random_rows(n, 2 * C, 12);
  for (auto& v : z) v *= 8;  // logits spread over ~+-30
  std::vector<float> p(z.size());
  softmax_heads(z.data(), n, 2, C, p.data());
  for (int64_t i = 0; i < n; ++i)
    for (int h = 0; h < 2; ++h) {
      const float* zi = z.data() + i * 2 * C + h * C;
      double mx = *std::max_element(zi, zi + C), s = 0;
      for (int64_t j = 0; j < C; ++j) s += std::exp(double(zi[j]) - mx);
      for (int64_t j = 0; j < C; ++j) {
        const double ref = std::exp(double(zi[j]) - mx) / s;
        // Error bound in units of float rounding u = 2^-24, relative to ref:
        // z - max is rounded (|z - max| u, up to ~60 u here), exp_nonpos is
        // within 2 ulp (4 u), the float sum of C terms <= 1 adds up to (C - 1) u
        // (its order depends on the vector width -march=native picks), the
        // reciprocal and the product 1 u each.
        const double bound = ref * tol::kFloatUnit * (double(C) + 6 + std::abs(double(zi[j]) - mx)) + 1e-30;
        ASSERT_NEAR(p[i * 2 * C + h * C + j], ref, bound) << i << " " << h << " " << j;
      }
    }
}

TEST(ScanHeads, SoftmaxIsStable) {
  std::vector<float> z = {1000.f, 999.f, -1000.f, 0.f, 0.f, 0.f};
  softmax_heads(z.data(), 1, 2, 3, z.data());
  EXPECT_NEAR(z[0], 1 / (1 + std::exp(-1.0)), tol::kFloatFew);
  EXPECT_NEAR(z[2], 0.0, 1e-30);  // e^-2000 underflows: exactly 0 up to a denormal
  EXPECT_NEAR(z[3] + z[4] + z[5], 1.0, tol::kFloatFew);
}

TEST(ScanHeads, ResultsDoNotDependOnThreadCount) {
  // Large enough that the GEMMs run in many tiles and the reductions split
  // across threads; OpenBLAS' own thread count is changed too (the kernels
  // must run it single-threaded whatever it was set to).
  for (const char* kind : {"linear", "mlp"}) {
    HeadShape s{kind, 200, 300, 96, 4};
    const int64_t n = 600;
    auto x = random_rows(n, s.d, 4);
    std::vector<std::vector<float>> grads, outs;
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      openblas_set_num_threads(threads);
      ScanHeads h(s);
      h.init(8);
      std::vector<float> z(size_t(n * h.width()));
      h.forward(x.data(), n, z.data());
      h.zero_grad();
      h.backward(z.data());  // any dz will do
      outs.push_back(z);
      grads.push_back(h.grad());
    }
    omp_set_num_threads(2);
    for (int t : {1, 2}) {
      EXPECT_TRUE(outs[0] == outs[t]) << kind << ": forward outputs differ between 1 and " << t + 1 << " threads";
      EXPECT_TRUE(grads[0] == grads[t]) << kind << ": gradients differ between 1 and " << t + 1 << " threads";
    }
  }
}
