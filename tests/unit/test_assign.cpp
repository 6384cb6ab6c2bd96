// The CPU assignment kernel against a brute-force reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "distclust/assign.h"
#include "distclust/rng.h"

using namespace distclust;

namespace {

std::vector<float> randn(int64_t n, int64_t d, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n * d));
  KeyedRng r(seed, 1);
  for (auto& x : v) x = float(r.normal());
  return v;
}

void brute(const std::vector<float>& x, const std::vector<float>& c, int64_t d, bool ip, std::vector<int64_t>& lab,
           std::vector<double>& dist) {
  int64_t n = x.size() / d, k = c.size() / d;
  lab.assign(n, -1);
  dist.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t t = 0; t < d; ++t) {
        double a = x[i * d + t], b = c[j * d + t];
        s += ip ? -a * b : (a - b) * (a - b);
      }
      if (s < best) best = s, lab[i] = j;
    }
    dist[i] = ip ? 2 + 2 * best : best;
  }
}

}  // namespace

TEST(Assign, MatchesBruteForceAcrossTileShapes) {
  for (auto [n, d, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {37, 5, 3}, {1000, 17, 70},
                                                                            {777, 64, 1100}, {300, 3, 16}}) {
    auto x = randn(n, d, 11), c = randn(k, d, 12);
    std::vector<float> norms(n);
    row_norms(x.data(), n, d, norms.data());
    std::vector<int64_t> ref_lab;
    std::vector<double> ref_dist;
    brute(x, c, d, false, ref_lab, ref_dist);
    for (AssignTiling t : {AssignTiling{}, AssignTiling{7, 16}, AssignTiling{64, 33}}) {
      auto a = make_cpu_assigner(t);
      std::vector<int64_t> lab(n);
      std::vector<float> dist(n);
      double total = a->assign(x.data(), norms.data(), nullptr, n, d, c.data(), k, false, lab.data(), dist.data());
      double ref_total = 0;
      int64_t mism = 0;
      for (int64_t i = 0; i < n; ++i) {
        ref_total += ref_dist[i];
        // A different label is only acceptable for a float near-tie.
        if (lab[i] != ref_lab[i]) {
          ++mism;
          EXPECT_NEAR(dist[i], ref_dist[i], 1e-4 * (1 + ref_dist[i]));
        }
        EXPECT_NEAR(dist[i], ref_dist[i], 1e-3 * (1 + ref_dist[i])) << "row " << i;
      }
      EXPECT_LE(mism, n / 500 + 1);
      EXPECT_NEAR(total, ref_total, 1e-4 * ref_total);
    }
  }
}

TEST(Assign, TiesGoToLowestIndexAndInvalidRowsAreSkipped) {
  const int64_t d = 4, k = 40;
  std::vector<float> c(k * d, 0.0f);
  for (int64_t j = 0; j < k; ++j) c[j * d] = float(j % 5);  // centroids j, j+5, ... identical
  std::vector<float> x = {3, 0, 0, 0, 1, 0, 0, 0, 100, 100, 0, 0};
  std::vector<float> norms(3);
  row_norms(x.data(), 3, d, norms.data());
  std::vector<uint8_t> valid = {1, 1, 0};
  std::vector<int64_t> lab(3);
  std::vector<float> dist(3);
  for (AssignTiling t : {AssignTiling{}, AssignTiling{1, 16}}) {
    make_cpu_assigner(t)->assign(x.data(), norms.data(), valid.data(), 3, d, c.data(), k, false, lab.data(), dist.data());
    EXPECT_EQ(lab[0], 3);
    EXPECT_EQ(lab[1], 1);
    EXPECT_EQ(lab[2], -1);
    EXPECT_EQ(dist[0], 0.0f);
    EXPECT_EQ(dist[2], 0.0f);
  }
}

TEST(Assign, InnerProductModeOnUnitVectors) {
  const int64_t n = 500, d = 32, k = 20;
  auto x = randn(n, d, 3), c = randn(k, d, 4);
  for (auto* v : {&x, &c})
    for (size_t i = 0; i < v->size() / d; ++i) {
      double s = 0;
      for (int64_t t = 0; t < d; ++t) s += (*v)[i * d + t] * (*v)[i * d + t];
      for (int64_t t = 0; t < d; ++t) (*v)[i * d + t] /= float(std::sqrt(s));
    }
  std::vector<int64_t> ref_lab, lab(n);
  std::vector<double> ref_dist;
  std::vector<float> dist(n);
  brute(x, c, d, true, ref_lab, ref_dist);
  make_cpu_assigner()->assign(x.data(), nullptr, nullptr, n, d, c.data(), k, true, lab.data(), dist.data());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(lab[i], ref_lab[i]);
    EXPECT_NEAR(dist[i], ref_dist[i], 1e-5);
  }
}
